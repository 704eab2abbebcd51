"""Binlog positions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class BinlogPosition:
    """A point in the source's binary log: file name and byte offset (``log_pos``)."""

    binlog_file: str
    log_pos: int

    def __str__(self) -> str:
        return f"{self.binlog_file}:{self.log_pos}"

    @classmethod
    def parse(cls, text: str) -> BinlogPosition:
        binlog_file, _, log_pos = text.rpartition(":")
        return cls(binlog_file, int(log_pos))
