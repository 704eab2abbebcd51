"""The exactly-once sequence of CDC: write a batch's files, make them durable, then checkpoint after them.

The invariant (DESIGN invariants 1-3), stated here once: **the task's checkpoint moves to a position only
after every change before that position is in files that are complete and durable in the target, the
position is a transaction boundary, and no change reaches a CDC file twice.** The sequence that keeps it
across any crash:

1. ``write_files``: the batch's files are named in an intent in the state store (``checkpoints.record_intent``,
   ``extend_intent`` when a large transaction is written in parts), *then* written, each published atomically;
2. ``checkpoint_after_publish``: ``Bucket.sync`` makes them durable (power loss included), then
   ``checkpoints.commit`` moves the checkpoint, adds the batch's statistics and deletes the intent in one
   durable state-store transaction;
3. ``recover_intents`` at the next start: an intent left by a crash before step 2's commit names files whose
   changes the checkpoint does not cover; they are deleted, and the changes are read again from the
   checkpoint and written once, by the new run. A crash after the commit leaves nothing to redo.

Every other checkpoint moves the position over transactions that wrote nothing (no files, no intent); each
has its own name below so a reader sees why it happens.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from binlake.changes import ChangeBuffer, TableChanges
from binlake.config.endpoint import S3Settings
from binlake.engine.commit_order import CommitOrder, check_columns
from binlake.position import BinlogPosition
from binlake.state import checkpoints
from binlake.state.store import StateStore
from binlake.target import naming
from binlake.target.store import Bucket
from binlake.target.writer import write_file

log = logging.getLogger(__name__)
FAULT_PAUSE_BEFORE_CHECKPOINT = float(os.environ.get("BINLAKE_FAULT_PAUSE_BEFORE_CHECKPOINT", "0") or 0)

TableCounts = dict[tuple[str, str], tuple[int, int, int]]


@dataclass(frozen=True)
class Boundary:
    """A transaction boundary the reader has passed: where a checkpoint may be."""

    position: BinlogPosition
    gtid: str | None  # None keeps the previous GTID
    commit_time: int  # seconds since the epoch of the source commit; 0 keeps the previous one
    # Prepared XA transactions still open at ``position``: XA identifier -> where their group starts.
    open_transactions: dict[str, BinlogPosition] = field(default_factory=dict)


@dataclass(frozen=True)
class WrittenFile:
    path: str
    size: int | None  # bytes, None when unknown


class BatchPublisher:
    """One CDC run's batches: their intent, files, statistics and checkpoint."""

    def __init__(
        self, store: StateStore, task_id: str, bucket: Bucket, s3: S3Settings, last_file: str | None = None
    ) -> None:
        self.store = store
        self.task_id = task_id
        self.bucket = bucket
        self.s3 = s3
        self.last_file = last_file  # the newest CDC file name, which the next one must sort after
        order = s3.CdcCommitOrderColumnName
        self.commit_order = CommitOrder(order, s3.TimestampColumnName) if order else None
        self.checkpoint: BinlogPosition | None = None
        self.checkpointed_at = time.monotonic()
        self.batch_id: int | None = None
        self.batch_files: list[str] = []
        self.batch_counts: dict[tuple[str, str], list[int]] = {}  # table -> [inserts, updates, deletes]
        self.ddls: dict[tuple[str, str], int] = {}  # DDL statements per table since the last checkpoint
        self.batch_zero_dates: dict[tuple[str, str], int] = {}  # zero or invalid dates written as NULL, per table

    # -- step 3, at the start of a run ----------------------------------------------------------------------
    def recover_intents(self) -> None:
        """Delete the files of a batch that never reached its checkpoint (a crash between steps 1 and 2)."""
        for intent in checkpoints.unfinished_intents(self.store, self.task_id):
            files = intent.files
            for path in files:
                self.bucket.discard(path)
            checkpoints.drop_intent(self.store, self.task_id, intent.batch)
            log.warning("Removed %d CDC files of an unfinished batch; their changes are read again", len(files))
            self.store.add_event(self.task_id, "recovery", f"Removed {len(files)} CDC files of an unfinished batch")

    # -- what the batch holds ---------------------------------------------------------------------------------
    def count_changes(self, schema: str, table: str, kind: str, count: int) -> None:
        counts = self.batch_counts.setdefault((schema, table), [0, 0, 0])
        counts["IUD".index(kind)] += count

    def count_zero_dates(self, schema: str, table: str, count: int) -> None:
        self.batch_zero_dates[(schema, table)] = self.batch_zero_dates.get((schema, table), 0) + count

    def count_ddl(self, schema: str, table: str) -> None:
        self.ddls[(schema, table)] = self.ddls.get((schema, table), 0) + 1

    @property
    def in_batch(self) -> bool:
        """Files of the current batch are written (or named) but not checkpointed yet."""
        return self.batch_id is not None

    # -- step 1 -----------------------------------------------------------------------------------------------
    def write_files(self, buffer: ChangeBuffer, end: BinlogPosition) -> dict[tuple[str, str, int], WrittenFile]:
        """Write one file per table of the buffer, named first in the batch's intent, and empty the buffer.
        ``end`` is the last transaction boundary the buffer's changes reach. Returns each pending table's
        (buffer key's) file."""
        moment = datetime.now(UTC)
        extension = self.s3.extension
        planned: list[tuple[tuple[str, str, int], str, TableChanges]] = []
        for key, pending in buffer.tables.items():
            if not len(pending):
                continue  # every change of the table was filtered out (CdcInsertsOnly, CdcInsertsAndUpdates)
            route = pending.route
            prefix = naming.table_prefix(self.s3.BucketFolder, route.target_schema, route.target_table)
            if self.s3.DatePartitionEnabled:
                prefix += "/" + naming.date_partition(
                    moment, self.s3.DatePartitionSequence, self.s3.DatePartitionDelimiter
                )
            self.last_file = naming.next_cdc_file_name(moment, extension, self.last_file)
            planned.append((key, f"{prefix}/{self.last_file}", pending))
        if planned and self.commit_order is not None:
            # Checked before any file of the batch is named or written, so a refusal leaves no part of a
            # transaction in the lake (a column of that name can arrive by ALTER TABLE after the task started).
            for _, _, pending in planned:
                route = pending.route
                check_columns(self.commit_order.column, route.names, (route.schema, route.table))
        if planned:
            self.batch_files = self.batch_files + [path for _, path, _ in planned]
            if self.batch_id is None:
                self.batch_id = int(time.time() * 1000)
                checkpoints.record_intent(
                    self.store, self.task_id, self.batch_id, self.checkpoint, end, self.batch_files
                )
            else:
                checkpoints.extend_intent(self.store, self.task_id, self.batch_id, end, self.batch_files)
            for _, path, pending in planned:
                batch = pending.record_batch(True, self.s3.TimestampColumnName, self.s3.TimestampColumnType)
                if self.commit_order is not None:
                    route = pending.route
                    batch = self.commit_order.stamp(batch, (route.target_schema, route.target_table), end)
                write_file(self.bucket, path, self.s3, batch)
        buffer.clear()
        return {key: WrittenFile(path, self._size(path)) for key, path, _ in planned}

    def _size(self, path: str) -> int | None:
        """A published file's size in bytes (None when the store cannot say now: it only informs the policy)."""
        try:
            return self.bucket.fs.get_file_info(self.bucket.full(path)).size
        except OSError:
            return None

    # -- step 2 and the checkpoints that write nothing ---------------------------------------------------------
    def checkpoint_after_publish(
        self, buffer: ChangeBuffer, boundary: Boundary
    ) -> dict[tuple[str, str, int], WrittenFile]:
        """Write what the buffer holds, make the batch's files durable, and checkpoint at ``boundary``, the
        transaction boundary they reach. Returns the files ``write_files`` wrote for what the buffer held."""
        written = self.write_files(buffer, boundary.position)
        counts: TableCounts = {key: (i, u, d) for key, (i, u, d) in self.batch_counts.items()}
        changes = sum(i + u + d for i, u, d in counts.values())
        if FAULT_PAUSE_BEFORE_CHECKPOINT:
            # Fault injection for the exactly-once tests: widen the window between publish and checkpoint.
            log.info("Batch %d published; checkpoint pending", self.batch_id)
            time.sleep(FAULT_PAUSE_BEFORE_CHECKPOINT)
        self.bucket.sync()  # the files must survive a power loss before the position that covers them moves
        files = self.batch_files
        self._commit(boundary, files, counts, self.batch_id, changes)
        log.debug("Flushed %d changes into %d files up to %s", changes, len(files), boundary.position)
        self.batch_id, self.batch_files, self.batch_counts = None, [], {}
        self.batch_zero_dates = {}
        return written

    def checkpoint_at_start(self, boundary: Boundary) -> None:
        """The task shows where CDC stands before the first change arrives."""
        self._commit(boundary, [])

    def checkpoint_idle_position(self, boundary: Boundary) -> None:
        """Transactions that wrote nothing here (other tables', rolled back, already loaded) moved the
        position: record it, so a restart does not read them again."""
        self._commit(boundary, [])

    def checkpoint_after_ddl(self, boundary: Boundary) -> None:
        """A DDL statement outside any transaction (a boundary of its own) was applied: record it and its
        per-table DDL counts."""
        self._commit(boundary, [])

    def _commit(
        self,
        boundary: Boundary,
        files: list[str],
        counts: TableCounts | None = None,
        batch_id: int | None = None,
        changes: int = 0,
    ) -> None:
        """The one place a CDC checkpoint is committed; ``files`` are durable already (or there are none)."""
        checkpoint = checkpoints.Checkpoint(
            boundary.position, boundary.gtid, iso_time(boundary.commit_time), changes,
            self.last_file if files else None, boundary.open_transactions,
        )  # fmt: skip
        zero_dates = self.batch_zero_dates if batch_id is not None else {}
        checkpoints.commit(self.store, self.task_id, checkpoint, counts, self.ddls, batch_id, zero_dates)
        self.checkpoint = boundary.position
        self.ddls = {}
        self.checkpointed_at = time.monotonic()
        for (schema, table), count in zero_dates.items():
            log.warning("Table %s.%s: %d zero or invalid dates written as NULL by CDC", schema, table, count)


def iso_time(timestamp: int) -> str | None:
    """A source commit time (seconds since the epoch; 0 for unknown) as ISO text, or None."""
    if not timestamp:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
