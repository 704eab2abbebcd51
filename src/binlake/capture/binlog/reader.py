"""From raw events to what CDC acts on: row changes, commits, DDL statements, each with its position.

Positions are those right after the event (``log_pos``), in the file named by the last ROTATE. A commit's
position is where a resumed stream starts the next transaction, never mid-transaction.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from binlake.capture.binlog import events as ev
from binlake.capture.binlog.charsets import Codec
from binlake.capture.binlog.rows import RowDecoder, needs_data_types
from binlake.capture.binlog.stream import BinlogStream
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition


@dataclass
class RowChanges:
    """One rows event: images of one table; for updates, before and after images alternate."""

    decoder: RowDecoder
    kind: str  # I, U or D
    rows: list[tuple[Any, ...]]
    position: BinlogPosition
    size: int  # bytes of the event: what the changes weigh for CdcMinFileSize


@dataclass
class Commit:
    position: BinlogPosition
    timestamp: int  # seconds since the epoch, from the commit event
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


Item = RowChanges | Commit | Statement | Heartbeat


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
        self._gtid: str | None = None
        self.last_timestamp = 0

    def __iter__(self) -> Iterator[Item]:
        trailer = -1
        for data in self.stream.events():
            if trailer < 0:  # the stream knows whether events carry a CRC32 once it has connected
                trailer = 4 if self.stream.checksum else 0
            header = ev.parse_header(data)
            kind = header.event_type
            body = data[ev.HEADER_SIZE : len(data) - trailer] if trailer else data[ev.HEADER_SIZE :]
            if header.timestamp:
                self.last_timestamp = header.timestamp
            if kind == ev.ROTATE_EVENT:
                self.binlog_file, _ = ev.parse_rotate(body)
                continue
            position = BinlogPosition(self.binlog_file, header.log_pos)
            if kind in ev.ROWS_EVENTS:
                changes = self._rows(kind, body, position)
                if changes is not None:
                    yield changes
            elif kind == ev.TABLE_MAP_EVENT:
                self._table_map(body)
            elif kind == ev.XID_EVENT:
                yield Commit(position, header.timestamp, self._gtid)
                self._gtid = None
            elif kind == ev.QUERY_EVENT:
                schema, sql = ev.parse_query(body)
                word = sql.lstrip()[:8].upper()
                if word.startswith("BEGIN") or word.startswith("XA START"):
                    continue
                if word.startswith("COMMIT") or word.startswith("XA END"):
                    yield Commit(position, header.timestamp, self._gtid)
                else:
                    yield Statement(schema, sql, position, header.timestamp, self._gtid)
                self._gtid = None
            elif kind == ev.GTID_EVENT_MARIADB:
                self._gtid, _standalone = ev.parse_mariadb_gtid(body, header.server_id)
            elif kind == ev.GTID_EVENT_MYSQL:
                self._gtid = ev.parse_mysql_gtid(body)
            elif kind == ev.FORMAT_DESCRIPTION_EVENT:
                self._format_description(body)
            elif kind == ev.HEARTBEAT_EVENT:
                # A heartbeat's log_pos is the end of the binlog so far; it carries the file name.
                name = body.decode(errors="replace").rstrip("\x00")
                if name:
                    self.binlog_file = name
                yield Heartbeat(BinlogPosition(self.binlog_file, header.log_pos), self.last_timestamp)

    def _format_description(self, body: bytes) -> None:
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
        # Decode the table and schema names only; the full map is parsed for selected tables.
        pos = 6 if self.table_map_post_header == 6 else 8
        length = body[pos]
        schema = body[pos + 1 : pos + 1 + length].decode("utf-8")
        pos += length + 2
        length = body[pos]
        table = body[pos + 1 : pos + 1 + length].decode("utf-8")
        if not self.wants(schema, table):
            self._table_maps[table_id] = None
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
                raise BinlakeError(
                    f"rows of {decoder.table_map.schema}.{decoder.table_map.table} lack columns in the binlog",
                    fix="SET GLOBAL binlog_row_image = FULL on the source",
                )
            pos += bitmap_bytes
        op = ev.ROWS_EVENTS[kind]
        return RowChanges(decoder, op, decoder.decode_rows(body, pos, op), position, len(body))
