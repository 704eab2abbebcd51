"""Change data capture: follow the binlog, write CDC files per table, checkpoint exactly once.

A flush writes one file per table from whole transactions, in four steps (invariants 1-3):

1. record an intent (the files about to be written and the position they end at) in the state store;
2. publish the files;
3. in one state-store transaction: move the checkpoint to that position, add the statistics, drop the intent;
4. start collecting the next batch.

A crash before 3 leaves an intent; the next start deletes the files it names and reads again from the
checkpoint, so those changes are written once, by the new run. A crash after 3 loses nothing either: the
checkpoint says where the files end.

Transactions (invariant 3): rows are collected per open transaction (capture/transaction.py, spilled to disk
past the memory budget) and reach the change buffer only at COMMIT, XID or XA COMMIT; SAVEPOINT and ROLLBACK
TO SAVEPOINT act inside the transaction, ROLLBACK and XA ROLLBACK drop it. A checkpoint is only ever at a
transaction boundary. A prepared XA transaction can stay open across checkpoints: the checkpoint records
where it starts, and a restart reads again from the earliest such start, skipping every transaction that
ended at or before the checkpoint.

Full-load handoff: each table's LOAD files come from a snapshot at a binlog position; a transaction of that
table committed at or before it is in the LOAD files, so CDC skips it there.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
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
from binlake.capture.binlog.rows import RowDecoder, ZeroDates
from binlake.capture.binlog.stream import BinlogStream
from binlake.capture.transaction import OpenTransaction, remove_spill_files
from binlake.changes import ChangeBuffer, Route, TableChanges
from binlake.config.endpoint import S3Settings
from binlake.config.mappings import TableMappings
from binlake.dms import TableState
from binlake.engine.commit_order import CommitOrder
from binlake.engine.schema_changes import ddl_steps, live_tables
from binlake.engine.target_folders import check_new_table
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress
from binlake.source.flavor import MARIADB
from binlake.source.server import Source
from binlake.state import checkpoints, statistics
from binlake.state.store import StateStore
from binlake.target import naming
from binlake.target.store import Bucket
from binlake.target.writer import write_file

log = logging.getLogger(__name__)
STATUS_EVERY_SECONDS = 0.5
# Row images (as binlog bytes) held in the change buffer before it is written out, whatever CdcMinFileSize
# says: decoded, they weigh several times as much, and memory must not follow the batch settings alone.
BUFFER_LIMIT_BYTES = 16 * 1024 * 1024
FAULT_PAUSE_BEFORE_CHECKPOINT = float(os.environ.get("BINLAKE_FAULT_PAUSE_BEFORE_CHECKPOINT", "0") or 0)


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
        self.checkpoint: BinlogPosition | None = None
        self._last_status = 0.0
        self._checkpointed_at = time.monotonic()
        self._last_file: str | None = None
        self.changes_seen = 0
        self._data_types: dict[tuple[str, str], dict[str, str]] = {}
        self.memory_limit = memory_limit
        # The change buffer's bound follows the memory budget too (a quarter of it, at most BUFFER_LIMIT_BYTES).
        self.buffer_limit = min(BUFFER_LIMIT_BYTES, max(64 * 1024, memory_limit // 4))
        self.spill_dir = spill_dir
        # Prepared XA transactions waiting for XA COMMIT or XA ROLLBACK, by XA identifier.
        self.prepared: dict[str, OpenTransaction] = {}
        self._open_at_start: dict[str, BinlogPosition] = {}
        # Transactions ending at or before this position are already in the lake (a restart that reads
        # again from an open XA transaction's start passes over them).
        self.replayed_until: BinlogPosition | None = None
        self._batch_id: int | None = None
        self._batch_files: list[str] = []
        self._batch_stats: dict[tuple[str, str], list[int]] = {}
        self._pending_ddls: dict[tuple[str, str], int] = {}
        order = s3.CdcCommitOrderColumnName
        self.commit_order = CommitOrder(order, s3.TimestampColumnName) if order else None

    # -- setup ------------------------------------------------------------------------------------------
    def load_state(self) -> None:
        resume = checkpoints.resume_state(self.store, self.task_id)
        self._last_file, self._open_at_start = resume.last_file, resume.open_transactions
        self.snapshots.update(resume.snapshots)

    def recover_intents(self) -> None:
        """Delete the files of a flush that never reached its checkpoint (a crash between steps 1 and 3)."""
        for intent in checkpoints.unfinished_intents(self.store, self.task_id):
            files = intent.files
            for path in files:
                self.bucket.discard(path)
            checkpoints.drop_intent(self.store, self.task_id, intent.batch)
            log.warning("Removed %d CDC files of an unfinished batch; their changes are read again", len(files))
            self.store.add_event(self.task_id, "recovery", f"Removed {len(files)} CDC files of an unfinished batch")

    # -- the loop -----------------------------------------------------------------------------------------
    def run(self, start: BinlogPosition, gtid: str | None = None) -> None:
        """Stream from ``start`` (or from the MariaDB GTID position ``gtid``) until asked to stop."""
        self.load_state()
        self.recover_intents()
        remove_spill_files(self.spill_dir)
        self.checkpoint = self.last_commit = start
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
            self._checkpoint([], {})  # the task shows where CDC stands before the first change arrives
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
        buffer = self.buffer
        if buffer.first_change_at is None:
            # Nothing to write, but the position moved (other tables' transactions): checkpoint it now and
            # then, so a restart does not reread them and the binlog they sit in may be purged.
            return self.last_commit != self.checkpoint and time.monotonic() - self._checkpointed_at > 1.0
        if buffer.bytes >= min(self.s3.CdcMinFileSize * 1024, self.buffer_limit):
            return True
        return time.monotonic() - buffer.first_change_at >= float(self.s3.CdcMaxBatchInterval)

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
        # Per layout, once per transaction (not per rows event): its pending rows and statistics, or None when
        # the table's LOAD files already hold this transaction. Forgotten when a publish empties the buffer.
        layouts: dict[int, tuple[TableChanges, list[int]] | None] = {}
        for changes in transaction.changes():
            decoder = changes.decoder
            if id(decoder) not in layouts:
                route = self._route(decoder)
                snapshot = self.snapshots.get((route.schema, route.table))
                if snapshot is not None and commit.position <= snapshot:
                    layouts[id(decoder)] = None  # already in the table's LOAD files
                else:
                    stats = self._batch_stats.setdefault((route.schema, route.table), [0, 0, 0])
                    layouts[id(decoder)] = (buffer.table(route, decoder), stats)
                    touched.add((route.schema, route.table, id(decoder)))
            layout = layouts[id(decoder)]
            if layout is None:
                continue
            pending, stats = layout
            images = pending.add_changes(changes, commit.timestamp, inserts_only, no_deletes)
            kind = changes.kind
            count = images // 2 if kind == "U" else images
            stats[0 if kind == "I" else 1 if kind == "U" else 2] += count
            buffer.bytes += changes.size
            buffer.changes += count
            self.changes_seen += count
            if buffer.first_change_at is None:
                buffer.first_change_at = time.monotonic()
            if buffer.bytes >= self.buffer_limit:
                # A transaction larger than the buffer: write what is held now, under the batch's intent,
                # and checkpoint only once the whole transaction is in files.
                self._publish()
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
        checkpoints.note_read(self.store, self.task_id, position, _iso(timestamp))

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
        touched = ddl_steps(statement, self.mappings.selects, lambda db: live_tables(self.store, self.task_id, db))
        for kind, schema, table in touched:
            self._data_types.pop((schema, table), None)
            self.store.add_event(self.task_id, "ddl", f"DDL on {schema}.{table}: {statement.sql.strip()[:200]}")
            log.info("DDL on %s.%s at %s: %s", schema, table, statement.position, kind)
            if kind == "reload":
                # Reload from a fresh snapshot: its LOAD files hold the table as of a position after this
                # statement, and the stream skips this table's transactions up to it.
                snapshot = self.reload_table(schema, table)
                if snapshot is not None:
                    self.snapshots[(schema, table)] = snapshot
            elif kind == "cancel":
                statistics.set_state(self.store, self.task_id, schema, table, TableState.TABLE_CANCELLED)
            self.routes = {k: r for k, r in self.routes.items() if (r.schema, r.table) != (schema, table)}
        for _, schema, table in touched:
            self._pending_ddls[(schema, table)] = self._pending_ddls.get((schema, table), 0) + 1
        if not in_transaction:
            self._checkpoint([], {})

    # -- flushing -----------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write what the buffer holds and checkpoint after it (a transaction boundary)."""
        if not self.buffer and self._batch_id is None:
            if self.last_commit != self.checkpoint:
                self._checkpoint([], {})
            return
        self._publish()
        stats = {key: (i, u, d) for key, (i, u, d) in self._batch_stats.items()}
        changes = sum(i + u + d for i, u, d in stats.values())
        if FAULT_PAUSE_BEFORE_CHECKPOINT:
            # Fault injection for the exactly-once tests: widen the window between publish and checkpoint.
            log.info("Batch %d published; checkpoint pending", self._batch_id)
            time.sleep(FAULT_PAUSE_BEFORE_CHECKPOINT)
        self.bucket.sync()  # the files must survive a power loss before the position that covers them moves
        files = self._batch_files
        self._checkpoint(files, {}, stats, self._batch_id, changes)
        log.debug("Flushed %d changes into %d files up to %s", changes, len(files), self.last_commit)
        self._batch_id, self._batch_files, self._batch_stats = None, [], {}

    def _publish(self) -> None:
        """Write one file per table of the buffer, named first in the batch's intent, and empty the buffer."""
        moment = datetime.now(UTC)
        extension = self.s3.extension
        planned: list[tuple[str, TableChanges]] = []
        for pending in self.buffer.tables.values():
            if not len(pending):
                continue  # every change of the table was filtered out (CdcInsertsOnly, CdcInsertsAndUpdates)
            route = pending.route
            prefix = naming.table_prefix(self.s3.BucketFolder, route.target_schema, route.target_table)
            if self.s3.DatePartitionEnabled:
                prefix += "/" + naming.date_partition(
                    moment, self.s3.DatePartitionSequence, self.s3.DatePartitionDelimiter
                )
            self._last_file = naming.next_cdc_file_name(moment, extension, self._last_file)
            planned.append((f"{prefix}/{self._last_file}", pending))
        if planned:
            assert self.last_commit is not None  # run() sets it before the first event
            self._batch_files = self._batch_files + [path for path, _ in planned]
            if self._batch_id is None:
                self._batch_id = int(time.time() * 1000)
                checkpoints.record_intent(
                    self.store, self.task_id, self._batch_id, self.checkpoint, self.last_commit, self._batch_files
                )
            else:
                checkpoints.extend_intent(self.store, self.task_id, self._batch_id, self.last_commit, self._batch_files)
            for path, pending in planned:
                batch = pending.record_batch(True, self.s3.TimestampColumnName, self.s3.TimestampColumnType)
                if self.commit_order is not None:
                    route = pending.route
                    batch = self.commit_order.stamp(batch, (route.target_schema, route.target_table), self.last_commit)
                write_file(self.bucket, path, self.s3, batch)
        self.buffer.clear()

    def _checkpoint(
        self,
        files: list[str],
        ddls: dict[tuple[str, str], int],
        stats: dict[tuple[str, str], tuple[int, int, int]] | None = None,
        batch_id: int | None = None,
        changes: int = 0,
    ) -> None:
        assert self.last_commit is not None  # run() sets it before the first event
        checkpoint = checkpoints.Checkpoint(
            self.last_commit, self.last_gtid, _iso(self.last_commit_time), changes,
            self._last_file if files else None, self._open_transactions(),
        )  # fmt: skip
        checkpoints.commit(self.store, self.task_id, checkpoint, stats, {**ddls, **self._pending_ddls}, batch_id)
        self.checkpoint = self.last_commit
        self._pending_ddls = {}
        self._checkpointed_at = time.monotonic()
        if ZeroDates.count:
            log.warning("%d zero or invalid dates written as NULL", ZeroDates.count)
            ZeroDates.count = 0


def _iso(timestamp: int) -> str | None:
    if not timestamp:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


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
