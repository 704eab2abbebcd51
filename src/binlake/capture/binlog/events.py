"""Binlog events: the common header and the events CDC needs, parsed from raw bytes.

Layouts: https://mariadb.com/kb/en/replication-protocol/ and MySQL's
libbinlogevents; the optional metadata of TABLE_MAP_EVENT (binlog_row_metadata=FULL) carries column
names, signedness, character sets and ENUM/SET values, so nothing is read from the live schema.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from binlake.errors import BinlakeError

HEADER = struct.Struct("<IBIIIH")
HEADER_SIZE = 19

QUERY_EVENT = 2
STOP_EVENT = 3
ROTATE_EVENT = 4
FORMAT_DESCRIPTION_EVENT = 15
XID_EVENT = 16
TABLE_MAP_EVENT = 19
WRITE_ROWS_V1 = 23
UPDATE_ROWS_V1 = 24
DELETE_ROWS_V1 = 25
HEARTBEAT_EVENT = 27
GTID_EVENT_MYSQL = 33
WRITE_ROWS_V2 = 30
UPDATE_ROWS_V2 = 31
DELETE_ROWS_V2 = 32
ANNOTATE_ROWS_EVENT = 160
GTID_EVENT_MARIADB = 162
GTID_LIST_EVENT = 163
XA_PREPARE_LOG_EVENT = 38

ROWS_EVENTS = {
    WRITE_ROWS_V1: "I",
    UPDATE_ROWS_V1: "U",
    DELETE_ROWS_V1: "D",
    WRITE_ROWS_V2: "I",
    UPDATE_ROWS_V2: "U",
    DELETE_ROWS_V2: "D",
}
ROWS_V2 = {WRITE_ROWS_V2, UPDATE_ROWS_V2, DELETE_ROWS_V2}

# MariaDB GTID event flags: FL_STANDALONE means no BEGIN/COMMIT around it (a DDL).
MARIADB_GTID_FL_STANDALONE = 1

# Optional metadata field types of TABLE_MAP_EVENT.
META_SIGNEDNESS = 1
META_DEFAULT_CHARSET = 2
META_COLUMN_CHARSET = 3
META_COLUMN_NAME = 4
META_SET_STR_VALUE = 5
META_ENUM_STR_VALUE = 6
META_GEOMETRY_TYPE = 7
META_SIMPLE_PRIMARY_KEY = 8
META_PRIMARY_KEY_WITH_PREFIX = 9
META_ENUM_AND_SET_DEFAULT_CHARSET = 10
META_ENUM_AND_SET_COLUMN_CHARSET = 11


@dataclass(frozen=True)
class EventHeader:
    timestamp: int
    event_type: int
    server_id: int
    event_size: int
    log_pos: int  # position of the next event in the same file
    flags: int


def parse_header(data: bytes) -> EventHeader:
    return EventHeader(*HEADER.unpack_from(data, 0))


def packed_int(data: bytes, pos: int) -> tuple[int, int]:
    """MySQL's length-encoded integer at ``pos``; returns (value, next position)."""
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    if first == 0xFC:
        return struct.unpack_from("<H", data, pos + 1)[0], pos + 3
    if first == 0xFD:
        return int.from_bytes(data[pos + 1 : pos + 4], "little"), pos + 4
    return struct.unpack_from("<Q", data, pos + 1)[0], pos + 9


def parse_rotate(body: bytes) -> tuple[str, int]:
    position = struct.unpack_from("<Q", body, 0)[0]
    return body[8:].decode(), position


def parse_query(body: bytes) -> tuple[str, str]:
    """QUERY_EVENT → (default schema, statement)."""
    _thread, _exec_time, schema_length, _error, status_length = struct.unpack_from("<IIBHH", body, 0)
    pos = 13 + status_length
    schema = body[pos : pos + schema_length].decode("utf-8", errors="replace")
    pos += schema_length + 1
    return schema, body[pos:].decode("utf-8", errors="replace")


def parse_mariadb_gtid(body: bytes, server_id: int) -> tuple[str, bool]:
    """MariaDB GTID_EVENT → ('domain-server-sequence', standalone)."""
    sequence, domain, flags = struct.unpack_from("<QIB", body, 0)
    return f"{domain}-{server_id}-{sequence}", bool(flags & MARIADB_GTID_FL_STANDALONE)


def parse_mysql_gtid(body: bytes) -> str:
    """MySQL GTID_LOG_EVENT → 'uuid:sequence'."""
    sid = body[1:17].hex()
    sequence = struct.unpack_from("<q", body, 17)[0]
    return f"{sid[:8]}-{sid[8:12]}-{sid[12:16]}-{sid[16:20]}-{sid[20:]}:{sequence}"


@dataclass
class TableMap:
    """A TABLE_MAP_EVENT: the row layout of one table as the rows events that follow encode it."""

    table_id: int
    schema: str
    table: str
    column_types: bytes
    column_meta: list[int]
    nullable: list[bool]
    column_names: list[str] = field(default_factory=list)
    unsigned: list[bool] = field(default_factory=list)
    charsets: list[int | None] = field(default_factory=list)  # collation id per column (None: not text)
    # ENUM and SET members as the column's character set encodes them (decoded with the charset in ``charsets``)
    enum_values: dict[int, list[bytes]] = field(default_factory=dict)
    set_values: dict[int, list[bytes]] = field(default_factory=dict)
    primary_key: list[int] = field(default_factory=list)

    @property
    def column_count(self) -> int:
        return len(self.column_types)

    def signature(self) -> tuple[object, ...]:
        """What the decoder depends on: equal signatures decode alike."""
        return (
            self.column_types,
            tuple(self.column_meta),
            tuple(self.column_names),
            tuple(self.unsigned),
            tuple(self.charsets),
            tuple(sorted((k, tuple(v)) for k, v in self.enum_values.items())),
            tuple(sorted((k, tuple(v)) for k, v in self.set_values.items())),
        )


# Column types (include/mysql_com.h enum_field_types).
T_DECIMAL, T_TINY, T_SHORT, T_LONG, T_FLOAT, T_DOUBLE, T_NULL, T_TIMESTAMP = 0, 1, 2, 3, 4, 5, 6, 7
T_LONGLONG, T_INT24, T_DATE, T_TIME, T_DATETIME, T_YEAR, T_NEWDATE, T_VARCHAR = 8, 9, 10, 11, 12, 13, 14, 15
T_BIT, T_TIMESTAMP2, T_DATETIME2, T_TIME2 = 16, 17, 18, 19
# MariaDB's COMPRESSED columns (VARCHAR(n) COMPRESSED, BLOB/TEXT COMPRESSED): binlog-only types.
T_BLOB_COMPRESSED, T_VARCHAR_COMPRESSED = 140, 141
T_JSON, T_NEWDECIMAL, T_ENUM, T_SET = 245, 246, 247, 248
T_TINY_BLOB, T_MEDIUM_BLOB, T_LONG_BLOB, T_BLOB, T_VAR_STRING, T_STRING, T_GEOMETRY = 249, 250, 251, 252, 253, 254, 255

_NUMERIC = {T_TINY, T_SHORT, T_INT24, T_LONG, T_LONGLONG, T_FLOAT, T_DOUBLE, T_NEWDECIMAL, T_DECIMAL, T_YEAR}
_CHARACTER = {
    T_VARCHAR,
    T_VAR_STRING,
    T_STRING,
    T_BLOB,
    T_TINY_BLOB,
    T_MEDIUM_BLOB,
    T_LONG_BLOB,
    T_VARCHAR_COMPRESSED,
    T_BLOB_COMPRESSED,
}


def real_type(column_type: int, meta: int) -> int:
    """STRING columns carry ENUM and SET in their metadata's first byte."""
    if column_type == T_STRING and meta >> 8 in (T_ENUM, T_SET):
        return meta >> 8
    return column_type


def _read_meta(column_types: bytes, data: bytes, pos: int) -> list[int]:
    meta: list[int] = []
    for column_type in column_types:
        if column_type in (
            T_FLOAT,
            T_DOUBLE,
            T_BLOB,
            T_TINY_BLOB,
            T_MEDIUM_BLOB,
            T_LONG_BLOB,
            T_GEOMETRY,
            T_JSON,
            T_BLOB_COMPRESSED,
        ) or column_type in (T_TIMESTAMP2, T_DATETIME2, T_TIME2):
            meta.append(data[pos])
            pos += 1
        elif column_type in (T_VARCHAR, T_VAR_STRING, T_BIT, T_VARCHAR_COMPRESSED):
            meta.append(struct.unpack_from("<H", data, pos)[0])
            pos += 2
        elif column_type in (T_NEWDECIMAL, T_STRING, T_ENUM, T_SET):
            meta.append(data[pos] << 8 | data[pos + 1])  # big-endian: (precision, scale) or (real type, length)
            pos += 2
        else:
            meta.append(0)
    return meta


def _strings(data: bytes, pos: int, end: int) -> tuple[list[bytes], int]:
    count, pos = packed_int(data, pos)
    values = []
    for _ in range(count):
        length, pos = packed_int(data, pos)
        values.append(bytes(data[pos : pos + length]))
        pos += length
    return values, pos


def parse_table_map(body: bytes, post_header_len: int) -> TableMap:
    if post_header_len == 6:
        table_id = struct.unpack_from("<I", body, 0)[0]
        pos = 6
    else:
        table_id = int.from_bytes(body[0:6], "little")
        pos = 8
    length = body[pos]
    schema = body[pos + 1 : pos + 1 + length].decode("utf-8")
    pos += length + 2
    length = body[pos]
    table = body[pos + 1 : pos + 1 + length].decode("utf-8")
    pos += length + 2
    count, pos = packed_int(body, pos)
    column_types = bytes(body[pos : pos + count])
    pos += count
    meta_length, pos = packed_int(body, pos)
    column_meta = _read_meta(column_types, body, pos)
    pos += meta_length
    null_bytes = (count + 7) // 8
    null_bits = int.from_bytes(body[pos : pos + null_bytes], "little")
    pos += null_bytes
    table_map = TableMap(
        table_id, schema, table, column_types, column_meta, [bool(null_bits >> i & 1) for i in range(count)]
    )
    _parse_optional_metadata(table_map, body, pos)
    return table_map


def _parse_optional_metadata(table_map: TableMap, body: bytes, pos: int) -> None:
    types = [real_type(t, m) for t, m in zip(table_map.column_types, table_map.column_meta, strict=True)]
    numeric = [i for i, t in enumerate(types) if t in _NUMERIC]
    # MariaDB lists GEOMETRY columns (collation 63, binary) among the character columns of the charset fields;
    # leaving them out shifts the collation of every text column after a spatial one.
    character = [i for i, t in enumerate(types) if t in _CHARACTER or t == T_GEOMETRY]
    enum_set = [i for i, t in enumerate(types) if t in (T_ENUM, T_SET)]
    enums = [i for i, t in enumerate(types) if t == T_ENUM]
    sets = [i for i, t in enumerate(types) if t == T_SET]
    table_map.unsigned = [False] * table_map.column_count
    table_map.charsets = [None] * table_map.column_count
    end = len(body)
    while pos < end:
        kind = body[pos]
        length, pos = packed_int(body, pos + 1)
        chunk_end = pos + length
        if kind == META_SIGNEDNESS:
            bits = int.from_bytes(body[pos:chunk_end], "big")
            width = length * 8
            for n, column in enumerate(numeric):
                table_map.unsigned[column] = bool(bits >> (width - 1 - n) & 1)
        elif kind in (META_DEFAULT_CHARSET, META_ENUM_AND_SET_DEFAULT_CHARSET):
            columns = character if kind == META_DEFAULT_CHARSET else enum_set
            default, p = packed_int(body, pos)
            chosen = dict.fromkeys(columns, default)
            while p < chunk_end:
                index, p = packed_int(body, p)
                collation, p = packed_int(body, p)
                chosen[columns[index]] = collation
            for column, collation in chosen.items():
                table_map.charsets[column] = collation
        elif kind in (META_COLUMN_CHARSET, META_ENUM_AND_SET_COLUMN_CHARSET):
            columns = character if kind == META_COLUMN_CHARSET else enum_set
            p = pos
            for column in columns:
                collation, p = packed_int(body, p)
                table_map.charsets[column] = collation
        elif kind == META_COLUMN_NAME:
            p = pos
            while p < chunk_end:
                size, p = packed_int(body, p)
                table_map.column_names.append(body[p : p + size].decode("utf-8"))
                p += size
        elif kind in (META_ENUM_STR_VALUE, META_SET_STR_VALUE):
            p = pos
            for column in enums if kind == META_ENUM_STR_VALUE else sets:
                values, p = _strings(body, p, chunk_end)
                (table_map.enum_values if kind == META_ENUM_STR_VALUE else table_map.set_values)[column] = values
        elif kind == META_SIMPLE_PRIMARY_KEY:
            p = pos
            while p < chunk_end:
                index, p = packed_int(body, p)
                table_map.primary_key.append(index)
        elif kind == META_PRIMARY_KEY_WITH_PREFIX:
            p = pos
            while p < chunk_end:
                index, p = packed_int(body, p)
                _prefix, p = packed_int(body, p)
                table_map.primary_key.append(index)
        pos = chunk_end


# The byte before a FORMAT_DESCRIPTION_EVENT's CRC: the checksum algorithm of that file's events.
CHECKSUM_OFF = 0

# Events that carry no row change binlake needs (statement-replication context, markers, MySQL's
# bookkeeping); any other type it does not handle stops the task (invariant: unknown means stop).
IGNORABLE_EVENTS = frozenset(
    {
        STOP_EVENT,
        5,  # INTVAR_EVENT
        13,  # RAND_EVENT
        14,  # USER_VAR_EVENT
        28,  # IGNORABLE_EVENT
        29,  # ROWS_QUERY_EVENT
        34,  # ANONYMOUS_GTID_EVENT
        35,  # PREVIOUS_GTIDS_EVENT
        36,  # TRANSACTION_CONTEXT_EVENT
        37,  # VIEW_CHANGE_EVENT
        41,  # HEARTBEAT_LOG_EVENT_V2
        ANNOTATE_ROWS_EVENT,
        161,  # BINLOG_CHECKPOINT_EVENT
        GTID_LIST_EVENT,
        164,  # START_ENCRYPTION_EVENT (the server decrypts what it sends)
    }
)

_UNSUPPORTED = {
    26: (
        "an INCIDENT event: the source lost changes it could not log (for example a failed non-transactional "
        "statement)",
        "reload the task's tables (--start-replication-task-type reload-target)",
    ),
    39: (
        "a MySQL partial JSON update (binlog_row_value_options=PARTIAL_JSON)",
        "SET GLOBAL binlog_row_value_options=''",
    ),
    40: (
        "a MySQL compressed transaction (binlog_transaction_compression=ON)",
        "SET GLOBAL binlog_transaction_compression=OFF",
    ),
}
for _code in (165, 166, 167, 168, 169, 170, 171):
    _UNSUPPORTED[_code] = (
        "a compressed event (log_bin_compress=ON)",
        "SET GLOBAL log_bin_compress=OFF on the source, then reload the task's tables (reload-target)",
    )
for _code in (6, 8, 9, 10, 11, 12, 17, 18):
    _UNSUPPORTED[_code] = (
        "a statement-based LOAD DATA",
        "SET GLOBAL binlog_format=ROW, then reload the task's tables (reload-target)",
    )


def unsupported_event(event_type: int, position: object) -> BinlakeError:
    """The one-line stop for an event binlake cannot turn into row changes."""
    what, fix = _UNSUPPORTED.get(
        event_type,
        (
            f"binlog event type {event_type}, which binlake does not know",
            "report it as a binlake bug with the source's version",
        ),
    )
    return BinlakeError(f"cannot replicate past binlog position {position}: {what}", fix=fix)
