"""Running a replication task: start, watch for stop requests, load, and record how it ended.

A task runs in one process. Other processes (the CLI's stop-replication-task) talk to it only through
the state store: they set ``desired_state`` and the task stops at its next batch boundary.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from binlake.config.endpoint import S3Settings
from binlake.config.mappings import TableMappings
from binlake.config.task_settings import ReplicationTaskSettings
from binlake.dms import STOP_REASON_FULL_LOAD_DONE, STOP_REASON_USER, MigrationType, StartType, TaskStatus
from binlake.engine.commit_order import check_columns
from binlake.engine.full_load import FullLoad, FullLoadResult
from binlake.engine.recovery import is_recoverable
from binlake.engine.start_point import parse_start_position, parse_start_time
from binlake.engine.target_folders import check_target_folders, remove_stale_temp_files
from binlake.errors import BinlakeError
from binlake.monitor.sampler import MetricsSampler
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress, endpoint_address
from binlake.source.plan import TablePlan, plan_table
from binlake.source.preflight import check_cdc_source
from binlake.source.server import Source
from binlake.state import endpoints as endpoints_api
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore, utcnow
from binlake.target.store import Bucket

# The CDC side (engine.cdc, capture.time_search: the binlog reader, PyMySQL) is imported where a
# task captures changes, not here: a full-load task's process starts 0.1-0.2 s sooner without it.

log = logging.getLogger(__name__)
STOP_POLL_SECONDS = 0.25
# An attempt that streamed this long had recovered: a later error starts again from RecoverableErrorInterval.
RECOVERED_AFTER_SECONDS = 60.0


def task_dir(store: StateStore, identifier: str) -> Path:
    path = store.state_dir / "tasks" / identifier
    path.mkdir(parents=True, exist_ok=True)
    return path


def claim(store: StateStore, identifier: str, pid: int) -> tasks_api.ReplicationTask:
    """Mark the task starting for ``pid``, or refuse when another process runs it."""
    task = tasks_api.refresh(store, tasks_api.get(store, identifier))
    if not tasks_api.claim(store, identifier, pid):
        raise BinlakeError(
            f"replication task {identifier} is already {task.status} (process {task.pid})",
            fix=f"stop-replication-task --replication-task-arn {identifier} first",
        )
    store.add_event(identifier, "state change", "Replication task started")
    return tasks_api.get(store, identifier)


def request_stop(store: StateStore, identifier: str) -> tasks_api.ReplicationTask:
    task = tasks_api.refresh(store, tasks_api.get(store, identifier))
    if not task.active:
        raise BinlakeError(
            f"replication task {identifier} is not running (status {task.status})",
            fix="nothing to stop; start it with start-replication-task",
        )
    tasks_api.update(store, identifier, desired_state="stopped", status=TaskStatus.STOPPING.value)
    store.add_event(identifier, "state change", "Stop requested")
    return tasks_api.get(store, identifier)


def select_tables(address: SourceAddress, mappings: TableMappings) -> list[TablePlan]:
    source = Source(address)
    names = [(s, t) for s, t in source.list_tables() if mappings.selects(s, t)]
    if not names:
        raise BinlakeError(
            f"the table mappings select no table on {address.host}:{address.port}",
            fix="check the selection rules' schema-name and table-name (% is the wildcard)",
        )
    return [plan_table(table, mappings) for table in source.describe_tables(names)]


@dataclass(frozen=True)
class PreparedTask:
    """What the prepare phase found: the task's settings, its source and target, and the tables to load."""

    settings: ReplicationTaskSettings
    mappings: TableMappings
    address: SourceAddress
    bucket: Bucket
    s3: S3Settings
    loads: bool  # the migration type has a full load
    captures: bool  # ... and CDC
    resume: bool  # resume-processing: completed tables are not loaded again, CDC starts at the checkpoint
    plans: list[TablePlan]


class TaskRunner:
    """Runs one task to its end in this process."""

    def __init__(self, store: StateStore, identifier: str) -> None:
        self.store = store
        self.identifier = identifier
        self.stop_event = threading.Event()
        self._watcher = threading.Thread(target=self._watch_stop, daemon=True, name="stop-watcher")
        self._done = threading.Event()
        self.sampler = MetricsSampler(store, identifier)
        self.stop_reason: str | None = None

    def request_stop(self, why: str) -> None:
        """Stop at the next batch boundary, as stop-replication-task does (safe to call from a signal handler)."""
        self.stop_reason = why
        self.stop_event.set()

    def _watch_stop(self) -> None:
        while not self._done.wait(STOP_POLL_SECONDS):
            if self.stop_reason:
                return
            if tasks_api.stop_requested(self.store, self.identifier):
                log.info("Stop request received; stopping at the next batch boundary")
                self.stop_event.set()
                return

    def run(
        self, start_type: StartType, cdc_start_position: str | None = None, cdc_start_time: str | None = None
    ) -> tasks_api.ReplicationTask:
        task = claim(self.store, self.identifier, os.getpid())
        handler = self._attach_log()
        self._watcher.start()
        self.sampler.start()
        try:
            self._run(task, start_type, cdc_start_position, cdc_start_time)
        except BinlakeError as exc:
            self._finish(TaskStatus.FAILED, "FATAL_ERROR", str(exc))
            raise
        except BaseException as exc:
            self._finish(TaskStatus.FAILED, "FATAL_ERROR", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.sampler.stop()
            self._done.set()
            logging.getLogger("binlake").removeHandler(handler)
            handler.close()
        return tasks_api.get(self.store, self.identifier)

    def _attach_log(self) -> logging.Handler:
        handler = logging.FileHandler(task_dir(self.store, self.identifier) / "task.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        root = logging.getLogger("binlake")
        root.addHandler(handler)
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)
        return handler

    def _run(
        self,
        task: tasks_api.ReplicationTask,
        start_type: StartType,
        cdc_start_position: str | None,
        cdc_start_time: str | None,
    ) -> None:
        """The three phases: prepare (checks, tables, start type), full load, CDC."""
        prepared = self._prepare(task, start_type)
        loader = FullLoad(
            self.store, self.identifier, prepared.address, prepared.bucket, prepared.s3,
            prepared.settings.FullLoadSettings, self.stop_event,
        )  # fmt: skip
        if prepared.loads and prepared.plans and not self._full_load_phase(loader, prepared):
            return
        if not prepared.captures:
            self._finish(TaskStatus.STOPPED, STOP_REASON_FULL_LOAD_DONE, None)
            return
        if not prepared.loads:
            for plan in prepared.plans:
                loader.register_completed(plan)
        self._cdc_phase(prepared, cdc_start_position, cdc_start_time)
        self._finish(TaskStatus.STOPPED, STOP_REASON_USER, None)

    def _prepare(self, task: tasks_api.ReplicationTask, start_type: StartType) -> PreparedTask:
        """Read the task's endpoints and settings, check source and target, pick the tables still to load,
        and mark the task running."""
        source = endpoints_api.get(self.store, task.source_endpoint)
        target = endpoints_api.get(self.store, task.target_endpoint)
        assert target.S3Settings is not None
        settings = ReplicationTaskSettings.parse(task.settings)
        mappings = TableMappings.parse(task.table_mappings)
        address = endpoint_address(source)
        bucket = Bucket.open(target.S3Settings)
        bucket.check_writable()
        migration = MigrationType(task.migration_type)
        loads, captures = migration != MigrationType.CDC, migration != MigrationType.FULL_LOAD
        if captures:
            check_cdc_source(address, None)
        plans = select_tables(address, mappings)
        tables = [(p.source.schema, p.source.name) for p in plans]
        check_target_folders(tables, mappings, target.S3Settings)
        order_column = target.S3Settings.CdcCommitOrderColumnName
        if captures and order_column:
            for plan in plans:
                check_columns(order_column, plan.target_names, (plan.source.schema, plan.source.name))
        remove_stale_temp_files(self.store, self.identifier, bucket, mappings, target.S3Settings, tables)
        resume = start_type == StartType.RESUME_PROCESSING
        if not resume and captures:
            tasks_api.update(
                self.store, self.identifier, cdc_checkpoint=None, cdc_checkpoint_gtid=None, cdc_open_transactions=None
            )
        if resume:
            done = {
                (r.schema_name, r.table_name)
                for r in tasks_api.table_statistics(self.store, self.identifier)
                if r.table_state == "Table completed"
            }
            plans = [p for p in plans if (p.source.schema, p.source.name) not in done]
        tasks_api.update(self.store, self.identifier, status=TaskStatus.RUNNING.value)
        return PreparedTask(settings, mappings, address, bucket, target.S3Settings, loads, captures, resume, plans)

    def _full_load_phase(self, loader: FullLoad, prepared: PreparedTask) -> bool:
        """Load the prepared tables; False when the task ended there (a table failed, or a stop)."""
        log.info("Task %s running: %d tables to load", self.identifier, len(prepared.plans))
        tasks_api.update(self.store, self.identifier, full_load_started_at=utcnow(), full_load_finished_at=None)
        result = self._load_recovering(loader, prepared.plans, prepared.settings)
        return self._full_load_succeeded(result)

    def _cdc_phase(self, prepared: PreparedTask, cdc_start_position: str | None, cdc_start_time: str | None) -> None:
        """Stream changes until a stop, restarting from the checkpoint after recoverable errors."""
        from binlake.engine.cdc import CdcRunner

        address, settings, mappings = prepared.address, prepared.settings, prepared.mappings
        start, gtid = self._cdc_start(address, prepared.loads, prepared.resume, cdc_start_position, cdc_start_time)
        check_cdc_source(address, None if gtid else start)
        reload_loader = FullLoad(
            self.store,
            self.identifier,
            address,
            prepared.bucket,
            prepared.s3,
            replace(settings.FullLoadSettings, TargetTablePrepMode="DROP_AND_CREATE"),
            self.stop_event,
        )
        waits = settings.ErrorBehavior.waits()
        while True:
            runner = CdcRunner(
                self.store,
                self.identifier,
                address,
                prepared.bucket,
                prepared.s3,
                mappings,
                self.stop_event,
                lambda schema, table: reload_loader.reload(schema, table, mappings),
                spill_dir=task_dir(self.store, self.identifier) / "spill",
                memory_limit=settings.ChangeProcessingTuning.MemoryLimitTotal * 1024 * 1024,
            )
            self.sampler.watch(runner)
            began = time.monotonic()
            try:
                runner.run(start, gtid)
                break
            except Exception as exc:
                if not is_recoverable(exc):
                    raise
                # Lost connection or a passing S3 error: resume from the checkpoint; the intent log makes
                # the batch in flight safe to write again.
                checkpoint = tasks_api.get(self.store, self.identifier).checkpoint_position
                if checkpoint:
                    start, gtid = checkpoint, None
                if runner.changes_seen or time.monotonic() - began > RECOVERED_AFTER_SECONDS:
                    waits = settings.ErrorBehavior.waits()  # it had recovered: a new error starts a new series
                wait = next(waits, None)
                if wait is None:
                    raise BinlakeError(
                        f"gave up recovering from a recoverable error ({getattr(exc, 'message', exc)})",
                        fix="bring the source or target back, then start-replication-task "
                        "--start-replication-task-type resume-processing (ErrorBehavior.RecoverableErrorCount "
                        "sets how often a task retries)",
                    ) from None
                log.warning("CDC interrupted (%s); resuming from %s in %.0fs", exc, start, wait)
                self.store.add_event(
                    self.identifier, "recovery", f"CDC interrupted, resuming from {start} in {wait:.0f}s: {exc}"
                )
                if self.stop_event.wait(wait):
                    break

    def _cdc_start(
        self,
        address: SourceAddress,
        loaded: bool,
        resume: bool,
        cdc_start_position: str | None,
        cdc_start_time: str | None,
    ) -> tuple[BinlogPosition, str | None]:
        """Where CDC starts: a binlog position, or (MariaDB) a GTID position with a placeholder position."""
        task = tasks_api.get(self.store, self.identifier)
        if resume and task.checkpoint_position:
            return task.checkpoint_position, None
        if cdc_start_position:
            parsed = parse_start_position(cdc_start_position)
            if isinstance(parsed, str):
                return BinlogPosition("", 4), parsed
            return parsed, None
        if cdc_start_time:
            from binlake.capture.time_search import position_at_time

            return position_at_time(address, parse_start_time(cdc_start_time)), None
        if loaded:
            snapshots = [
                r.snapshot_position
                for r in tasks_api.table_statistics(self.store, self.identifier)
                if r.snapshot_position
            ]
            if snapshots:
                return min(snapshots), None
        return Source(address).current_position(), None

    def _load_recovering(
        self, loader: FullLoad, plans: list[TablePlan], settings: ReplicationTaskSettings
    ) -> FullLoadResult:
        """Run the full load; tables that failed on a recoverable error (the source restarting, say) are
        loaded again, afresh, after ErrorBehavior's waits, while the others keep their result."""
        result = loader.run(plans)
        waits = settings.ErrorBehavior.waits()
        while result.failures and all(is_recoverable(exc) for exc in result.failures.values()):
            wait = next(waits, None)
            if wait is None:
                break
            table, message = next(iter(result.errors.items()))
            log.warning("Full load of %d tables interrupted (%s: %s); loading them again in %.0fs",
                        len(result.errors), table, message, wait)  # fmt: skip
            self.store.add_event(
                self.identifier, "recovery", f"Full load interrupted, reloading {', '.join(result.errors)} in "
                f"{wait:.0f}s: {message}",
            )  # fmt: skip
            if self.stop_event.wait(wait):
                return FullLoadResult(result.completed, {}, result.cancelled + list(result.errors))
            again = loader.run([p for p in plans if p.label in result.errors])
            result = FullLoadResult(
                result.completed + again.completed, again.errors, result.cancelled + again.cancelled, again.failures
            )
        return result

    def _full_load_succeeded(self, result: FullLoadResult) -> bool:
        if result.errors:
            table, message = next(iter(result.errors.items()))
            self._finish(TaskStatus.FAILED, "FATAL_ERROR", f"table {table}: {message}")
            return False
        if result.cancelled:
            self._finish(TaskStatus.STOPPED, STOP_REASON_USER, None)
            return False
        tasks_api.update(self.store, self.identifier, full_load_finished_at=utcnow())
        self.store.add_event(self.identifier, "state change", "Full load completed")
        return True

    def _finish(self, status: TaskStatus, reason: str, failure: str | None) -> None:
        if self.stop_reason:
            log.info("%s received; stopped at a batch boundary", self.stop_reason)
            self.store.add_event(self.identifier, "state change", f"Stop requested ({self.stop_reason})")
        tasks_api.update(
            self.store,
            self.identifier,
            status=status.value,
            stop_reason=reason,
            last_failure_message=failure,
            stopped_at=utcnow(),
            pid=None,
            desired_state=None,
        )
        if failure:
            self.store.add_event(self.identifier, "failure", f"Replication task failed: {failure}")
            log.error("Task %s failed: %s", self.identifier, failure)
        else:
            self.store.add_event(self.identifier, "state change", f"Replication task stopped ({reason})")
            log.info("Task %s stopped: %s", self.identifier, reason)
