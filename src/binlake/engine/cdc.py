"""Change data capture: follow the binlog, gather whole transactions per table, hand batches to the publisher.

The loop reads row changes and transaction control (capture/binlog/reader.py) and keeps where the last
transaction boundary is. When the flush policy (flush_policy.py) says so, the batch goes to ``BatchPublisher``
(publish.py), which holds the exactly-once sequence (intent, files, durability, checkpoint) and its invariant.

Transactions (invariant 3): rows are collected per open transaction (capture/transaction.py, spilled to disk
past the memory budget) and reach the change buffer only at COMMIT, XID or XA COMMIT; SAVEPOINT and ROLLBACK
TO SAVEPOINT act inside the transaction, ROLLBACK and XA ROLLBACK drop it. A checkpoint is only ever at a
transaction boundary. A prepared XA transaction can stay open across checkpoints: the checkpoint records
where it starts, and a restart reads again from the earliest such start, skipping every transaction that
ended at or before the checkpoint.

Full-load handoff: each table's LOAD files come from a snapshot at a binlog position; a transaction of that
table committed at or before it is in the LOAD files, so CDC skips it there.

DDL (schema_changes.py): pending changes are written first, so no file mixes layouts; then each touched table
is reloaded, cancelled or just re-read.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from binlake.capture.binlog.charsets import load_codec
from binlake.capture.binlog.reader import (
    Begin,
    BinlogReader,
    Commit,
    Heartbeat,
    Rollback,
    RollbackToSavepoint,
    RowChanges,
    Savepoint,
    Statement,
    XaOutcome,
    XaPrepare,
)
from binlake.capture.binlog.rows import RowDecoder
from binlake.capture.binlog.stream import BinlogStream
from binlake.capture.transaction import OpenTransaction, remove_spill_files
from binlake.changes import ChangeBuffer, Route, TableChanges
from binlake.config.endpoint import S3Settings
from binlake.config.mappings import TableMappings
from binlake.engine.flush_policy import FlushPolicy, first_ratio
from binlake.engine.publish import BatchPublisher, Boundary, WrittenFile, iso_time
from binlake.engine.schema_changes import apply_ddl_steps, ddl_steps, live_tables
from binlake.engine.target_folders import check_new_table
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress
from binlake.source.server import Source
from binlake.state import checkpoints, statistics
from binlake.state.store import StateStore
from binlake.target.store import Bucket

log = logging.getLogger(__name__)
STATUS_EVERY_SECONDS = 0.5


def dump_server_id(task_id: str) -> int:
    """A replica server_id of our own per task, away from small ids that real replicas use."""
    return 1_000_000 + zlib.crc32(task_id.encode()) % 1_000_000_000


class CdcRunner:
    def __init__(
        self,
        store: StateStore,
        task_id: str,
        address: SourceAddress,
        bucket: Bucket,
        s3: S3Settings,
        mappings: TableMappings,
        stop: threading.Event,
        reload_table: Callable[[str, str], BinlogPosition | None],
        spill_dir: Path,
        memory_limit: int = 64 * 1024 * 1024,
    ) -> None:
        self.store = store
        self.task_id = task_id
        self.address = address
        self.bucket = bucket
        self.s3 = s3
        self.mappings = mappings
        self.stop = stop
        self.reload_table = reload_table
        self.buffer = ChangeBuffer()
        self.routes: dict[int, Route] = {}
        self.snapshots: dict[tuple[str, str], BinlogPosition] = {}
        self.last_commit: BinlogPosition | None = None
        self.last_commit_time = 0
        self.last_gtid: str | None = None
        self._last_status = 0.0
        self.changes_seen = 0
        self._data_types: dict[tuple[str, str], dict[str, str]] = {}
        self.memory_limit = memory_limit
        self.policy = FlushPolicy(
            s3.CdcMinFileSize,
            float(s3.CdcMaxBatchInterval),
            memory_limit,
            first_ratio(s3.DataFormat, s3.CompressionType),
        )
        self.publisher = BatchPublisher(store, task_id, bucket, s3)
        self.spill_dir = spill_dir
        # Prepared XA transactions waiting for XA COMMIT or XA ROLLBACK, by XA identifier.
        self.prepared: dict[str, OpenTransaction] = {}
        self._open_at_start: dict[str, BinlogPosition] = {}
        # Transactions ending at or before this position are already in the lake (a restart that reads
        # again from an open XA transaction's start passes over them).
        self.replayed_until: BinlogPosition | None = None

    # -- setup ------------------------------------------------------------------------------------------
    def load_state(self) -> None:
        resume = checkpoints.resume_state(self.store, self.task_id)
        self.publisher.last_file, self._open_at_start = resume.last_file, resume.open_transactions
        self.snapshots.update(resume.snapshots)

    @property
    def checkpoint(self) -> BinlogPosition | None:
        """The position the last checkpoint committed in this run."""
        return self.publisher.checkpoint

    # -- the loop -----------------------------------------------------------------------------------------
    def run(self, start: BinlogPosition, gtid: str | None = None) -> None:
        """Stream from ``start`` (or from the MariaDB GTID position ``gtid``) until asked to stop."""
        self.load_state()
        self.publisher.recover_intents()
        remove_spill_files(self.spill_dir)
        self.publisher.checkpoint = self.last_commit = start
        stream_start = start
        if self._open_at_start and not gtid:
            # Prepared XA transactions were open at the checkpoint: read them again from where they start.
            stream_start = min(start, *self._open_at_start.values())
            self.replayed_until = start
        codec_conn = Source(self.address).connect()
        try:
            codec = self.codec = load_codec(codec_conn)
        finally:
            codec_conn.close()
        interval = float(self.s3.CdcMaxBatchInterval)
        heartbeat = max(0.05, min(1.0, interval / 2 if interval else 1.0))
        stream = BinlogStream(
            self.address, stream_start, dump_server_id(self.task_id), heartbeat_seconds=heartbeat, gtid=gtid
        )
        reader = BinlogReader(stream, codec, self.mappings.selects, self.data_types)
        if not gtid:
            self.publisher.checkpoint_at_start(self._boundary_now())
        origin = f"GTID position {gtid}" if gtid else f"binlog position {start}"
        log.info("CDC started from %s", origin)
        self.store.add_event(self.task_id, "state change", f"CDC started from {origin}")
        transaction: OpenTransaction | None = None
        try:
            for item in reader:
                if isinstance(item, RowChanges):  # the common case first
                    if transaction is None:  # rows outside BEGIN ... COMMIT: a group of its own
                        transaction = self._open_transaction(item.position, None)
                    transaction.add(item)
                    continue
                match item:
                    case Begin():
                        if transaction is not None:
                            transaction.close()
                        transaction = self._open_transaction(item.start, item.xid)
                    case Commit():
                        self._commit(transaction, item)
                        transaction = None
                    case Savepoint():
                        if transaction is not None:
                            transaction.savepoint(item.name)
                    case RollbackToSavepoint():
                        if transaction is not None and not transaction.rollback_to(item.name):
                            raise BinlakeError(
                                f"ROLLBACK TO SAVEPOINT {item.name} has no SAVEPOINT {item.name} in its "
                                f"transaction in the binlog (near {reader.binlog_file})",
                                fix="report this as a binlake bug with the source's version",
                            )
                    case Rollback():
                        if transaction is not None:
                            transaction.close()
                            transaction = None
                        self._boundary(item.position, self.last_commit_time, None)
                    case XaPrepare():
                        self._prepare(transaction, item)
                        transaction = None
                    case XaOutcome():
                        self._xa_outcome(item)
                    case Statement():
                        self._statement(item, transaction is not None)
                    case Heartbeat():
                        self._note_read(item.position, item.timestamp)
                if self.stop.is_set():
                    break
                if self._due():
                    self.flush()
        finally:
            stream.close()
            if transaction is not None:
                transaction.close()
            for held in self.prepared.values():
                held.close()
        self.flush()
        log.info("CDC stopped at %s", self.checkpoint)

    def _open_transactions(self) -> dict[str, BinlogPosition]:
        """Prepared XA transactions open at this checkpoint and where their groups start, including those
        recorded at the start that a replay has not reached yet."""
        starts = dict(self._open_at_start)
        starts.update((xid, held.start) for xid, held in self.prepared.items())
        return starts

    def _open_transaction(self, start: BinlogPosition, xid: str | None) -> OpenTransaction:
        return OpenTransaction(start, xid, self.spill_dir, self.memory_limit)

    def _replayed(self, position: BinlogPosition) -> bool:
        """True for a transaction already in the lake, read again only to find an open XA transaction."""
        return self.replayed_until is not None and position <= self.replayed_until

    def _boundary(self, position: BinlogPosition, timestamp: int, gtid: str | None) -> None:
        """A transaction ended at ``position`` with nothing to write: the next checkpoint may move past it."""
        if not self._replayed(position):
            self.last_commit, self.last_commit_time = position, timestamp or self.last_commit_time
            self.last_gtid = gtid or self.last_gtid

    def _prepare(self, transaction: OpenTransaction | None, prepare: XaPrepare) -> None:
        if transaction is None or transaction.xid is None:
            raise BinlakeError(
                f"XA PREPARE at binlog position {prepare.position} without XA START",
                fix="report this as a binlake bug with the source's version",
            )
        previous = self.prepared.pop(transaction.xid, None)
        if previous is not None:
            previous.close()
        self.prepared[transaction.xid] = transaction
        self._boundary(prepare.position, self.last_commit_time, None)

    def _xa_outcome(self, outcome: XaOutcome) -> None:
        self._open_at_start.pop(outcome.xid, None)
        held = self.prepared.pop(outcome.xid, None)
        if self._replayed(outcome.position):
            if held is not None:
                held.close()
            return
        if held is None and outcome.committed:
            # Prepared before the position this task read from (a snapshot does not see prepared rows, so
            # this happens at the full load's handoff): find its group earlier in the binlog.
            held = self._find_prepared(outcome.xid, outcome.position)
        if held is None:
            if outcome.committed:
                raise BinlakeError(
                    f"XA COMMIT {outcome.xid} at binlog position {outcome.position} commits a transaction whose "
                    "XA PREPARE is no longer in the source's binlog, so its rows are unknown",
                    fix="reload the task's tables (--start-replication-task-type reload-target), and keep binlogs "
                    "longer than transactions stay prepared (binlog_expire_logs_seconds)",
                )
            self._boundary(outcome.position, outcome.timestamp, outcome.gtid)
            return
        if outcome.committed:
            self._commit(held, Commit(outcome.position, outcome.timestamp, outcome.gtid))
        else:
            held.close()
            self._boundary(outcome.position, outcome.timestamp, outcome.gtid)

    def _find_prepared(self, xid: str, before: BinlogPosition) -> OpenTransaction | None:
        """The latest XA PREPARE group of ``xid`` before ``before``, read again from the binlog files,
        newest file first."""
        files = Source(self.address).binary_logs()
        earlier = [f for f in files if BinlogPosition(f, 0) <= BinlogPosition(before.binlog_file, 0)]
        for binlog_file in reversed(earlier):
            log.info("Looking for XA transaction %s prepared before %s in %s", xid, before, binlog_file)
            found: OpenTransaction | None = None
            group: OpenTransaction | None = None
            stream = BinlogStream(self.address, BinlogPosition(binlog_file, 4), 0, non_blocking=True)
            try:
                reader = BinlogReader(stream, self.codec, self.mappings.selects, self.data_types)
                for item in reader:
                    position = getattr(item, "position", None)
                    if reader.binlog_file != binlog_file or (position is not None and position >= before):
                        break
                    if isinstance(item, Begin):
                        if group is not None:
                            group.close()
                        group = self._open_transaction(item.start, item.xid) if item.xid == xid else None
                    elif group is None:
                        continue
                    elif isinstance(item, RowChanges):
                        group.add(item)
                    elif isinstance(item, Savepoint):
                        group.savepoint(item.name)
                    elif isinstance(item, RollbackToSavepoint):
                        group.rollback_to(item.name)
                    elif isinstance(item, XaPrepare):
                        if found is not None:
                            found.close()
                        found, group = group, None
            finally:
                stream.close()
                if group is not None:
                    group.close()
            if found is not None:
                return found
        return None

    def data_types(self, schema: str, table: str) -> dict[str, str]:
        """Column name → information_schema COLUMN_TYPE, read once per table and again after its DDL."""
        key = (schema, table)
        types = self._data_types.get(key)
        if types is None:
            types = self._data_types[key] = Source(self.address).column_types(schema, table)
        return types

    def _due(self) -> bool:
        buffer, now = self.buffer, time.monotonic()
        if buffer.first_change_at is None:
            moved = self.last_commit != self.publisher.checkpoint
            return self.policy.idle_checkpoint_due(moved, self.publisher.checkpointed_at, now)
        return self.policy.due(buffer.bytes, buffer.first_change_at, now)

    def _route(self, decoder: RowDecoder) -> Route:
        key = id(decoder)
        route = self.routes.get(key)
        if route is None:
            table_map = decoder.table_map
            schema, table = table_map.schema, table_map.table
            keep, names = [], []
            for index, name in enumerate(table_map.column_names):
                target = self.mappings.target_column(schema, table, name)
                if target is not None:
                    keep.append(index)
                    names.append(target)
            route = Route(
                schema,
                table,
                self.mappings.target_schema(schema),
                self.mappings.target_table(schema, table),
                tuple(keep),
                tuple(names),
                tuple(decoder.specs[i] for i in keep),
                tuple(table_map.primary_key),
            )
            self.routes[key] = route
            self._register_table(route)
        return route

    def _register_table(self, route: Route) -> None:
        check_new_table(self.store, self.task_id, self.mappings, self.s3, route.schema, route.table)
        statistics.register_completed(
            self.store, self.task_id, route.schema, route.table, route.target_schema, route.target_table,
            route.target_key,
        )  # fmt: skip

    def _commit(self, transaction: OpenTransaction | None, commit: Commit) -> None:
        if self._replayed(commit.position):
            if transaction is not None:
                transaction.close()
            return
        self.last_commit, self.last_commit_time, self.last_gtid = commit.position, commit.timestamp, commit.gtid
        if transaction is None:
            self._note_read(commit.position, commit.timestamp)
            return
        try:
            self._add_transaction(transaction, commit)
        finally:
            transaction.close()
        self._note_read(commit.position, commit.timestamp)

    def _add_transaction(self, transaction: OpenTransaction, commit: Commit) -> None:
        if transaction.spilled:
            log.info(
                "Transaction ending at %s (%.1f MB of row events) spilled to disk past MemoryLimitTotal",
                commit.position,
                transaction.size / 1e6,
            )
        inserts_only, no_deletes = self.s3.CdcInsertsOnly, self.s3.CdcInsertsAndUpdates
        buffer = self.buffer
        touched: set[tuple[str, str, int]] = set()
        # Per layout, once per transaction (not per rows event): its pending rows, its buffer key and its table,
        # or None when the table's LOAD files already hold this transaction. Forgotten when a part is written.
        layouts: dict[int, tuple[TableChanges, tuple[str, str, int], tuple[str, str]] | None] = {}
        publisher, policy = self.publisher, self.policy
        for changes in transaction.changes():
            decoder = changes.decoder
            if id(decoder) not in layouts:
                route = self._route(decoder)
                snapshot = self.snapshots.get((route.schema, route.table))
                if snapshot is not None and commit.position <= snapshot:
                    layouts[id(decoder)] = None  # already in the table's LOAD files
                else:
                    key = (route.schema, route.table, id(decoder))
                    layouts[id(decoder)] = (buffer.table(route, decoder), key, (route.schema, route.table))
                    touched.add(key)
            layout = layouts[id(decoder)]
            if layout is None:
                continue
            pending, key, table = layout
            images = pending.add_changes(changes, commit.timestamp, inserts_only, no_deletes)
            kind = changes.kind
            count = images // 2 if kind == "U" else images
            publisher.count_changes(table[0], table[1], kind, count)
            zero_dates = decoder.take_zero_dates()
            if zero_dates:
                publisher.count_zero_dates(table[0], table[1], zero_dates)
            buffer.bytes += changes.size
            policy.added(key, table, changes.size)
            buffer.changes += count
            self.changes_seen += count
            if buffer.first_change_at is None:
                buffer.first_change_at = time.monotonic()
            if policy.over_memory(buffer.bytes):
                # A transaction larger than the buffer: write what is held now, under the batch's intent,
                # and checkpoint only once the whole transaction is in files.
                self._write_part()
                layouts.clear()
        for table_key in touched:
            held = buffer.tables.get(table_key)
            if held is not None:
                held.end_transaction(commit.position)

    def _note_read(self, position: BinlogPosition, timestamp: int) -> None:
        now = time.monotonic()
        if now - self._last_status < STATUS_EVERY_SECONDS:
            return
        self._last_status = now
        checkpoints.note_read(self.store, self.task_id, position, iso_time(timestamp))

    def _statement(self, statement: Statement, in_transaction: bool = False) -> None:
        """A DDL or other statement. Inside a transaction's group (CREATE TABLE ... SELECT) its effects are
        taken now, but the position only moves at the group's COMMIT: never a checkpoint mid-transaction."""
        if self._replayed(statement.position):
            return
        self.flush()
        if not in_transaction:
            self.last_commit, self.last_commit_time, self.last_gtid = (
                statement.position,
                statement.timestamp,
                statement.gtid,
            )
        steps = ddl_steps(statement, self.mappings.selects, lambda db: live_tables(self.store, self.task_id, db))
        for _, schema, table in steps:
            self._data_types.pop((schema, table), None)
            self.routes = {k: r for k, r in self.routes.items() if (r.schema, r.table) != (schema, table)}
            self.publisher.count_ddl(schema, table)
        self.snapshots.update(apply_ddl_steps(self.store, self.task_id, statement, steps, self.reload_table))
        if not in_transaction:
            self.publisher.checkpoint_after_ddl(self._boundary_now())

    # -- flushing -----------------------------------------------------------------------------------------
    def _boundary_now(self) -> Boundary:
        """The last transaction boundary read, as a checkpoint would record it."""
        assert self.last_commit is not None  # run() sets it before the first event
        return Boundary(self.last_commit, self.last_gtid, self.last_commit_time, self._open_transactions())

    def flush(self) -> None:
        """Write what the buffer holds and checkpoint after it (a transaction boundary)."""
        if not self.buffer and not self.publisher.in_batch:
            if self.last_commit != self.publisher.checkpoint:
                self.publisher.checkpoint_idle_position(self._boundary_now())
            return
        self._learn(self.publisher.checkpoint_after_publish(self.buffer, self._boundary_now()))

    def _write_part(self) -> None:
        """Write the buffer within the current batch, without a checkpoint (a transaction still going on)."""
        assert self.last_commit is not None
        self._learn(self.publisher.write_files(self.buffer, self.last_commit))

    def _learn(self, written: dict[tuple[str, str, int], WrittenFile]) -> None:
        """The flush policy learns each table's output bytes per row-image byte from the files just written."""
        for key, file in written.items():
            self.policy.written(key, key[:2], file.size)
        self.policy.cleared()
