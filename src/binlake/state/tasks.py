"""Replication tasks and their table statistics in the state store, in DMS's shapes."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from typing import Any

from binlake.dms import TableState, TaskStatus
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.state import statistics
from binlake.state.statistics import TableStatistics
from binlake.state.store import StateStore, utcnow

# A task in one of these has (or had, if it died) a process running it.
ACTIVE_STATUSES = (TaskStatus.STARTING.value, TaskStatus.RUNNING.value, TaskStatus.STOPPING.value)


@dataclass
class ReplicationTask:
    identifier: str
    source_endpoint: str
    target_endpoint: str
    migration_type: str
    table_mappings: str
    settings: str
    status: str
    stop_reason: str | None
    last_failure_message: str | None
    desired_state: str | None
    pid: int | None
    created_at: str
    started_at: str | None
    stopped_at: str | None
    full_load_started_at: str | None
    full_load_finished_at: str | None
    cdc_checkpoint: str | None = None
    cdc_checkpoint_gtid: str | None = None
    cdc_checkpoint_commit_time: str | None = None
    cdc_read_position: str | None = None
    cdc_source_time: str | None = None
    cdc_changes_total: int = 0
    last_cdc_file: str | None = None
    cdc_open_transactions: str | None = None  # JSON {XA identifier: start position} of prepared transactions

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ReplicationTask:
        return cls(**{key: row[key] for key in row.keys()})  # noqa: SIM118 - sqlite3.Row iterates values

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def checkpoint_position(self) -> BinlogPosition | None:
        """The CDC checkpoint: where a resumed task reads from."""
        return BinlogPosition.parse(self.cdc_checkpoint) if self.cdc_checkpoint else None


def create(store: StateStore, task: ReplicationTask) -> ReplicationTask:
    try:
        store.execute(
            "INSERT INTO tasks (identifier, source_endpoint, target_endpoint, migration_type, table_mappings, "
            "settings, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                task.identifier,
                task.source_endpoint,
                task.target_endpoint,
                task.migration_type,
                task.table_mappings,
                task.settings,
                task.status,
                task.created_at,
            ),
        )
    except sqlite3.IntegrityError:
        raise BinlakeError(
            f"replication task {task.identifier} already exists",
            fix="choose another --replication-task-identifier or delete-replication-task first",
        ) from None
    # Intents a deleted task of this name left behind (before delete removed them) belong to no one now.
    store.execute("DELETE FROM cdc_intents WHERE task = ?", (task.identifier,))
    store.add_event(task.identifier, "creation", "Replication task created")
    return task


def find(store: StateStore, identifier: str) -> ReplicationTask | None:
    rows = store.query("SELECT * FROM tasks WHERE identifier = ?", (identifier,))
    return ReplicationTask.from_row(rows[0]) if rows else None


def get(store: StateStore, identifier: str) -> ReplicationTask:
    task = find(store, identifier)
    if task is None:
        raise BinlakeError(
            f"replication task {identifier} not found", fix="list tasks with binlake describe-replication-tasks"
        )
    return task


def list_all(store: StateStore) -> list[ReplicationTask]:
    return [ReplicationTask.from_row(r) for r in store.query("SELECT * FROM tasks ORDER BY created_at, identifier")]


def process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def refresh(store: StateStore, task: ReplicationTask) -> ReplicationTask:
    """A task whose process died without saying so (kill -9, power loss) is failed, not running."""
    if task.active and not process_alive(task.pid):
        message = f"task process {task.pid} ended without stopping the task"
        store.execute(
            "UPDATE tasks SET status = ?, stop_reason = ?, last_failure_message = ?, stopped_at = ?, pid = NULL "
            "WHERE identifier = ? AND status = ?",
            (TaskStatus.FAILED.value, "RECOVERABLE_ERROR", message, utcnow(), task.identifier, task.status),
        )
        store.add_event(task.identifier, "failure", message)
        return get(store, task.identifier)
    return task


def delete(store: StateStore, identifier: str) -> ReplicationTask:
    task = refresh(store, get(store, identifier))
    if task.active:
        raise BinlakeError(
            f"replication task {identifier} is {task.status}",
            fix=f"stop-replication-task --replication-task-arn {identifier} first",
        )
    with store.transaction() as db:
        db.execute("DELETE FROM table_statistics WHERE task = ?", (identifier,))
        db.execute("DELETE FROM events WHERE task = ?", (identifier,))
        db.execute("DELETE FROM metrics WHERE task = ?", (identifier,))
        db.execute("DELETE FROM cdc_intents WHERE task = ?", (identifier,))
        db.execute("DELETE FROM tasks WHERE identifier = ?", (identifier,))
    return task


def claim(store: StateStore, identifier: str, pid: int) -> bool:
    """Mark the task starting for ``pid`` in one transaction, unless a process already runs it: two starts
    cannot both win. The read position is this run's: empty until its CDC reads (a reload's full load comes
    first, and a position left by the previous run would say CDC already runs)."""
    with store.transaction() as db:
        claimed = db.execute(
            "UPDATE tasks SET status = ?, pid = ?, desired_state = NULL, stop_reason = NULL, "
            "last_failure_message = NULL, started_at = ?, stopped_at = NULL, cdc_read_position = NULL "
            f"WHERE identifier = ? AND status NOT IN ({', '.join('?' * len(ACTIVE_STATUSES))})",
            (TaskStatus.STARTING.value, pid, utcnow(), identifier, *ACTIVE_STATUSES),
        ).rowcount
    return bool(claimed)


def stop_requested(store: StateStore, identifier: str) -> bool:
    """stop-replication-task asked the task to stop (or the task is gone)."""
    rows = store.query("SELECT desired_state FROM tasks WHERE identifier = ?", (identifier,))
    return not rows or rows[0]["desired_state"] == "stopped"


def update(store: StateStore, identifier: str, **values: Any) -> None:
    assignments = ", ".join(f"{key} = ?" for key in values)
    store.execute(f"UPDATE tasks SET {assignments} WHERE identifier = ?", (*values.values(), identifier))


def table_statistics(store: StateStore, identifier: str) -> list[TableStatistics]:
    return statistics.for_task(store, identifier)


def describe(task: ReplicationTask, stats: list[TableStatistics]) -> dict[str, Any]:
    """DMS's ReplicationTask JSON shape."""
    loaded = sum(1 for s in stats if s.table_state == TableState.TABLE_COMPLETED.value)
    loading = sum(1 for s in stats if s.table_state == TableState.FULL_LOAD.value)
    queued = sum(1 for s in stats if s.table_state == TableState.BEFORE_LOAD.value)
    errored = sum(1 for s in stats if s.table_state == TableState.TABLE_ERROR.value)
    done_rows = sum(s.full_load_rows for s in stats)
    estimated = sum(max(s.estimated_rows, s.full_load_rows) for s in stats)
    percent = 100 if stats and loaded == len(stats) else int(100 * done_rows / estimated) if estimated else 0
    shape: dict[str, Any] = {
        "ReplicationTaskIdentifier": task.identifier,
        "SourceEndpointArn": task.source_endpoint,
        "TargetEndpointArn": task.target_endpoint,
        "ReplicationInstanceArn": "local",
        "MigrationType": task.migration_type,
        "TableMappings": task.table_mappings,
        "ReplicationTaskSettings": task.settings,
        "Status": task.status,
        "ReplicationTaskCreationDate": task.created_at,
        "ReplicationTaskArn": task.identifier,
        "ReplicationTaskStats": {
            "FullLoadProgressPercent": min(percent, 100),
            "TablesLoaded": loaded,
            "TablesLoading": loading,
            "TablesQueued": queued,
            "TablesErrored": errored,
        },
    }
    if task.started_at:
        shape["ReplicationTaskStartDate"] = task.started_at
        shape["ReplicationTaskStats"]["StartDate"] = task.started_at
    if task.stopped_at:
        shape["ReplicationTaskStats"]["StopDate"] = task.stopped_at
    if task.full_load_started_at:
        shape["ReplicationTaskStats"]["FullLoadStartDate"] = task.full_load_started_at
    if task.full_load_finished_at:
        shape["ReplicationTaskStats"]["FullLoadFinishDate"] = task.full_load_finished_at
    if task.cdc_checkpoint:
        shape["RecoveryCheckpoint"] = task.cdc_checkpoint
        shape["CdcState"] = {
            "CheckpointPosition": task.cdc_checkpoint,
            "CheckpointGtid": task.cdc_checkpoint_gtid,
            "CheckpointSourceCommitTime": task.cdc_checkpoint_commit_time,
            "ReadPosition": task.cdc_read_position,
            "SourceTime": task.cdc_source_time,
            "ChangesApplied": task.cdc_changes_total,
        }
    if task.stop_reason:
        shape["StopReason"] = task.stop_reason
    if task.last_failure_message:
        shape["LastFailureMessage"] = task.last_failure_message
    return shape


def describe_table_statistics(row: TableStatistics) -> dict[str, Any]:
    """DMS's TableStatistics JSON shape for one table."""
    shape: dict[str, Any] = {
        "SchemaName": row.schema_name,
        "TableName": row.table_name,
        "Inserts": row.inserts,
        "Deletes": row.deletes,
        "Updates": row.updates,
        "Ddls": row.ddls,
        "AppliedInserts": row.inserts,
        "AppliedDeletes": row.deletes,
        "AppliedUpdates": row.updates,
        "AppliedDdls": row.ddls,
        "FullLoadRows": row.full_load_rows,
        "FullLoadCondtnlChkFailedRows": row.full_load_condtnl_chk_failed_rows,
        "FullLoadErrorRows": row.full_load_error_rows,
        # binlake's own: zero or invalid dates written as NULL (as DMS does), by the full load and CDC together
        "ZeroDates": row.zero_dates + row.cdc_zero_dates,
        "FullLoadStartTime": row.full_load_start_time,
        "FullLoadEndTime": row.full_load_end_time,
        "FullLoadReloaded": False,
        "LastUpdateTime": row.last_update_time,
        "TableState": row.table_state,
        "ValidationPendingRecords": 0,
        "ValidationFailedRecords": 0,
        "ValidationSuspendedRecords": 0,
        "ValidationState": "Not enabled",
    }
    return {key: value for key, value in shape.items() if value is not None}


def settings_json(task: ReplicationTask) -> dict[str, Any]:
    return json.loads(task.settings)


def mark_for_reload(store: StateStore, identifier: str, tables: list[tuple[str, str]]) -> None:
    """Tables (schema, table) the task's next resume-processing loads again from a fresh snapshot (ReloadTables)."""
    with store.transaction() as db:
        for schema, table in tables:
            db.execute(
                "UPDATE table_statistics SET table_state = ? WHERE task = ? AND schema_name = ? AND table_name = ?",
                (TableState.BEFORE_LOAD.value, identifier, schema, table),
            )
