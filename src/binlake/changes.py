"""Committed row changes gathered per target table, turned into Arrow record batches in commit order.

Nothing here knows about files or positions: a ``ChangeBuffer`` only ever holds whole transactions
(the CDC loop adds a transaction at its COMMIT), so whatever it is cut into holds whole transactions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from binlake.capture.binlog.builder import ArrowRows, arrow_rows
from binlake.capture.binlog.reader import RowChanges
from binlake.capture.binlog.rows import ColumnSpec, RowDecoder, build_arrays
from binlake.dms_columns import with_dms_columns
from binlake.position import COMMITS_METADATA, BinlogPosition

# Rows of a layout the Python decoder reads, held as tuples until this many, then sealed into Arrow arrays: a
# tuple of Python values weighs several times its data, so pending changes weigh what their Arrow data weighs.
SEAL_ROWS = 4096


@dataclass
class Route:
    """How one source table's binlog rows land: kept columns, their target names, the target folder."""

    schema: str
    table: str
    target_schema: str
    target_table: str
    keep: tuple[int, ...]  # indices of the kept columns in the binlog row
    names: tuple[str, ...]  # their target names
    specs: tuple[ColumnSpec, ...]  # their decoded forms and Arrow types
    primary_key: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def target_key(self) -> list[str]:
        """Primary key columns by target name; empty when there is none or one is removed by a rule."""
        kept = dict(zip(self.keep, self.names, strict=True))
        key = [kept.get(index) for index in self.primary_key]
        return [k for k in key if k is not None] if key and all(key) else []


@dataclass
class TableChanges:
    route: Route
    ops: list[str] = field(default_factory=list)
    commit_times: list[int] = field(default_factory=list)  # seconds since the epoch
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    # (rows so far, commit position) at the end of each transaction: lets a reader cut a file at a position
    commits: list[tuple[int, BinlogPosition]] = field(default_factory=list)
    # Rows already sealed into Arrow: (Op, commit time in microseconds, the kept columns) per SEAL_ROWS rows
    sealed: list[tuple[pa.Array, pa.Array, list[pa.Array]]] = field(default_factory=list)
    sealed_rows: int = 0

    def __len__(self) -> int:
        return self.sealed_rows + len(self.rows)

    def add(self, op: str, commit_time: int, row: tuple[Any, ...]) -> None:
        self.ops.append(op)
        self.commit_times.append(commit_time)
        self.rows.append(row)

    def add_changes(self, changes: RowChanges, commit_time: int, inserts_only: bool, no_deletes: bool) -> int:
        """The event's images as rows (an update keeping its primary key: U of its after image; one changing
        it, or without a key: D of the before image and I of the after image). Returns the images read."""
        rows = changes.rows
        if changes.kind == "I":
            for row in rows:
                self.add("I", commit_time, row)
        elif changes.kind == "D":
            if not (inserts_only or no_deletes):
                for row in rows:
                    self.add("D", commit_time, row)
        elif not inserts_only:
            key = self.route.primary_key
            for i in range(0, len(rows), 2):
                before, after = rows[i], rows[i + 1]
                if not key or any(before[k] != after[k] for k in key):
                    # A key change (without a key, the whole row is the key): the old row is gone, so merging
                    # needs a delete.
                    if not no_deletes:
                        self.add("D", commit_time, before)
                    self.add("I", commit_time, after)
                else:
                    self.add("U", commit_time, after)
        changes.release()
        if len(self.rows) >= SEAL_ROWS:
            self._seal()
        return len(rows)

    def _seal(self) -> None:
        """The rows held as tuples → Arrow arrays (the kept columns only), appended to ``sealed``."""
        if not self.rows:
            return
        columns = list(zip(*self.rows, strict=True))
        arrays = build_arrays(self.route.specs, [columns[i] for i in self.route.keep])
        ops = pa.array(self.ops, pa.string())
        micros = pa.array([t * 1_000_000 for t in self.commit_times], pa.int64())
        self.sealed.append((ops, micros, arrays))
        self.sealed_rows += len(self.rows)
        self.ops, self.commit_times, self.rows = [], [], []

    def end_transaction(self, position: BinlogPosition) -> None:
        count = len(self)
        if self.commits and self.commits[-1][0] == count:
            self.commits[-1] = (count, position)
        elif count:
            self.commits.append((count, position))

    def record_batch(self, op_column: bool, timestamp_column: str, timestamp_kind: str = "string") -> pa.RecordBatch:
        self._seal()
        if self.sealed:
            ops = pa.concat_arrays([part[0] for part in self.sealed])
            micros = pa.concat_arrays([part[1] for part in self.sealed])
            arrays = [pa.concat_arrays([part[2][n] for part in self.sealed]) for n in range(len(self.route.keep))]
        else:
            ops, micros = pa.array([], pa.string()), pa.array([], pa.int64())
            arrays = build_arrays(self.route.specs, [[] for _ in self.route.keep])
        batch = with_dms_columns(
            arrays, self.route.names, ops if op_column else None, timestamp_column, micros, timestamp_kind
        )
        commits = [[end, position.binlog_file, position.log_pos] for end, position in self.commits]
        return batch.replace_schema_metadata({COMMITS_METADATA: json.dumps(commits, separators=(",", ":"))})


class ArrowTableChanges(TableChanges):
    """A TableChanges whose rows the compiled decoder holds as Arrow buffers (capture/binlog/builder.py)."""

    def __init__(self, route: Route, builder: ArrowRows) -> None:
        super().__init__(route)
        self.builder = builder

    def __len__(self) -> int:
        return self.builder.rows

    def add_changes(self, changes: RowChanges, commit_time: int, inserts_only: bool, no_deletes: bool) -> int:
        return self.builder.append(changes, commit_time * 1_000_000, inserts_only, no_deletes)

    def record_batch(self, op_column: bool, timestamp_column: str, timestamp_kind: str = "string") -> pa.RecordBatch:
        ops, micros, arrays = self.builder.finish()
        batch = with_dms_columns(
            arrays, self.route.names, ops if op_column else None, timestamp_column, micros, timestamp_kind
        )
        commits = [[end, position.binlog_file, position.log_pos] for end, position in self.commits]
        return batch.replace_schema_metadata({COMMITS_METADATA: json.dumps(commits, separators=(",", ":"))})


class ChangeBuffer:
    """Changes of committed transactions not yet written, per (route, layout)."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str, int], TableChanges] = {}
        self.bytes = 0
        self.changes = 0
        self.first_change_at: float | None = None

    def table(self, route: Route, decoder: RowDecoder) -> TableChanges:
        """The pending rows of the route's table in the decoder's layout: as Arrow buffers when the compiled
        decoder reads the layout, else as tuples."""
        key = (route.schema, route.table, id(decoder))
        pending = self.tables.get(key)
        if pending is None:
            builder = arrow_rows(decoder, route.keep, route.primary_key)
            pending = ArrowTableChanges(route, builder) if builder is not None else TableChanges(route)
            self.tables[key] = pending
        return pending

    def __bool__(self) -> bool:
        return bool(self.tables)

    def clear(self) -> None:
        self.tables.clear()
        self.bytes = 0
        self.changes = 0
        self.first_change_at = None
