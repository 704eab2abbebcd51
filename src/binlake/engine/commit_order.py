"""The commit-order column (S3 setting ``CdcCommitOrderColumnName``): an explicit order of every CDC row.

Engines that scale out (Spark, Trino, Athena) define no row order inside a file, and DMS's file names
order changes only file by file. With the setting on, every CDC row carries a string that sorts in commit
order across files, restarts and reloads:

    <binlog file number, 10 digits>:<commit log_pos, 10 digits>:<row index in the transaction, 10 digits>
    0000000003:0000004711:0000000000

The binlog file number and the ``log_pos`` of the transaction's COMMIT (its XID event or XA COMMIT) order
transactions as the server committed them; the row's index among the transaction's rows of that table
orders the changes inside one transaction. Fixed-width digits make string order the numeric order in every
engine. LOAD files do not carry the column: a reader takes its absence (NULL) as before every change.

Rows of the transaction being written when a file is cut mid-transaction (a transaction larger than the
change buffer) belong to the commit being read (``open_commit``); their indices continue in the next file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pyarrow as pa

from binlake.errors import BinlakeError
from binlake.position import COMMITS_METADATA, BinlogPosition

WIDTH = 10


def order_value(position: BinlogPosition, index: int) -> str:
    """The column's value for the ``index``-th row (from 0) of the transaction committed at ``position``."""
    suffix = position.binlog_file.rpartition(".")[2]
    number = int(suffix) if suffix.isdigit() else 0
    return f"{number:0{WIDTH}d}:{position.log_pos:0{WIDTH}d}:{index:0{WIDTH}d}"


def order_field(name: str) -> pa.Field:
    return pa.field(name, pa.string(), nullable=False)


def check_columns(column: str, names: Iterable[str], table: tuple[str, str]) -> None:
    """Refuse a table that has a column of the commit-order column's name: its rows could not carry both."""
    if column in names:
        raise BinlakeError(
            f"CdcCommitOrderColumnName {column!r} is also a column of {table[0]}.{table[1]}",
            fix="choose another CdcCommitOrderColumnName on the target endpoint",
        )


class CommitOrder:
    """Adds the commit-order column to the CDC record batches of one task, as they are written."""

    def __init__(self, column: str, timestamp_column: str = "") -> None:
        self.column = column
        # The column goes after Op and the TimestampColumnName column, DMS's columns in front of the table's.
        self.at = 2 if timestamp_column else 1
        # Per target table: the commit being read and its rows already written, when a file ended inside it.
        self._carried: dict[tuple[str, str], tuple[BinlogPosition, int]] = {}

    def stamp(
        self, batch: pa.RecordBatch, table: tuple[str, str], open_commit: BinlogPosition | None
    ) -> pa.RecordBatch:
        """``batch`` (a CDC batch with its ``binlake.commits`` metadata) with the commit-order column."""
        check_columns(self.column, batch.schema.names, table)
        metadata = batch.schema.metadata or {}
        segments = [
            (end, BinlogPosition(f, pos)) for end, f, pos in json.loads(metadata.get(COMMITS_METADATA.encode(), b"[]"))
        ]
        open_rows = batch.num_rows - (segments[-1][0] if segments else 0)
        if open_rows:
            assert open_commit is not None, "CDC rows after the last COMMIT with no commit being read"
            segments.append((batch.num_rows, open_commit))
        carried = self._carried.pop(table, None)
        values: list[str] = []
        start = 0
        for end, position in segments:
            first = carried[1] if start == 0 and carried is not None and carried[0] == position else 0
            values.extend(order_value(position, first + i) for i in range(end - start))
            start = end
        if open_rows:
            # The file ends inside this transaction: its next rows, in the next file, continue the numbering.
            first = carried[1] if len(segments) == 1 and carried is not None and carried[0] == open_commit else 0
            assert open_commit is not None
            self._carried[table] = (open_commit, first + open_rows)
        return batch.add_column(self.at, order_field(self.column), pa.array(values, pa.string()))
