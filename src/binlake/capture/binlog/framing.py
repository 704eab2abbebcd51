"""The dump stream's bytes → one record per event the reader acts on, a socket read at a time.

The CDC loop spent most of its time on per-event Python before any row was decoded: a packet read, a header
object, a CRC slice, a position object per event. A ``Scanner`` takes whatever bytes the socket had (many
packets, the last one maybe cut) and returns records, compact tuples ``(event_type, log_pos, timestamp, a, body,
count)``:

* rows event: ``a`` = table id, ``body`` = the row images (from the first image's null bitmap), ``count`` = the
  column count when every image has every column (binlog_row_image=FULL), else -1;
* TABLE_MAP_EVENT: ``a`` = table id, ``body`` = the event body. A table map whose bytes equal the last one of the
  same table id is dropped: the server writes one before every rows event, and the reader's answer for it is
  already known (``reset`` after QUERY, ROTATE and FORMAT_DESCRIPTION events, which may change it);
* any other event: ``a`` = server id, ``body`` = the event body (without its CRC);
* ``SPECIAL``: ``body`` = the whole event (header and CRC) that fails its checksum or whose rows header does not
  parse: the reader handles it alone (and stops with its cause); scanning pauses after it;
* ``PACKET``: ``body`` = a dump packet that is not an event (EOF, error), for the stream to act on.

Checksums are verified here (CRC32 of every event when the file's format description says so). The compiled
twin is ``binlake.native._rows.Scanner`` (native/frames.c); both return the same records (tests/test_framing.py).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from binlake.capture.binlog import events as ev

SPECIAL = -1
PACKET = -2
MAX_PACKET = 0xFFFFFF
_HEADER = ev.HEADER
_MAP_CACHE_LIMIT = 10_000

Record = tuple[int, int, int, int, bytes, int]


def _crc_ok(event: bytes) -> bool:
    return len(event) >= ev.HEADER_SIZE + 4 and zlib.crc32(memoryview(event)[:-4]) == int.from_bytes(
        event[-4:], "little"
    )


class Scanner:
    """Pure-Python twin of the compiled scanner (the fallback and the oracle)."""

    def __init__(self, checksum: bool) -> None:
        self.checksum = checksum  # whether the current file's events end with a CRC32
        self.rows_post_header = 8
        self.table_map_post_header = 8
        self._maps: dict[int, bytes] = {}
        self._pending = b""
        self.wanted = 4  # bytes still missing for the next whole packet (0: feed again before reading)

    def reset(self) -> None:
        self._maps.clear()

    def feed(self, chunk: bytes) -> list[Record]:
        """Records of the whole packets in what is held plus ``chunk``; a cut packet waits for the next chunk."""
        data = self._pending + chunk if self._pending else bytes(chunk)
        out: list[Record] = []
        pos, size = 0, len(data)
        self.wanted = 0
        while size - pos >= 4:
            length = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
            if length == MAX_PACKET:  # 16 MB - 1: the payload goes on in the next packets
                parts, at, complete = [], pos, False
                while size - at >= 4:
                    part = data[at] | data[at + 1] << 8 | data[at + 2] << 16
                    if size - at - 4 < part:
                        self.wanted = part + 4 - (size - at)
                        break
                    parts.append(data[at + 4 : at + 4 + part])
                    at += 4 + part
                    if part != MAX_PACKET:
                        complete = True
                        break
                if not complete:
                    self.wanted = self.wanted or 4 - (size - at)
                    break
                payload = b"".join(parts)
                next_pos = at
            else:
                if size - pos - 4 < length:
                    self.wanted = length + 4 - (size - pos)
                    break
                payload = data[pos + 4 : pos + 4 + length]
                next_pos = pos + 4 + length
            pos = next_pos
            if not payload or payload[0] != 0:
                out.append((PACKET, 0, 0, 0, payload, 0))
                break
            record = self._event(payload[1:])
            if record is not None:
                out.append(record)
                if record[0] == SPECIAL:
                    break
        if not self.wanted:
            self.wanted = 4 - (size - pos) if size - pos < 4 else 0
        self._pending = data[pos:]
        return out

    def _event(self, event: bytes) -> Record | None:
        if len(event) < ev.HEADER_SIZE:
            return (SPECIAL, 0, 0, 0, event, 0)
        timestamp, kind, server_id, _size, log_pos, _flags = _HEADER.unpack_from(event, 0)
        if kind in (ev.ROTATE_EVENT, ev.HEARTBEAT_EVENT):
            body = event[ev.HEADER_SIZE : -4] if _crc_ok(event) else event[ev.HEADER_SIZE :]
            if kind == ev.ROTATE_EVENT:
                self._maps.clear()
            return (kind, log_pos, timestamp, server_id, body, 0)
        if kind == ev.FORMAT_DESCRIPTION_EVENT:
            if not _crc_ok(event) or len(event) < ev.HEADER_SIZE + 57 + 5:
                return (SPECIAL, log_pos, timestamp, 0, event, 0)
            self.checksum = event[-5] != ev.CHECKSUM_OFF
            body = event[ev.HEADER_SIZE : -5]
            lengths = body[57:]
            if len(lengths) >= ev.TABLE_MAP_EVENT:
                self.table_map_post_header = lengths[ev.TABLE_MAP_EVENT - 1]
            if len(lengths) >= ev.WRITE_ROWS_V1:
                self.rows_post_header = lengths[ev.WRITE_ROWS_V1 - 1]
            self._maps.clear()
            return (kind, log_pos, timestamp, server_id, body, 0)
        if self.checksum:
            if not _crc_ok(event):
                return (SPECIAL, log_pos, timestamp, 0, event, 0)
            body = event[ev.HEADER_SIZE : -4]
        else:
            body = event[ev.HEADER_SIZE :]
        if kind in ev.ROWS_EVENTS:
            return self._rows(kind, log_pos, timestamp, body, event)
        if kind == ev.TABLE_MAP_EVENT:
            if len(body) < 8:
                return (SPECIAL, log_pos, timestamp, 0, event, 0)
            table_id = _table_id(body, self.table_map_post_header)
            if self._maps.get(table_id) == body:
                return None
            if len(self._maps) >= _MAP_CACHE_LIMIT:
                self._maps.clear()
            self._maps[table_id] = body
            return (kind, log_pos, timestamp, table_id, body, 0)
        if kind == ev.QUERY_EVENT:
            self._maps.clear()  # a DDL may change what a table's map means (its columns' data types)
        return (kind, log_pos, timestamp, server_id, body, 0)

    def _rows(self, kind: int, log_pos: int, timestamp: int, body: bytes, event: bytes) -> Record:
        post = self.rows_post_header
        if len(body) < post or post < 6:
            return (SPECIAL, log_pos, timestamp, 0, event, 0)
        try:
            table_id = _table_id(body, post)
            pos = post
            if kind in ev.ROWS_V2:
                pos += struct.unpack_from("<H", body, pos)[0]
            if body[pos] > 0xFD or body[pos] == 0xFB:  # 2^24 columns or more, or not a count: no table
                raise IndexError("column count")
            count, pos = ev.packed_int(body, pos)
            bitmap_bytes = (count + 7) // 8
            full = (1 << count) - 1
            whole = True
            for _ in range(2 if ev.ROWS_EVENTS[kind] == "U" else 1):
                if pos + bitmap_bytes > len(body):
                    raise IndexError("bitmap")
                whole = whole and int.from_bytes(body[pos : pos + bitmap_bytes], "little") == full
                pos += bitmap_bytes
        except (IndexError, struct.error):
            return (SPECIAL, log_pos, timestamp, 0, event, 0)
        return (kind, log_pos, timestamp, table_id, body[pos:], count if whole else -1)


def _table_id(body: bytes, post_header: int) -> int:
    if post_header == 6:
        return int(struct.unpack_from("<I", body, 0)[0])
    return int.from_bytes(body[:6], "little")


def scanner(checksum: bool) -> Any:
    """The compiled scanner, or its Python twin (BINLAKE_PURE_PYTHON=1, or no extension)."""
    from binlake import native

    module = native.extension("_rows")
    if module is not None and hasattr(module, "Scanner"):
        return module.Scanner(checksum)
    return Scanner(checksum)
