"""Position search by time (DMS's CdcStartTime): read the source's binlogs from the oldest file until a
transaction committed at or after the time."""

from __future__ import annotations

from binlake.capture.binlog.charsets import load_codec
from binlake.capture.binlog.reader import BinlogReader, Commit, Statement
from binlake.capture.binlog.stream import BinlogStream
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress
from binlake.source.server import Source


def position_at_time(address: SourceAddress, start_time: int) -> BinlogPosition:
    """The position after the last transaction committed before ``start_time``, read from the binlog."""
    source = Source(address)
    files = source.binary_logs()
    with source.connection() as conn:
        codec = load_codec(conn)
    if not files:
        raise BinlakeError(f"binlog is off on {address.host}:{address.port}", fix="set log_bin=ON and restart")
    start = BinlogPosition(files[0], 4)
    stream = BinlogStream(address, start, 0, non_blocking=True)
    found = start
    try:
        for item in BinlogReader(stream, codec, lambda schema, table: False):
            if isinstance(item, (Commit, Statement)):
                if item.timestamp >= start_time:
                    return found
                found = item.position
    finally:
        stream.close()
    return found
