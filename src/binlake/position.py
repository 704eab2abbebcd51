"""Binlog positions."""

from __future__ import annotations

from dataclasses import dataclass

# Parquet key-value metadata of a CDC file: [[rows so far, binlog file, log_pos], ...] at each COMMIT.
COMMITS_METADATA = "binlake.commits"


@dataclass(frozen=True)
class BinlogPosition:
    """A point in the source's binary log: file name and byte offset (``log_pos``).

    Positions order by file sequence number, then offset: the server numbers binlog files
    ``mysql-bin.000001`` upwards and widens the suffix past ``999999`` (``mysql-bin.1000000``), so the
    names cannot be compared as strings.
    """

    binlog_file: str
    log_pos: int

    def __str__(self) -> str:
        return f"{self.binlog_file}:{self.log_pos}"

    @classmethod
    def parse(cls, text: str) -> BinlogPosition:
        binlog_file, _, log_pos = text.rpartition(":")
        return cls(binlog_file, int(log_pos))

    @property
    def _order(self) -> tuple[str, int, str, int]:
        stem, _, suffix = self.binlog_file.rpartition(".")
        if suffix.isdigit():
            return stem, int(suffix), "", self.log_pos
        return self.binlog_file, -1, "", self.log_pos

    def __lt__(self, other: BinlogPosition) -> bool:
        return self._order < other._order

    def __le__(self, other: BinlogPosition) -> bool:
        return self._order <= other._order

    def __gt__(self, other: BinlogPosition) -> bool:
        return self._order > other._order

    def __ge__(self, other: BinlogPosition) -> bool:
        return self._order >= other._order
