"""How each contender of bench/run.py is started: its command line, and for binlake's CDC task when it is done.

Full load (one table of a database into Parquet under ``lake``):
  * ``mariadb-client``: ``mariadb --quick --batch -e 'SELECT * FROM t' > /dev/null`` (the C client: the limit for
    one client core; it writes no Parquet);
  * ``connectorx``: bench/connectorx_load.py (Rust, whole table → Arrow → Parquet);
  * ``pymysql-loop`` / ``mysqlclient-loop``: bench/pymysql_loop.py (SSCursor + fetchmany → Arrow → Parquet);
  * ``dlt``: bench/dlt_load.py, the pyarrow backend;
  * ``binlake`` / ``binlake-python``: a full-load task, its compiled reader or (BINLAKE_PURE_PYTHON=1) the
    pure-Python one.

CDC (one binlog range of bench/workload.py):
  * ``mariadb-binlog``: ``--read-from-remote-server --verbose --base64-output=DECODE-ROWS``, its row lines counted
    by ``grep -c`` (the C decoder: the limit);
  * ``plain-loop``: bench/plain_loop.py (python-mysql-replication, every row into a dict);
  * ``binlake`` / ``binlake-python``: a cdc task from the range's start at DMS's default file settings
    (CdcMaxBatchInterval 60, CdcMinFileSize 32000), timed until its checkpoint passes the range's end; then it is
    asked to stop.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from harness import Measured, SandboxServer, measure
from workload import Position, Workload, binlog_files, fmt_position, parse_position

BENCH_DIR = Path(__file__).resolve().parent
FULL_LOAD = ("mariadb-client", "connectorx", "pymysql-loop", "mysqlclient-loop", "dlt", "binlake", "binlake-python")
CDC = ("mariadb-binlog", "plain-loop", "binlake", "binlake-python")
LIMITS = {"full_load": "mariadb-client", "cdc": "mariadb-binlog"}
TASK = "t"
DMS_DEFAULTS = {"CdcMaxBatchInterval": 60, "CdcMinFileSize": 32_000}
ROW_LINE = r"^### (INSERT INTO|UPDATE|DELETE FROM) "  # one per row image set in mariadb-binlog --verbose output


def contender_env(contender: str, run_dir: Path) -> dict[str, str]:
    """The child's environment: binlake-python forces the pure-Python paths; dlt keeps its files in the run."""
    env = dict(os.environ)
    env.pop("BINLAKE_PURE_PYTHON", None)
    if contender == "binlake-python":
        env["BINLAKE_PURE_PYTHON"] = "1"
    if contender == "dlt":
        env.update(RUNTIME__DLTHUB_TELEMETRY="false", DLT_DATA_DIR=str(run_dir / "dlt_data"))
    return env


def connection_args(server: SandboxServer) -> list[str]:
    info = server.info
    assert info is not None
    return [
        *["--host", info.host, "--port", str(info.port), "--user", info.user],
        *["--password-file", info.password_file],
    ]


def binlake_cli(state: Path) -> list[str]:
    return [sys.executable, "-m", "binlake", "--state-dir", str(state)]


def create_binlake_task(
    server: SandboxServer, state: Path, lake: Path, schema: str, table: str, migration_type: str, s3: dict[str, Any]
) -> None:
    """Source and target endpoints and a task selecting ``schema.table``, created through the CLI (not timed)."""
    info = server.info
    assert info is not None
    rule = {
        "rule-type": "selection",
        "rule-id": "1",
        "rule-name": "1",
        "object-locator": {"schema-name": schema, "table-name": table},
        "rule-action": "include",
    }
    target = {"BucketName": str(lake), "BucketFolder": "hub", **s3}
    for step in (
        [
            *["create-endpoint", "--endpoint-identifier", "src", "--endpoint-type", "source"],
            *["--engine-name", "mariadb", "--server-name", info.host, "--port", str(info.port)],
            *["--username", info.user, "--password-file", info.password_file],
        ],
        [
            *["create-endpoint", "--endpoint-identifier", "lake", "--endpoint-type", "target"],
            *["--engine-name", "s3", "--s3-settings", json.dumps(target)],
        ],
        [
            *["create-replication-task", "--replication-task-identifier", TASK, "--source-endpoint-arn", "src"],
            *["--target-endpoint-arn", "lake", "--migration-type", migration_type],
            *["--table-mappings", json.dumps({"rules": [rule]})],
        ],
    ):
        done = subprocess.run([*binlake_cli(state), *step], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"binlake {step[0]} failed: {done.stderr.strip() or done.stdout.strip()}")


def start_command(state: Path, *extra: str) -> list[str]:
    start = ["start-replication-task", "--replication-task-arn", TASK, "--start-replication-task-type"]
    return [*binlake_cli(state), *start, "start-replication", "--quiet", *extra]


# -- full load --------------------------------------------------------------------------------------------------------
def full_load_command(
    contender: str, server: SandboxServer, database: str, table: str, run_dir: Path, lake: Path
) -> list[str] | str:
    """The timed command; binlake's endpoints and task are created here, before the clock starts."""
    info = server.info
    assert info is not None
    python = sys.executable
    where = [*connection_args(server), "--database", database, "--out", str(lake)]
    if contender == "mariadb-client":
        cnf = server.client_config(run_dir / "client.cnf")
        return (
            f"mariadb --defaults-extra-file={cnf} -h {info.host} -P {info.port} -u {info.user} --quick --batch "
            f"-e 'SELECT * FROM `{database}`.`{table}`' > /dev/null"
        )
    if contender == "connectorx":
        return [python, str(BENCH_DIR / "connectorx_load.py"), *where, table]
    if contender in ("pymysql-loop", "mysqlclient-loop"):
        driver = contender.removesuffix("-loop")
        return [python, str(BENCH_DIR / "pymysql_loop.py"), *where, "--driver", driver, table]
    if contender == "dlt":
        work = ["--work", str(run_dir / "work"), "--backend", "pyarrow"]
        return [python, str(BENCH_DIR / "dlt_load.py"), *where, *work, table]
    if contender in ("binlake", "binlake-python"):
        create_binlake_task(server, run_dir / "state", lake, database, table, "full-load", {})
        return start_command(run_dir / "state")
    raise ValueError(f"unknown full-load contender {contender}")


def parquet_rows(lake: Path) -> tuple[int | None, int]:
    """Rows and bytes of the Parquet files under ``lake`` (None rows when there is none)."""
    files = sorted(p for p in lake.rglob("*.parquet") if p.is_file())
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files) if files else None
    return rows, sum(p.stat().st_size for p in files)


# -- CDC ---------------------------------------------------------------------------------------------------------
def c_decoder_command(server: SandboxServer, workload: Workload, run_dir: Path) -> str:
    """mariadb-binlog over the range, its text piped into ``grep -c`` (which counts the rows) → count.txt."""
    info = server.info
    assert info is not None
    cnf = server.client_config(run_dir / "client.cnf")  # the password stays off the command line
    files = binlog_files(server, workload.before, workload.after)
    decoder = [
        "mariadb-binlog",
        f"--defaults-extra-file={cnf}",
        *["--read-from-remote-server", "--host", info.host, "--port", str(info.port), "--user", info.user],
        *["--verbose", "--base64-output=DECODE-ROWS"],
        *[f"--start-position={workload.before[1]}", f"--stop-position={workload.after[1]}", *files],
    ]
    count = run_dir / "count.txt"
    return f"{shlex.join(decoder)} | grep -c -E {shlex.quote(ROW_LINE)} > {shlex.quote(str(count))}"


def c_decoder_changes(run_dir: Path) -> int:
    path = run_dir / "count.txt"
    return int(path.read_text().strip() or 0) if path.exists() else 0


def plain_loop_command(
    server: SandboxServer, workload: Workload, run_dir: Path, server_id: int, max_changes: int
) -> list[str]:
    return [
        *[sys.executable, str(BENCH_DIR / "plain_loop.py"), *connection_args(server)],
        *["--start", fmt_position(workload.before), "--end", fmt_position(workload.after)],
        *["--server-id", str(server_id), "--max-changes", str(max_changes), "--result", str(run_dir / "result.json")],
    ]


def plain_loop_changes(run_dir: Path) -> dict[str, int]:
    path = run_dir / "result.json"
    return dict(json.loads(path.read_text())["counts"]) if path.exists() else {}


def cdc_op_counts(folder: Path) -> tuple[dict[str, int], int]:
    """Op counts and file count of the CDC Parquet files in a table folder."""
    counts: Counter[str] = Counter()
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    for path in files:
        for item in pc.value_counts(pq.read_table(path, columns=["Op"])["Op"]).to_pylist():
            counts[item["values"]] += item["counts"]
    return dict(counts), len(files)


class CheckpointWatch:
    """Polled by harness.measure while a binlake cdc task runs. Once the task has read past the range's end it is
    asked to stop, which flushes the last batch at once rather than CdcMaxBatchInterval later; the run's time is
    when the checkpoint (moved only after the files are published) passes the end.

    The stop request is written into the state store here, as ``stop-replication-task --no-wait`` writes it:
    that command's interpreter start-up takes seconds on a loaded machine, which would count against binlake."""

    def __init__(self, state: Path, end: Position, timeout: float) -> None:
        self.state = state
        self.end = end
        self.timeout = timeout
        self.read_at: float | None = None
        self.done_at: float | None = None
        self._db: sqlite3.Connection | None = None

    def _positions(self) -> tuple[str | None, str | None]:
        if self._db is None:
            if not (self.state / "state.db").exists():
                return None, None
            self._db = sqlite3.connect(self.state / "state.db", timeout=30, isolation_level=None)
        try:
            row = self._db.execute(
                "SELECT cdc_read_position, cdc_checkpoint FROM tasks WHERE identifier = ?", (TASK,)
            ).fetchone()
        except sqlite3.OperationalError:  # locked for a moment, or not created yet
            return None, None
        return (row[0], row[1]) if row else (None, None)

    def passed(self, text: str | None) -> bool:
        return bool(text) and parse_position(text or "") >= self.end

    def __call__(self, elapsed: float) -> None:
        read, checkpoint = self._positions()
        if self.read_at is None and (self.passed(read) or self.passed(checkpoint)):
            self.read_at = elapsed
            assert self._db is not None
            self._db.execute(
                "UPDATE tasks SET desired_state = 'stopped', status = 'stopping' WHERE identifier = ?", (TASK,)
            )
        if self.done_at is None and self.passed(checkpoint):
            self.done_at = elapsed
        if elapsed > self.timeout or (self.read_at is not None and elapsed - self.read_at > 120):
            raise TimeoutError(f"the binlake task did not finish in time (read to the end at {self.read_at} s)")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


def run_binlake_cdc(
    contender: str, server: SandboxServer, workload: Workload, schema: str, run_dir: Path, timeout: float
) -> tuple[Measured, dict[str, int], dict[str, Any]]:
    """A cdc task over the workload's range; returns the measurement (seconds: until the checkpoint passed the
    end), the lake's Op counts and details."""
    state, lake = run_dir / "state", run_dir / "lake"
    lake.mkdir(exist_ok=True)
    create_binlake_task(server, state, lake, schema, workload.table, "cdc", DMS_DEFAULTS)
    cmd = start_command(state, "--cdc-start-position", fmt_position(workload.before))
    watch = CheckpointWatch(state, workload.after, timeout)
    env = contender_env(contender, run_dir)
    try:
        measured = measure(cmd, run_dir / "output.log", server.pid, env, timeout + 120, poll=watch)
    finally:
        watch.close()
    counts, files = cdc_op_counts(lake / "hub" / schema / workload.table)
    process_seconds = measured.seconds
    if watch.done_at is not None:
        measured.seconds = watch.done_at
    detail = {"files": files, "process_seconds": round(process_seconds, 2), "read_seconds": watch.read_at}
    detail["complete"] = watch.done_at is not None
    return measured, counts, detail
