"""The row changes of one open transaction: in memory up to a budget, on disk past it.

A transaction's rows events are held as their bytes (decoded only when the transaction commits), so a
transaction weighs what its events weigh; past ``memory_limit`` bytes they go to a spill file in the
task's directory, so a transaction of any size holds a bounded amount of memory. SAVEPOINT marks a place
and ROLLBACK TO SAVEPOINT cuts the transaction back to it, on disk as in memory.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from binlake.capture.binlog.reader import RowChanges
from binlake.capture.binlog.rows import RowDecoder
from binlake.position import BinlogPosition


@dataclass(frozen=True)
class _Mark:
    name: str
    in_memory: int  # changes held in memory at the mark
    spilled_bytes: int  # bytes of the spill file at the mark
    spilled: int  # changes in the spill file at the mark
    size: int


class OpenTransaction:
    """One transaction between BEGIN (or XA START) and its end."""

    def __init__(self, start: BinlogPosition, xid: str | None, spill_dir: Path, memory_limit: int) -> None:
        self.start = start  # where a reader resumes to read this transaction again
        self.xid = xid
        self.spill_dir = spill_dir
        self.memory_limit = memory_limit
        self.size = 0  # bytes of row images held, in memory and on disk
        self._memory: list[RowChanges] = []
        self._memory_size = 0
        self._spill: BinaryIO | None = None
        self._spill_path: Path | None = None
        self._spilled = 0
        self._decoders: dict[int, RowDecoder] = {}
        self._marks: list[_Mark] = []

    def __bool__(self) -> bool:
        return bool(self._memory) or self._spilled > 0

    @property
    def spilled(self) -> bool:
        return self._spilled > 0

    def add(self, changes: RowChanges) -> None:
        self.size += changes.size
        if self._spill is None and self._memory_size + changes.size <= self.memory_limit:
            self._memory.append(changes)
            self._memory_size += changes.size
            return
        spill = self._spill or self._open_spill()
        key = id(changes.decoder)
        self._decoders[key] = changes.decoder
        pickle.dump((key, changes.kind, changes.binlog_file, changes.log_pos, changes.data), spill, protocol=5)
        self._spilled += 1

    def _open_spill(self) -> BinaryIO:
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        name = f"transaction-{self.start.binlog_file}-{self.start.log_pos}-{id(self):x}.spill"
        self._spill_path = self.spill_dir / name
        self._spill = open(self._spill_path, "w+b")  # noqa: SIM115 - lives as long as the transaction
        return self._spill

    def savepoint(self, name: str) -> None:
        spilled_bytes = self._spill.tell() if self._spill is not None else 0
        self._marks.append(_Mark(name, len(self._memory), spilled_bytes, self._spilled, self.size))

    def rollback_to(self, name: str) -> bool:
        """Cut back to the latest SAVEPOINT ``name`` (which stays); False when there is no such savepoint."""
        for index in range(len(self._marks) - 1, -1, -1):
            mark = self._marks[index]
            if mark.name != name:
                continue
            del self._marks[index + 1 :]
            del self._memory[mark.in_memory :]
            self._memory_size = sum(c.size for c in self._memory)
            if self._spill is not None:
                self._spill.truncate(mark.spilled_bytes)
                self._spill.seek(mark.spilled_bytes)
                self._spilled = mark.spilled
            self.size = mark.size
            return True
        return False

    def changes(self) -> Iterator[RowChanges]:
        """Every rows event in order; spilled ones are read back from disk one at a time."""
        yield from self._memory
        if self._spill is None or not self._spilled:
            return
        spill = self._spill
        spill.flush()
        end = spill.tell()
        spill.seek(0)
        while spill.tell() < end:
            key, kind, binlog_file, log_pos, data = pickle.load(spill)
            yield RowChanges(self._decoders[key], kind, data, BinlogPosition(binlog_file, log_pos))
        spill.seek(end)

    def close(self) -> None:
        """Drop everything held, the spill file included."""
        self._memory.clear()
        self._marks.clear()
        self._decoders.clear()
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        if self._spill_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._spill_path.unlink()
            self._spill_path = None
        self._spilled = 0
        self.size = self._memory_size = 0


def remove_spill_files(spill_dir: Path) -> None:
    """Spill files left by a process that ended mid-transaction: the transaction is read again."""
    if spill_dir.is_dir():
        for path in spill_dir.glob("transaction-*.spill"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
