"""``binlake verify``: the guide's automated verification script and its 8 success criteria, made exact.

Each check gives ✓ or ✗, the evidence (numbers, names) and, when it fails, the cause and the fix drawn
from the guide's Troubleshooting section. Criterion 4 (row counts) is an exact comparison of every column
as of one binlog position (see compare.py).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import MySQLdb

from binlake.catalog.crawler import META_SCHEMA, open_catalog, open_catalog_for_queries
from binlake.catalog.lake import Lake, open_lake
from binlake.catalog.sql import ident
from binlake.config.mappings import PROBE_SCHEMA, TableMappings
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress, endpoint_address, explain
from binlake.source.plan import plan_table
from binlake.source.preflight import check_cdc_source
from binlake.source.schema import describe_table, quote
from binlake.source.server import Source
from binlake.state import endpoints as endpoints_api
from binlake.state import events as events_api
from binlake.state import statistics
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore
from binlake.target import naming
from binlake.text import plural
from binlake.verify.compare import TableComparison, compare_table, wait_until

PROBE_TABLE = "probe"
CHECKPOINT_WAIT_SECONDS = 60


@dataclass
class Check:
    name: str
    passed: bool
    evidence: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        shape: dict[str, Any] = {"Name": self.name, "Passed": self.passed, "Evidence": self.evidence}
        if self.fix:
            shape["Fix"] = self.fix
        if self.details:
            shape["Details"] = self.details
        return shape


@dataclass
class VerifyOptions:
    catalog: Path
    probe: bool = True
    probe_endpoint: str | None = None
    probe_table: str | None = None  # schema.table in the replicated data; default binlake_probe.probe
    cdc_deadline: float = 300.0


class Verifier:
    def __init__(self, store: StateStore, task_id: str, options: VerifyOptions) -> None:
        self.store = store
        self.task_id = task_id
        self.options = options
        self.task = tasks_api.refresh(store, tasks_api.get(store, task_id))
        self.source = endpoints_api.get(store, self.task.source_endpoint)
        self.mappings = TableMappings.parse(self.task.table_mappings)
        self.fix_cdc = (
            "CDC Not Working: check log_bin=ON and binlog_format=ROW on the source, the task's log "
            f"(binlake logs tail {task_id}), and that MigrationType includes cdc"
        )
        self.fix_resume = (
            f"binlake start-replication-task --replication-task-arn {task_id} "
            "--start-replication-task-type resume-processing"
        )

    def run(self) -> list[Check]:
        checks = [self.task_running(), self.tables_completed()]
        lake = open_lake(self.store, self.task_id)
        checks.append(self.data_present(lake))
        checks.append(self.rows_match(lake))
        if self.options.probe:
            checks.append(self.cdc_works(lake))
        checks.append(self.no_errors())
        catalog_check, catalog_tables = self.catalog_complete(lake)
        checks.append(catalog_check)
        checks.append(self.queryable(catalog_tables))
        return checks

    # 1
    def task_running(self) -> Check:
        task = self.task
        name = "Replication task status is running"
        if task.status == "running":
            return Check(name, True, f"{task.identifier} is running ({task.migration_type})")
        reason = task.last_failure_message or task.stop_reason or "not started"
        return Check(name, False, f"{task.identifier} is {task.status}: {reason}", fix=self.fix_resume)

    # 2
    def tables_completed(self) -> Check:
        rows = tasks_api.table_statistics(self.store, self.task_id)
        name = "All tables show Table completed"
        other = {r.label: r.table_state for r in rows if r.table_state != "Table completed"}
        if rows and not other:
            return Check(name, True, f"{plural(len(rows), 'table')} completed")
        evidence = ", ".join(f"{t}: {s}" for t, s in other.items()) or "no tables yet"
        return Check(name, False, evidence, fix=f"see binlake describe-table-statistics; then {self.fix_resume}")

    # 3
    def data_present(self, lake: Lake) -> Check:
        name = "Data appears in the target"
        empty = [t.label for t in lake.tables if not t.files]
        files = sum(len(t.files) for t in lake.tables)
        size = sum(f.size for t in lake.tables for f in t.files)
        if empty:
            return Check(
                name,
                False,
                f"no files for {', '.join(empty)} under {lake.bucket.url}",
                fix="check the task ran (No Data in S3: task not started, source connection, selection rules); "
                f"{self.fix_resume}",
            )
        return Check(name, True, f"{plural(files, 'file')}, {plural(size, 'byte')} under {lake.bucket.url}")

    # 4
    def rows_match(self, lake: Lake) -> Check:
        name = "Row counts match between source and target (every column, at one binlog position)"
        address = endpoint_address(self.source)
        results: list[TableComparison] = []
        conn = Source(address).connect()
        try:
            for table in lake.tables:
                source = describe_table(conn, table.source_schema, table.source_table)
                if not source.columns:
                    continue  # dropped in the source
                plan = plan_table(source, self.mappings)
                results.append(compare_table(lake, table, plan, address, self._wait_for_checkpoint))
        finally:
            conn.close()
        evidence = "; ".join(f"{r.table}: {r.source_rows} source = {r.target_rows} target rows" for r in results)
        bad = [r for r in results if not r.equal]
        details = {
            r.table: {
                "Position": str(r.position),
                "SourceRows": r.source_rows,
                "TargetRows": r.target_rows,
                "DifferingKeys": r.differing_keys,
                "Examples": r.examples,
                "MissingColumns": r.missing_columns,
            }
            for r in results
        }
        if not bad:
            return Check(name, True, evidence, details=details)
        first = bad[0]
        example = first.examples[0] if first.examples else {}
        where = json.dumps(example.get("key") or example.get("row"), default=str)
        columns = ", ".join(example.get("columns", {})) if example.get("columns") else ""
        evidence = (
            f"{first.table}: {first.differing_keys} differing keys at {first.position} "
            f"(source {first.source_rows}, target {first.target_rows} rows); first {where}: "
            f"{example.get('problem', 'differs')}{' in ' + columns if columns else ''}"
        )
        if first.missing_columns:
            evidence += f"; columns missing in the target: {', '.join(first.missing_columns)}"
        fix = (
            self.fix_resume
            if self.task.status != "running"
            else f"reload the table: binlake start-replication-task --replication-task-arn {self.task_id} "
            "--start-replication-task-type reload-target"
        )
        return Check(name, False, evidence, fix=fix, details=details)

    def _wait_for_checkpoint(self, position: BinlogPosition) -> None:
        if self.task.migration_type == "full-load":
            return

        def reached() -> bool:
            task = tasks_api.get(self.store, self.task_id)
            if task.status != "running":
                return True
            return task.checkpoint_position is not None and task.checkpoint_position >= position

        wait_until(reached, CHECKPOINT_WAIT_SECONDS)

    # 5
    def cdc_works(self, lake: Lake) -> Check:
        name = "CDC is working (a new insert appears in the target)"
        if self.task.migration_type == "full-load":
            return Check(name, False, "the task is full-load only", fix="create a full-load-and-cdc or cdc task")
        if self.task.status != "running":
            return Check(name, False, f"the task is {self.task.status}", fix=self.fix_resume)
        try:  # the guide's 'CDC Not Working' checks: log_bin, binlog_format (and binlake's own needs)
            check_cdc_source(endpoint_address(self.source), None)
        except BinlakeError as exc:
            return Check(name, False, exc.message, fix=exc.fix)
        endpoint = endpoints_api.get(self.store, self.options.probe_endpoint or self.task.source_endpoint)
        address = endpoint_address(endpoint)
        if not self.options.probe_table:
            return self._probe_checkpoint(name, address)
        schema, table = self._probe_table()
        if not self.mappings.selects(schema, table):
            return Check(
                name,
                False,
                f"the selection rules do not include the probe table {schema}.{table}",
                fix="pass --probe-table with a table name the rules include, or add it to the rules",
            )
        probe_id = uuid.uuid4().hex
        conn = Source(address).connect()
        try:
            cur = conn.cursor()
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{quote(table)} "
                "(probe_id VARCHAR(40) PRIMARY KEY, probed_at DATETIME(6) NOT NULL)"
            )
            registered = wait_until(lambda: self._table_known(schema, table), 30)
            if not registered:
                return Check(name, False, f"the task did not pick up {schema}.{table}", fix="check the task log")
            started = time.monotonic()
            cur.execute(f"INSERT INTO {quote(schema)}.{quote(table)} VALUES (%s, NOW(6))", (probe_id,))
        except MySQLdb.Error as exc:
            return self._probe_refused(name, exc, address, f"{schema}.{table}")
        finally:
            conn.close()
        prefix = naming.table_prefix(
            lake.settings.BucketFolder, self.mappings.target_schema(schema), self.mappings.target_table(schema, table)
        )
        found = wait_until(lambda: self._probe_visible(lake, prefix, probe_id), self.options.cdc_deadline)
        latency = time.monotonic() - started
        if not found:
            return Check(
                name,
                False,
                f"probe row {probe_id} not in {lake.bucket.url}/{prefix} after {self.options.cdc_deadline:.0f}s",
                fix=self.fix_cdc,
            )
        return Check(
            name,
            True,
            f"probe row in {schema}.{table} visible in the target after {latency:.2f}s",
            details={"LatencySeconds": round(latency, 3)},
        )

    def _probe_checkpoint(self, name: str, address: SourceAddress) -> Check:
        """Insert a row into binlake_probe.probe (a schema of its own, never replicated) and wait until the
        task's checkpoint passes its commit: by invariant 2, every change committed before it is then in the
        target, written and durable."""
        table = f"{PROBE_SCHEMA}.{PROBE_TABLE}"
        source = Source(address)
        conn = source.connect()
        try:
            cur = conn.cursor()
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {PROBE_SCHEMA}")
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (probe_id VARCHAR(40) PRIMARY KEY, probed_at DATETIME(6) NOT NULL)"
            )
            cur.execute(f"DELETE FROM {table} WHERE probed_at < NOW(6) - INTERVAL 1 DAY")  # keep it small
            started = time.monotonic()
            cur.execute(f"INSERT INTO {table} VALUES (%s, NOW(6))", (uuid.uuid4().hex,))
            probe = source.flavor.current_position(cur)
        except MySQLdb.Error as exc:
            return self._probe_refused(name, exc, address, table)
        finally:
            conn.close()
        if probe is None:
            return Check(name, False, f"binlog is off on {address.host}:{address.port}", fix=self.fix_resume)

        def passed() -> bool:
            task = tasks_api.get(self.store, self.task_id)
            return task.checkpoint_position is not None and task.checkpoint_position >= probe

        if not wait_until(passed, self.options.cdc_deadline):
            return Check(
                name,
                False,
                f"the task's checkpoint did not pass the probe row's commit ({probe}) within "
                f"{self.options.cdc_deadline:.0f}s",
                fix=self.fix_cdc,
            )
        latency = time.monotonic() - started
        return Check(
            name,
            True,
            f"a probe insert into {table} at {probe} was captured after {latency:.2f}s: every change committed "
            "before it is in the target",
            details={"LatencySeconds": round(latency, 3), "ProbePosition": str(probe)},
        )

    def _probe_refused(self, name: str, exc: MySQLdb.Error, address: SourceAddress, table: str) -> Check:
        error = explain(exc, address)
        return Check(
            name,
            False,
            f"cannot write the CDC probe row into {table} as {address.user}: {error.message}",
            fix="pass --probe-endpoint-arn with a source endpoint whose user may create and write "
            f"{table} (GRANT CREATE, INSERT, DELETE ON {PROBE_SCHEMA}.* TO ...), or --no-probe",
        )

    def _probe_table(self) -> tuple[str, str]:
        assert self.options.probe_table
        schema, _, table = self.options.probe_table.partition(".")
        if not table:
            raise BinlakeError("--probe-table needs schema.table", fix="e.g. --probe-table ecommerce_platform.probe")
        return schema, table

    def _table_known(self, schema: str, table: str) -> bool:
        return statistics.get(self.store, self.task_id, schema, table) is not None

    @staticmethod
    def _probe_visible(lake: Lake, prefix: str, probe_id: str) -> bool:
        import pyarrow.parquet as pq

        for info in lake.bucket.list(prefix):
            if not info.path.endswith(".parquet"):
                continue
            with lake.bucket.fs.open_input_file(lake.bucket.full(info.path)) as handle:
                table = pq.read_table(handle, columns=["probe_id"])
            if probe_id in table.column("probe_id").to_pylist():
                return True
        return False

    # 6
    def no_errors(self) -> Check:
        name = "No errors in the task's events and logs"
        since = self.task.started_at or self.task.created_at
        failures = events_api.list_events(self.store, since, task=self.task_id, categories=["failure"])
        log_path = self.store.state_dir / "tasks" / self.task_id / "task.log"
        errors = []
        if log_path.exists():
            stamp = since[:19].replace("T", " ")
            errors = [line for line in log_path.read_text().splitlines() if " ERROR " in line and line[:19] >= stamp]
        if not failures and not errors:
            return Check(name, True, f"no failure events or ERROR log lines since {since}")
        first = failures[0].message if failures else errors[0]
        return Check(
            name,
            False,
            f"{len(failures)} failure events, {len(errors)} ERROR lines since {since}; first: {first}",
            fix="Common Error Patterns: connection timeouts → check the host and port; authentication failures → "
            "check the endpoint's password; table not found → check selection rules; insufficient permissions → "
            "GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT",
        )

    # 7
    def catalog_complete(self, lake: Lake) -> tuple[Check, list[tuple[str, str]]]:
        name = "The crawler catalogued every table"
        fix = f"binlake crawl --replication-task-arn {self.task_id}"
        path = self.options.catalog
        if not path.exists():
            return Check(name, False, f"no catalog at {path}", fix=fix), []
        conn = open_catalog(path, read_only=True)
        try:
            rows = conn.execute(
                f"SELECT database, name, source FROM {META_SCHEMA}.tables WHERE task = ?", [self.task_id]
            ).fetchall()
        except duckdb.Error:
            rows = []
        finally:
            conn.close()
        catalogued = {source: (database, table) for database, table, source in rows}
        missing = [
            t.label
            for t in lake.tables
            if t.files and t.source_schema != PROBE_SCHEMA and f"{t.source_schema}.{t.source_table}" not in catalogued
        ]
        if missing:
            return Check(name, False, f"not in the catalog: {', '.join(missing)}", fix=fix), list(catalogued.values())
        listed = ", ".join(f"{d}.{t}" for d, t in catalogued.values())
        return Check(name, True, f"{plural(len(catalogued), 'table')}: {listed}"), list(catalogued.values())

    # 8
    def queryable(self, tables: list[tuple[str, str]]) -> Check:
        name = "The query engine can query the replicated data"
        if not tables:
            return Check(
                name, False, "no catalogued tables", fix=f"binlake crawl --replication-task-arn {self.task_id}"
            )
        conn = open_catalog_for_queries(self.options.catalog, self.store)
        counts = {}
        try:
            for database, table in tables:
                relation = table if self._has_view(conn, database, table) else f"{table}__changes"
                try:
                    (counts[f"{database}.{relation}"],) = conn.execute(
                        f"SELECT count(*) FROM {ident(database)}.{ident(relation)}"
                    ).fetchall()[0]
                except duckdb.Error as exc:
                    message = " ".join(str(exc).split())
                    return Check(
                        name,
                        False,
                        f"{database}.{relation}: {message}",
                        fix=f"binlake crawl --replication-task-arn {self.task_id}",
                    )
        finally:
            conn.close()
        return Check(name, True, ", ".join(f"{t}: {plural(n, 'row')}" for t, n in counts.items()))

    @staticmethod
    def _has_view(conn: duckdb.DuckDBPyConnection, database: str, table: str) -> bool:
        return bool(
            conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [database, table]
            ).fetchall()
        )
