"""Where CDC starts: DMS's CdcStartPosition and CdcStartTime as a user gives them, and the start a task picks.

A start is a binlog position, or (MariaDB) a GTID position given as text; a start time is turned into the
position after the last transaction committed before it (capture/time_search.py reads the binlog for it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.source.flavor import MARIADB


def parse_start_position(text: str) -> BinlogPosition | str:
    """DMS's CdcStartPosition: 'mysql-bin.000003:1234' (binlog file and log_pos), or a MariaDB GTID
    position such as '0-1-100' (returned as text)."""
    if MARIADB.is_gtid_set(text.strip()):
        return text.strip()
    file, _, pos = text.rpartition(":")
    if not file or not pos.isdigit():
        raise BinlakeError(
            f"--cdc-start-position {text!r} is not a binlog position",
            fix="use FILE:POSITION (mysql-bin.000003:4) or a MariaDB GTID position (0-1-100)",
        )
    return BinlogPosition(file, int(pos))


def parse_start_time(text: str) -> int:
    """DMS's CdcStartTime: seconds since the epoch, or an ISO 8601 time (UTC when it has no zone)."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BinlakeError(
            f"--cdc-start-time {text!r} is not a time", fix="use seconds since the epoch or 2026-01-16T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())
