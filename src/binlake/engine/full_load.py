"""Full load: every selected table streamed from a consistent snapshot into LOAD files.

Tables load in parallel up to MaxFullLoadSubTasks, each on its own connection, each in bounded memory
(CommitRate rows per read, row groups and files bounded by MaxFileSize). Statistics are written to the
state store every PROGRESS_SECONDS (and at the end) so other processes see progress.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from binlake.capture.snapshot import read_batches
from binlake.config.endpoint import S3Settings
from binlake.config.mappings import TableMappings
from binlake.config.task_settings import FullLoadSettings
from binlake.dms import TableState
from binlake.dms_columns import with_dms_columns
from binlake.engine.target_folders import check_new_table
from binlake.errors import BinlakeError, TransientError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress, explain
from binlake.source.plan import TablePlan, plan_table
from binlake.source.server import Source
from binlake.source.types import DecodeCounters
from binlake.state import statistics
from binlake.state.store import StateStore
from binlake.target import naming
from binlake.target.background import BackgroundWriter
from binlake.target.store import Bucket
from binlake.target.writer import RollingFileWriter, output_schema
from binlake.text import plural

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1)
# Seconds between progress updates of FullLoadRows: each is a durable SQLite commit (an fsync, ~5 ms here), and
# one per batch stalled the loop, and so the reader behind it, for 0.5 s per million rows.
PROGRESS_SECONDS = 0.5
# Seconds between attempts to load a table after a transient failure (about 2 minutes in all).
TRANSIENT_BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 60.0)


class StopRequested(Exception):
    """The task was asked to stop; raised between batches."""


@dataclass
class FullLoadResult:
    completed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    failures: dict[str, Exception] = field(default_factory=dict)  # the exception behind each error


class FullLoad:
    def __init__(
        self,
        store: StateStore,
        task_id: str,
        address: SourceAddress,
        bucket: Bucket,
        s3: S3Settings,
        settings: FullLoadSettings,
        stop: threading.Event,
    ) -> None:
        self.store = store
        self.task_id = task_id
        self.address = address
        self.bucket = bucket
        self.s3 = s3
        self.settings = settings
        self.stop = stop

    def run(self, plans: list[TablePlan], keep_cdc_counters: bool = False) -> FullLoadResult:
        """Load ``plans``; a reload in the middle of CDC keeps the tables' Inserts/Updates/Deletes/Ddls."""
        result = FullLoadResult()
        for plan in plans:
            self._set_state(plan, TableState.BEFORE_LOAD, reset=True, keep_cdc_counters=keep_cdc_counters)
        # Decoding holds the GIL most of the time (measured: client CPU ≈ wall time), so threads beyond
        # half the cores only contend; MaxFullLoadSubTasks stays the upper bound, as in DMS.
        workers = min(self.settings.MaxFullLoadSubTasks, max(len(plans), 1), max(1, (os.cpu_count() or 2) // 2))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="full-load") as pool:
            outcomes = list(pool.map(self._load_table_safely, plans))
        for plan, outcome in zip(plans, outcomes, strict=True):
            if outcome is None:
                result.completed.append(plan.label)
            elif isinstance(outcome, StopRequested):
                result.cancelled.append(plan.label)
            else:
                result.errors[plan.label] = str(outcome)
                result.failures[plan.label] = outcome
        return result

    def register_completed(self, plan: TablePlan) -> None:
        """A cdc-only task's table: no full load, so it is complete from the start (as in DMS)."""
        statistics.register_completed(
            self.store, self.task_id, plan.source.schema, plan.source.name, plan.target_schema, plan.target_table,
            plan.target_key,
        )  # fmt: skip

    def reload(self, schema: str, table: str, mappings: TableMappings) -> BinlogPosition | None:
        """Load one table again from a fresh snapshot (after CREATE or TRUNCATE mid-stream); returns the
        snapshot's position, or None when the table no longer exists."""
        source = Source(self.address).describe_table(schema, table)
        if not source.columns:
            return None
        check_new_table(self.store, self.task_id, mappings, self.s3, schema, table)
        result = self.run([plan_table(source, mappings)], keep_cdc_counters=True)
        if result.errors:
            raise BinlakeError(f"reloading {schema}.{table} failed: {next(iter(result.errors.values()))}")
        if result.cancelled:
            raise StopRequested()
        stats = statistics.get(self.store, self.task_id, schema, table)
        return stats.snapshot_position if stats else None

    def _load_table_safely(self, plan: TablePlan) -> Exception | None:
        if self.stop.is_set():
            self._set_state(plan, TableState.TABLE_CANCELLED)
            return StopRequested()
        try:
            self._load_table_retrying(plan)
        except StopRequested as exc:
            self._set_state(plan, TableState.TABLE_CANCELLED)
            self.store.add_event(self.task_id, "state change", f"Full load cancelled for table {plan.label}")
            return exc
        except BinlakeError as exc:
            self._fail_table(plan, str(exc))
            return exc
        except Exception as exc:
            log.exception("Full load failed for table %s", plan.label)
            self._fail_table(plan, f"{type(exc).__name__}: {exc}")
            return exc
        return None

    def _load_table_retrying(self, plan: TablePlan) -> None:
        """Load the table; after a transient failure (S3 unreachable, 5xx, throttling) load it again from a
        fresh snapshot, with backoff. The failed attempt's published files are removed (and DROP_AND_CREATE
        empties the folder anyway), so no row is loaded twice."""
        for delay in [*TRANSIENT_BACKOFF, None]:
            try:
                self._load_table(plan)
                return
            except TransientError as exc:
                if delay is None:
                    raise
                log.warning("Full load of %s interrupted (%s); loading it again in %.0fs", plan.label, exc, delay)
                self.store.add_event(self.task_id, "warning", f"Full load of {plan.label} interrupted, retrying: {exc}")
                if self.stop.wait(delay):
                    raise StopRequested() from None

    def _fail_table(self, plan: TablePlan, message: str) -> None:
        self._set_state(plan, TableState.TABLE_ERROR)
        self.store.add_event(self.task_id, "failure", f"Table error on {plan.label}: {message}")
        log.error("Table error on %s: %s", plan.label, message)

    def _set_state(
        self, plan: TablePlan, state: TableState, reset: bool = False, keep_cdc_counters: bool = False
    ) -> None:
        if reset:
            statistics.reset_for_load(
                self.store, self.task_id, plan.source.schema, plan.source.name, plan.target_schema,
                plan.target_table, plan.target_key, state, plan.source.estimated_rows, keep_cdc_counters,
            )  # fmt: skip
            return
        statistics.set_state(self.store, self.task_id, plan.source.schema, plan.source.name, state)

    def _load_table(self, plan: TablePlan) -> None:
        prefix = naming.table_prefix(self.s3.BucketFolder, plan.target_schema, plan.target_table)
        first_sequence = 1
        if self.settings.TargetTablePrepMode == "DO_NOTHING":
            existing = [naming.LOAD_FILE.match(o.path.rpartition("/")[2]) for o in self.bucket.list(prefix)]
            first_sequence = 1 + max((int(m.group(1)) for m in existing if m), default=0)
        else:
            self.bucket.delete_prefix(prefix)
        statistics.full_load_started(self.store, self.task_id, plan.source.schema, plan.source.name)
        self.store.add_event(self.task_id, "state change", f"Full load started for table {plan.label}")
        log.info("Full load started for table %s", plan.label)

        source = Source(self.address)
        conn = source.connect(raw=True)
        counters = DecodeCounters()
        extension = self.s3.extension
        # Row groups are encoded (and files published and fsynced) on a thread of the writer's own, while this
        # thread takes the next batches from the reader: both release the GIL, so they overlap on two cores.
        writer = BackgroundWriter(
            RollingFileWriter(
                self.bucket,
                prefix,
                self.s3,
                output_schema(self.s3, plan.arrow_schema(), with_op=self.s3.IncludeOpForFullLoad),
                lambda sequence: naming.load_file_name(sequence, extension),
                first_sequence,
            ),
            self.bucket,
        )
        rows = 0
        try:
            position = source.start_snapshot(conn)
            if position is not None:
                statistics.set_snapshot_position(
                    self.store, self.task_id, plan.source.schema, plan.source.name, position
                )
            load_time = datetime.now(UTC).replace(tzinfo=None)
            progress_at = 0.0
            for batch in read_batches(conn, plan.source, plan.columns, self.settings.CommitRate, counters):
                if self.stop.is_set():
                    raise StopRequested()
                writer.write(self._decorate(batch, plan, load_time))
                rows += batch.num_rows
                if time.monotonic() >= progress_at:
                    statistics.set_full_load_rows(self.store, self.task_id, plan.source.schema, plan.source.name, rows)
                    progress_at = time.monotonic() + PROGRESS_SECONDS
            files = writer.close()
            self.bucket.sync()  # the LOAD files are durable before the table is recorded complete
        except BaseException as exc:
            writer.abort()
            if isinstance(exc, _mysql_error()):
                raise explain(exc, self.address) from None
            if isinstance(exc, OSError) and not self.bucket.local:
                exc = self.bucket.explain(exc)
            if isinstance(exc, TransientError):
                for path in writer.published:  # the next attempt writes them again (DO_NOTHING keeps the rest)
                    self.bucket.discard(path, strict=False)
                raise exc from None
            raise
        finally:
            conn.close()
        statistics.full_load_finished(
            self.store, self.task_id, plan.source.schema, plan.source.name, rows, len(files), counters.zero_dates
        )
        if counters.zero_dates:
            log.warning("Table %s: %d zero or invalid dates written as NULL", plan.label, counters.zero_dates)
            self.store.add_event(
                self.task_id, "warning", f"{counters.zero_dates} zero dates in {plan.label} written as NULL"
            )
        self.store.add_event(
            self.task_id,
            "state change",
            f"Full load finished for table {plan.label}: {plural(rows, 'row')} in {plural(len(files), 'file')}",
        )
        log.info("Full load finished for table %s: %d rows, %d files", plan.label, rows, len(files))

    def _decorate(self, batch: pa.RecordBatch, plan: TablePlan, load_time: datetime) -> pa.RecordBatch:
        """Rename to target names and prepend DMS's Op and timestamp columns where asked."""
        rows = batch.num_rows
        micros = [(load_time - EPOCH) // timedelta(microseconds=1)] * rows if self.s3.TimestampColumnName else []
        ops = ["I"] * rows if self.s3.IncludeOpForFullLoad else None
        return with_dms_columns(
            list(batch.columns), plan.target_names, ops, self.s3.TimestampColumnName, micros,
            self.s3.TimestampColumnType,
        )  # fmt: skip


def _mysql_error() -> type[Exception]:
    import MySQLdb

    return MySQLdb.Error
