"""From raw events to what CDC acts on: row changes, commits, DDL statements, each with its position.

Positions are those right after the event (``log_pos``), in the file named by the last ROTATE. A commit's
position is where a resumed stream starts the next transaction, never mid-transaction.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from binlake.capture.binlog import events as ev
from binlake.capture.binlog import framing
from binlake.capture.binlog.charsets import Codec
from binlake.capture.binlog.rows import RowDecoder, needs_data_types
from binlake.capture.binlog.stream import BinlogStream
from binlake.capture.ddl import DdlSyntaxError, Token, tokenize
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition


class RowChanges:
    """One rows event: images of one table; for updates, before and after images alternate.

    The images stay as the event's bytes until ``rows`` is first read, so an open transaction weighs what
    its events weigh (and can be spilled to disk as those bytes).
    """

    __slots__ = ("_position", "_rows", "binlog_file", "data", "decoder", "kind", "log_pos", "size")

    def __init__(
        self,
        decoder: RowDecoder,
        kind: str,
        data: bytes,
        position: BinlogPosition | None,
        binlog_file: str = "",
        log_pos: int = 0,
    ) -> None:
        self.decoder = decoder
        self.kind = kind  # I, U or D
        self.data = data  # the row images, from the first image's null bitmap to the end of the event
        # Where the event ends: a BinlogPosition, or its file and log_pos (the reader's hot path makes no object
        # per event; ``position`` makes one when asked)
        self._position = position
        self.binlog_file = position.binlog_file if position is not None else binlog_file
        self.log_pos = position.log_pos if position is not None else log_pos
        self.size = len(data)  # what the changes weigh for CdcMinFileSize and the memory budget
        self._rows: list[tuple[Any, ...]] | None = None

    @property
    def position(self) -> BinlogPosition:
        if self._position is None:
            self._position = BinlogPosition(self.binlog_file, self.log_pos)
        return self._position

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            try:
                self._rows = self.decoder.decode_rows(self.data, 0, self.kind)
            except BinlakeError as exc:
                if "binlog position" in exc.message:
                    raise
                raise BinlakeError(f"{exc.message} at binlog position {self.position}", fix=exc.fix) from None
            except Exception as exc:  # a layout the generated decoder cannot read: stop with where it is
                table_map = self.decoder.table_map
                raise BinlakeError(
                    f"cannot decode the rows of {table_map.schema}.{table_map.table} at binlog position "
                    f"{self.position}: {type(exc).__name__}: {exc}",
                    fix="report this as a binlake bug with the table's SHOW CREATE TABLE; "
                    "exclude the table from the selection rules to go on without it",
                ) from exc
        return self._rows

    def release(self) -> None:
        """Forget the decoded images (the bytes stay)."""
        self._rows = None


@dataclass
class Begin:
    """BEGIN or XA START: a transaction opens. ``start`` is where a reader resumes to read it again."""

    start: BinlogPosition
    xid: str | None  # the XA transaction's identifier (as the binlog spells it), None for BEGIN


@dataclass
class Commit:
    position: BinlogPosition
    timestamp: int  # seconds since the epoch, from the commit event
    gtid: str | None


@dataclass
class Rollback:
    """The open transaction was rolled back (ROLLBACK ends its group): none of its rows happened."""

    position: BinlogPosition


@dataclass
class Savepoint:
    name: str  # folded to lower case: MariaDB compares savepoint names without case


@dataclass
class RollbackToSavepoint:
    """The rows since the latest SAVEPOINT ``name`` of the open transaction were rolled back."""

    name: str


@dataclass
class XaPrepare:
    """XA PREPARE: the open XA transaction's group ends; its rows wait for XA COMMIT or XA ROLLBACK."""

    position: BinlogPosition


@dataclass
class XaOutcome:
    """XA COMMIT or XA ROLLBACK of a prepared transaction, logged as a group of its own."""

    xid: str
    committed: bool
    position: BinlogPosition
    timestamp: int
    gtid: str | None


@dataclass
class Statement:
    """A DDL (or other non-transactional statement); it commits implicitly."""

    schema: str
    sql: str
    position: BinlogPosition
    timestamp: int
    gtid: str | None


@dataclass
class Heartbeat:
    position: BinlogPosition
    timestamp: int


Item = (
    RowChanges
    | Begin
    | Commit
    | Rollback
    | Savepoint
    | RollbackToSavepoint
    | XaPrepare
    | XaOutcome
    | Statement
    | Heartbeat
)


# The first word of a statement that changes rows: logged as a statement, its rows are not in the binlog.
_DML = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD"})
# MariaDB GTID event flags (sql/log_event.h)
_FL_GROUP_COMMIT_ID, _FL_PREPARED_XA = 2, 64


def _xid(tokens: list[Token]) -> str:
    """The XA identifier as one canonical text, x'67',x'',1, as the GTID event of its XA PREPARE spells it."""
    parts = []
    for token in tokens:
        if token.kind == "word" and token.text.upper() in ("ONE", "SUSPEND", "JOIN", "RESUME", "FOR"):
            break
        parts.append(f"'{token.text}'" if token.kind in ("string", "dstring") else token.text)
    return "".join(parts).lower()


def _prepared_xid(body: bytes) -> str | None:
    """The XA identifier a MariaDB GTID event carries with FL_PREPARED_XA."""
    flags = body[12]
    if not flags & _FL_PREPARED_XA:
        return None
    pos = 13 + (8 if flags & _FL_GROUP_COMMIT_ID else 0)
    format_id, gtrid_length, bqual_length = struct.unpack_from("<iBB", body, pos)
    data = body[pos + 6 : pos + 6 + gtrid_length + bqual_length]
    return f"x'{data[:gtrid_length].hex()}',x'{data[gtrid_length:].hex()}',{format_id}"


def _savepoint_name(tokens: list[Token]) -> str:
    """MariaDB compares savepoint names without case."""
    return tokens[0].text.lower() if tokens else ""


def _has_crc(data: bytes) -> bool:
    return len(data) >= ev.HEADER_SIZE + 4 and zlib.crc32(data[:-4]) == struct.unpack_from("<I", data, len(data) - 4)[0]


def _verify_crc(data: bytes, binlog_file: str, log_pos: int) -> None:
    if not _has_crc(data):
        raise BinlakeError(
            f"the binlog event ending at {binlog_file}:{log_pos} (type {data[4]}, {len(data)} bytes) fails its "
            "CRC32 checksum",
            fix="the binlog is damaged or was changed in transit; check the source's binlog with "
            "mariadb-binlog --verify-binlog-checksum, then reload the task's tables (reload-target)",
        )


def _lacks_columns(decoder: RowDecoder) -> BinlakeError:
    return BinlakeError(
        f"rows of {decoder.table_map.schema}.{decoder.table_map.table} lack columns in the binlog",
        fix="SET GLOBAL binlog_row_image = FULL on the source",
    )


class BinlogReader:
    """Turns a stream of raw events into items; ``wants(schema, table)`` skips unselected tables cheaply."""

    def __init__(
        self,
        stream: BinlogStream,
        codec: Codec,
        wants: Callable[[str, str], bool],
        data_types: Callable[[str, str], Mapping[str, str]] | None = None,
    ) -> None:
        self.stream = stream
        self.binlog_file = stream.start.binlog_file
        self.codec = codec
        self.wants = wants
        self.data_types = data_types
        self.table_map_post_header = 8
        self.rows_post_header = 8
        self._table_maps: dict[int, RowDecoder | None] = {}
        self._decoders: dict[tuple[object, ...], RowDecoder] = {}
        # Table maps seen before, by their bytes: the server writes one before every rows event, so parsing
        # each again (optional metadata: names, charsets, ENUM members) was a third of the CDC loop's time.
        self._by_body: dict[bytes, RowDecoder | None] = {}
        self._gtid: str | None = None
        self.last_timestamp = 0

    def __iter__(self) -> Iterator[Item]:
        # Records, not packets: the scanner (compiled, or its Python twin) frames the socket's bytes, checks CRCs,
        # finds rows events' images and drops repeated table maps, so this loop runs per record, not per byte.
        previous_end = self.stream.start.log_pos
        group_start = BinlogPosition(self.binlog_file, previous_end)
        table_maps = self._table_maps
        rows_kinds = ev.ROWS_EVENTS
        for records in self.stream.records(framing.scanner):
            for kind, log_pos, timestamp, a, body, count in records:
                if timestamp:
                    self.last_timestamp = timestamp
                if kind in rows_kinds:  # the common case first
                    decoder = table_maps.get(a)
                    if decoder is not None:
                        if count != decoder.table_map.column_count:
                            raise _lacks_columns(decoder)
                        yield RowChanges(decoder, rows_kinds[kind], body, None, self.binlog_file, log_pos)
                    if log_pos:
                        previous_end = log_pos
                    continue
                if kind == ev.ROTATE_EVENT:
                    self.binlog_file, previous_end = ev.parse_rotate(body)
                    continue
                position = BinlogPosition(self.binlog_file, log_pos)
                if kind == ev.TABLE_MAP_EVENT:
                    self._table_map(body)
                elif kind == ev.XID_EVENT:
                    yield Commit(position, timestamp, self._gtid)
                    self._gtid = None
                elif kind == ev.QUERY_EVENT:
                    schema, sql = ev.parse_query(body)
                    item = self._query(schema, sql, position, timestamp, group_start)
                    if item is not None:
                        yield item
                elif kind == ev.XA_PREPARE_LOG_EVENT:
                    yield XaPrepare(position)
                    self._gtid = None
                elif kind == ev.GTID_EVENT_MARIADB:
                    # MariaDB logs no BEGIN: a GTID event without FL_STANDALONE opens the transaction (with
                    # FL_PREPARED_XA, the XA transaction that XA PREPARE will end).
                    group_start = BinlogPosition(self.binlog_file, previous_end)
                    self._gtid, standalone = ev.parse_mariadb_gtid(body, a)
                    if not standalone:
                        yield Begin(group_start, _prepared_xid(body))
                elif kind == ev.GTID_EVENT_MYSQL:
                    group_start = BinlogPosition(self.binlog_file, previous_end)
                    self._gtid = ev.parse_mysql_gtid(body)
                elif kind == ev.FORMAT_DESCRIPTION_EVENT:
                    self._format_description(body)
                elif kind == ev.HEARTBEAT_EVENT:
                    # A heartbeat's log_pos is the end of the binlog so far; it carries the file name.
                    name = body.decode(errors="replace").rstrip("\x00")
                    if name:
                        self.binlog_file = name
                    yield Heartbeat(BinlogPosition(self.binlog_file, log_pos), self.last_timestamp)
                elif kind == framing.SPECIAL:
                    changes = self._special(body)
                    if changes is not None:
                        yield changes
                elif kind not in ev.IGNORABLE_EVENTS:
                    raise ev.unsupported_event(kind, position)
                if log_pos:
                    previous_end = log_pos

    def _special(self, event: bytes) -> RowChanges | None:
        """An event the scanner leaves to Python: one failing its CRC32 (stop, saying where), or a rows event
        whose header does not parse (read here as before, so an unselected table's stays skipped)."""
        header = ev.parse_header(event)
        kind = header.event_type
        if kind == ev.FORMAT_DESCRIPTION_EVENT or self.stream.scanner.checksum:
            _verify_crc(event, self.binlog_file, header.log_pos)
        body = event[ev.HEADER_SIZE : -4] if self.stream.scanner.checksum else event[ev.HEADER_SIZE :]
        if kind in ev.ROWS_EVENTS:
            return self._rows(kind, body, BinlogPosition(self.binlog_file, header.log_pos))
        raise BinlakeError(
            f"cannot parse the binlog event ending at {self.binlog_file}:{header.log_pos} (type {kind}, "
            f"{len(event)} bytes)",
            fix="report this as a binlake bug with the source's version",
        )

    def _query(
        self, schema: str, sql: str, position: BinlogPosition, timestamp: int, start: BinlogPosition
    ) -> Item | None:
        """A QUERY event: transaction control, or a statement that commits on its own."""
        try:
            tokens = list(islice(tokenize(sql), 32))
        except DdlSyntaxError:
            tokens = []
        words = [t.text.upper() if t.kind == "word" else "" for t in tokens[:4]] + ["", "", "", ""]
        first, second = words[0], words[1]
        if first == "BEGIN" or (first, second) == ("START", "TRANSACTION"):
            return Begin(start, None)
        if first == "SAVEPOINT":
            return Savepoint(_savepoint_name(tokens[1:]))
        if first == "RELEASE":
            return None
        if first == "ROLLBACK" and "TO" in words[1:3]:
            after = words.index("TO") + 1
            return RollbackToSavepoint(_savepoint_name(tokens[after + (words[after] == "SAVEPOINT") :]))
        if first == "XA" and second in ("START", "BEGIN"):
            return Begin(start, _xid(tokens[2:]))
        if first == "XA" and second == "END":
            return None
        if first in _DML:
            raise BinlakeError(
                f"a statement-based change at binlog position {position} ({sql.strip()[:80]!r}): the rows it "
                "changed are not in the binlog",
                fix="SET GLOBAL binlog_format=ROW, make sure no session sets binlog_format, then reload the "
                "task's tables (--start-replication-task-type reload-target)",
            )
        gtid, self._gtid = self._gtid, None
        if first == "COMMIT":
            return Commit(position, timestamp, gtid)
        if first == "ROLLBACK":
            return Rollback(position)
        if first == "XA" and second in ("COMMIT", "ROLLBACK"):
            rest = tokens[2:]
            if [t.text.upper() for t in rest[-2:]] == ["ONE", "PHASE"]:  # ends this group like a COMMIT
                return Commit(position, timestamp, gtid)
            return XaOutcome(_xid(rest), second == "COMMIT", position, timestamp, gtid)
        return Statement(schema, sql, position, timestamp, gtid)

    def _format_description(self, body: bytes) -> None:
        self._by_body.clear()  # a new file: its post-header lengths may differ
        header_length = body[56]
        lengths = body[57:]
        if header_length != ev.HEADER_SIZE:
            raise BinlakeError(f"unsupported binlog event header length {header_length}")
        if len(lengths) >= ev.TABLE_MAP_EVENT:
            self.table_map_post_header = lengths[ev.TABLE_MAP_EVENT - 1]
        if len(lengths) >= ev.WRITE_ROWS_V1:
            self.rows_post_header = lengths[ev.WRITE_ROWS_V1 - 1]

    def _table_map(self, body: bytes) -> None:
        table_id = (
            struct.unpack_from("<I", body, 0)[0]
            if self.table_map_post_header == 6
            else int.from_bytes(body[:6], "little")
        )
        known = self._by_body.get(body, False)
        if known is not False:
            self._table_maps[table_id] = known  # type: ignore[assignment]
            return
        # Decode the table and schema names only; the full map is parsed for selected tables.
        pos = 6 if self.table_map_post_header == 6 else 8
        length = body[pos]
        schema = body[pos + 1 : pos + 1 + length].decode("utf-8")
        pos += length + 2
        length = body[pos]
        table = body[pos + 1 : pos + 1 + length].decode("utf-8")
        if not self.wants(schema, table):
            self._table_maps[table_id] = None
            self._remember(body, None)
            return
        table_map = ev.parse_table_map(body, self.table_map_post_header)
        # MariaDB's UUID/INET4/INET6 look like BINARY(n) in the table map: their types come from the schema.
        types = self.data_types(schema, table) if self.data_types and needs_data_types(table_map) else {}
        signature = (schema, table, table_map.signature(), tuple(sorted(types.items())))
        decoder = self._decoders.get(signature)
        if decoder is None:
            decoder = RowDecoder(table_map, self.codec, types)
            self._decoders[signature] = decoder
        self._table_maps[table_id] = decoder
        if not types:  # a layout read with the schema's types is looked up again: a DDL may change them
            self._remember(body, decoder)

    def _remember(self, body: bytes, decoder: RowDecoder | None) -> None:
        if len(self._by_body) >= 10_000:  # table ids change as tables are reopened: keep it bounded
            self._by_body.clear()
        self._by_body[bytes(body)] = decoder

    def _rows(self, kind: int, body: bytes, position: BinlogPosition) -> RowChanges | None:
        post = self.rows_post_header
        table_id = struct.unpack_from("<I", body, 0)[0] if post == 6 else int.from_bytes(body[:6], "little")
        decoder = self._table_maps.get(table_id)
        if decoder is None:
            return None
        pos = post
        if kind in ev.ROWS_V2:
            extra = struct.unpack_from("<H", body, pos)[0]
            pos += extra
        count, pos = ev.packed_int(body, pos)
        bitmap_bytes = (count + 7) // 8
        images = 2 if ev.ROWS_EVENTS[kind] == "U" else 1
        full = (1 << count) - 1
        for _ in range(images):
            present = int.from_bytes(body[pos : pos + bitmap_bytes], "little")
            if present != full or count != decoder.table_map.column_count:
                raise _lacks_columns(decoder)
            pos += bitmap_bytes
        return RowChanges(decoder, ev.ROWS_EVENTS[kind], body[pos:], position)
