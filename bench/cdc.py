"""CDC benchmark: binlake's throughput against a plain python-mysql-replication loop, its latency, its memory.

The script starts its own sandbox MariaDB (``binlake.sandbox``, under ``--work-dir``; never the system
server) and runs three parts, each selectable with ``--parts``:

(a) Throughput. A 12-column table shaped like the guide's ``orders`` (CHAR(36) UUID key, DECIMALs,
    DATETIME(6), ENUM, TEXT, VARCHAR, INT) receives ``--changes`` row changes in transactions of
    ``--txn-rows`` rows: 60 % inserts (INSERT ... SELECT FROM seq_1_to_N), 30 % updates, 10 % deletes,
    counted from the statements' affected rows (an update's before/after image pair is one change). The
    binlog positions before and after are noted; then every contender reads exactly that range, each in a
    child process of its own, one after the other (``--repeat`` rounds, median kept):

    * ``binlake``: a CDC task started with ``--cdc-start-position <before>``
      (CdcMaxBatchInterval ``--binlake-interval``, CdcMinFileSize ``--binlake-min-file-kb``). The clock runs
      from spawning ``start-replication-task`` until the task's checkpoint (tasks.cdc_checkpoint in the
      state db, moved only after the files are published) reaches ``<after>``. Once its read position has
      reached ``<after>`` the task is asked to stop, which flushes the last, partial batch at once instead
      of after CdcMaxBatchInterval.
    * ``plain-loop``: python-mysql-replication's BinLogStreamReader (non-blocking, only the three rows
      events) iterating every event's ``rows`` (a dict per row); no files.
    * ``binlake-decoder``: binlake's own BinlogStream + BinlogReader alone (no Arrow, no files).
    * ``binlake-dms-defaults``: the binlake task with DMS's defaults, CdcMinFileSize 32000 and
      CdcMaxBatchInterval 60 (same clock and stop).

(b) Latency. A detached CDC task with CdcMaxBatchInterval 0.5; a writer process issues ``--rate`` row
    changes per second (one transaction per ``--tick`` seconds: 50 % inserts, 30 % updates, 20 % deletes);
    every inserted or updated row carries the client's wall time, taken just before the transaction, in
    ``written_at``. A watcher lists the table's CDC folder every 20 ms; a row's latency is the time its file
    was first listed minus its ``written_at``. Run for ``--latency-seconds``.

(c) Memory. The same workload for ``--soak-seconds``; the task process's RSS and CPU are sampled every
    ``--rss-interval`` seconds (psutil on ``tasks.pid``).

Peak RSS of a child is sampled every 50 ms (wait4's ru_maxrss would be at least this script's own RSS: on
Linux, exec keeps the peak of the address space it replaces). The machine may be shared: before each run
the script waits (at most ``--quiet-timeout`` s) for it to use fewer than ``--quiet-cores`` cores, records
the CPU seconds other processes used during each run, and runs every child on a copy of src/binlake taken
at start, so that edits made meanwhile do not mix versions. Results go to ``--out`` as JSON and are printed
as markdown tables.

Usage: ``.venv/bin/python bench/cdc.py [--changes 1000000] [--latency-seconds 60] [--soak-seconds 600]``
(add ``--profile`` for a py-spy profile of binlake's part (a) run).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from binlake.sandbox import Sandbox, SandboxInfo, free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/harness.py, imported as a sibling module
from harness import CpuMeter, TreeSampler

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
SCHEMA = "bench"
TASK = "t"
MIB = 1024 * 1024
CHILD_MODES = ("plain-loop", "decoder", "writer")
ALL_CONTENDERS = ("binlake", "plain-loop", "binlake-decoder", "binlake-dms-defaults")
PREFILL_ROWS = 20_000  # rows in a latency/soak table before its task starts, for the writer's updates and deletes
POLL_SECONDS = 0.02
START_ARGS = (
    "start-replication-task",
    "--replication-task-arn",
    TASK,
    "--start-replication-task-type",
    "start-replication",
)

TABLE_SQL = """CREATE TABLE `{schema}`.`{table}` (
    order_id CHAR(36) NOT NULL,
    seq INT NOT NULL,
    customer_id CHAR(36) NOT NULL,
    quantity INT NOT NULL,
    unit_price DECIMAL(10,2) NOT NULL,
    total_amount DECIMAL(12,2) NOT NULL,
    status ENUM('pending', 'processing', 'shipped', 'delivered', 'cancelled') NOT NULL DEFAULT 'pending',
    written_at DATETIME(6) NOT NULL,
    shipping_address TEXT NULL,
    payment_method VARCHAR(32) NULL,
    notes TEXT NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (order_id),
    UNIQUE KEY uk_seq (seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"""

COLUMNS = (
    "order_id, seq, customer_id, quantity, unit_price, total_amount, status, written_at, shipping_address, "
    "payment_method, notes"
)
# Rows seq = base + 1 .. base + count, computed on the server from MariaDB's SEQUENCE engine.
INSERT_SELECT_SQL = f"""INSERT INTO `{{schema}}`.`{{table}}` ({COLUMNS})
SELECT UUID(), n,
    CONCAT_WS('-', SUBSTR(h, 1, 8), SUBSTR(h, 9, 4), SUBSTR(h, 13, 4), SUBSTR(h, 17, 4), SUBSTR(h, 21, 12)),
    1 + n % 5,
    1 + (n * 7919 % 20000) / 100,
    (1 + n % 5) * (1 + (n * 7919 % 20000) / 100),
    ELT(1 + n % 5, 'pending', 'processing', 'shipped', 'delivered', 'cancelled'),
    NOW(6),
    CONCAT(1 + n % 9999, ' Main St, Apt ', n % 97, ', Seattle, WA 98101'),
    ELT(1 + n % 4, 'credit_card', 'paypal', 'debit_card', 'gift_card'),
    ELT(1 + n % 3, NULL, 'Leave at the front door', 'Gift wrap please 🎁')
FROM (SELECT {{base}} + seq AS n, MD5(seq % 50000) AS h FROM `{{schema}}`.seq_1_to_{{count}}) AS s"""
UPDATE_RANGE_SQL = (
    "UPDATE `{schema}`.`{table}` SET status = ELT(1 + (seq + 1) %% 5, 'pending', 'processing', 'shipped', "
    "'delivered', 'cancelled'), total_amount = total_amount + 1, written_at = NOW(6) WHERE seq BETWEEN %s AND %s"
)
DELETE_RANGE_SQL = "DELETE FROM `{schema}`.`{table}` WHERE seq BETWEEN %s AND %s"
# The writer of parts (b) and (c): client-side values, written_at = the client's wall time.
WRITER_INSERT_SQL = (
    f"INSERT INTO `{{schema}}`.`{{table}}` ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
WRITER_UPDATE_SQL = (
    "UPDATE `{schema}`.`{table}` SET written_at = %s, status = ELT(1 + (seq + 1) %% 5, 'pending', 'processing', "
    "'shipped', 'delivered', 'cancelled'), total_amount = total_amount + 1 WHERE seq BETWEEN %s AND %s"
)
STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled")
PAYMENTS = ("credit_card", "paypal", "debit_card", "gift_card")


# -- small helpers ---------------------------------------------------------------------------------------------------
def parse_position(text: str) -> tuple[str, int]:
    """'mysql-bin.000001:1234' → ('mysql-bin.000001', 1234); tuples compare like binlog positions."""
    name, _, pos = text.rpartition(":")
    return name, int(pos)


def fmt_position(position: tuple[str, int]) -> str:
    return f"{position[0]}:{position[1]}"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not values:
        return float("nan")
    rank = max(0, min(len(values) - 1, math.ceil(q / 100 * len(values)) - 1))
    return values[rank]


def summary_ms(latencies: list[float]) -> dict[str, float]:
    """p50/p95/p99/max (and mean) in milliseconds of seconds values."""
    values = sorted(latencies)
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "min_ms": round(values[0] * 1000, 1),
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "p99_ms": round(percentile(values, 99) * 1000, 1),
        "max_ms": round(values[-1] * 1000, 1),
        "mean_ms": round(statistics.fmean(values) * 1000, 1),
    }


def read_password(path: str) -> str:
    return Path(path).read_text().strip()


class ProcessSampler(threading.Thread):
    """RSS and CPU seconds of one (not our child) process every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples: list[dict[str, float]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return
        started = time.monotonic()
        while True:
            try:
                rss = proc.memory_info().rss
                cpu = proc.cpu_times()
            except psutil.Error:
                return
            self.samples.append(
                {"t": round(time.monotonic() - started, 2), "rss": rss, "cpu": round(cpu.user + cpu.system, 2)}
            )
            if self._stop_event.wait(self.interval):
                return

    def stop(self) -> list[dict[str, float]]:
        self._stop_event.set()
        self.join()
        return self.samples


class FolderWatcher(threading.Thread):
    """Lists a folder every POLL_SECONDS; remembers when each Parquet file was first seen (wall time)."""

    def __init__(self, folder: Path, interval: float = POLL_SECONDS) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.interval = interval
        self.seen: dict[str, tuple[float, float]] = {}  # name → (first seen, mtime)
        self.polls = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            self.poll()
            if self._stop_event.wait(self.interval):
                self.poll()
                return

    def poll(self) -> None:
        self.polls += 1
        now = time.time()
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.endswith(".parquet") and entry.name not in self.seen:
                with contextlib.suppress(OSError):
                    self.seen[entry.name] = (now, entry.stat().st_mtime)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class StateReader:
    """Reads a task's row of a binlake state db (SQLite, WAL: readers never block the task)."""

    def __init__(self, state_dir: Path) -> None:
        self._db = sqlite3.connect(state_dir / "state.db", timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row

    def task(self) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT status, pid, cdc_checkpoint, cdc_read_position, cdc_changes_total, last_failure_message "
            "FROM tasks WHERE identifier = ?",
            (TASK,),
        ).fetchone()
        return dict(row) if row else {}

    def event_time(self, prefix: str) -> float | None:
        row = self._db.execute(
            "SELECT event_time FROM events WHERE task = ? AND message LIKE ? ORDER BY id DESC LIMIT 1",
            (TASK, prefix + "%"),
        ).fetchone()
        return datetime.fromisoformat(row[0]).timestamp() if row else None

    def close(self) -> None:
        self._db.close()


def reached(text: str | None, target: tuple[str, int]) -> bool:
    return bool(text) and parse_position(text) >= target  # type: ignore[arg-type]


# -- the benchmark ---------------------------------------------------------------------------------------------------
@dataclass
class Workload:
    """The row changes of part (a), as the statements' affected rows counted them."""

    before: tuple[str, int]
    after: tuple[str, int]
    inserts: int
    updates: int
    deletes: int
    transactions: int
    binlog_bytes: int
    seconds: float

    @property
    def changes(self) -> int:
        return self.inserts + self.updates + self.deletes


@dataclass
class ThroughputRun:
    contender: str
    changes: int
    seconds: float  # the headline: spawn → done (binlake: checkpoint ≥ end; others: process exit)
    seconds_after_startup: float | None
    peak_rss_bytes: int  # sampled every 50 ms (the process and its children)
    ru_maxrss_bytes: int  # wait4's; on Linux at least the parent's RSS at spawn (exec keeps the old mm's peak)
    cpu_seconds: float
    server_cpu_seconds: float
    returncode: int
    counts: dict[str, int]
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.changes / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data.update(
            changes_per_second=round(self.rate),
            changes_per_second_after_startup=(
                round(self.changes / self.seconds_after_startup) if self.seconds_after_startup else None
            ),
            changes_per_cpu_second=round(self.changes / self.cpu_seconds) if self.cpu_seconds else None,
            peak_rss_mib=round(self.peak_rss_bytes / MIB, 1),
            ru_maxrss_mib=round(self.ru_maxrss_bytes / MIB, 1),
        )
        return data


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work_dir.absolute()
        self.sandbox = Sandbox(self.work / "sandbox", port=free_port())
        self.info: SandboxInfo | None = None
        self.workload: Workload | None = None
        self.throughput: list[ThroughputRun] = []
        self.all_throughput: list[ThroughputRun] = []
        self.steady: dict[str, dict[str, Any]] = {}
        self.profile: dict[str, Any] | None = None
        self.quiet_waits: list[dict[str, Any]] = []
        self.source_digest = ""
        self.source_copy: Path | None = None
        self._runs = 0

    # -- setup -----------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        self.snapshot_source()
        self.info = self.sandbox.start()
        conn = self.sandbox.root_connection()
        try:
            conn.cursor().execute(f"CREATE DATABASE `{SCHEMA}`")
        finally:
            conn.close()

    def snapshot_source(self) -> None:
        """Copy src/binlake once and run every child on the copy (PYTHONPATH wins over the editable install's
        .pth entry): src/ may be edited while the benchmark runs, and all contenders must run the same code."""
        import binlake

        source = Path(binlake.__file__).resolve().parent
        # Outside the repository: a repository-wide search and replace must not edit the copy either.
        self.source_copy = Path(tempfile.mkdtemp(prefix="binlake-cdc-bench-"))
        target = self.source_copy / "binlake"
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        digest = hashlib.sha256()
        for path in sorted(target.rglob("*.py")):
            digest.update(path.relative_to(target).as_posix().encode() + b"\0" + path.read_bytes())
        self.source_digest = digest.hexdigest()[:16]
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target.parent), os.environ.get("PYTHONPATH")]))

    @property
    def server_pid(self) -> int:
        pid = self.sandbox.pid()
        assert pid is not None, "sandbox MariaDB is not running"
        return pid

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self.sandbox.root_connection()
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            conn.close()

    def master_position(self) -> tuple[str, int]:
        row = self.query("SHOW MASTER STATUS")[0]
        return str(row[0]), int(row[1])

    def binlog_bytes(self, before: tuple[str, int], after: tuple[str, int]) -> int:
        sizes = {str(name): int(size) for name, size, *_ in self.query("SHOW BINARY LOGS")}
        total = 0
        for name in sorted(sizes):
            if before[0] <= name <= after[0]:
                start = before[1] if name == before[0] else 0
                end = after[1] if name == after[0] else sizes[name]
                total += end - start
        return total

    def wait_idle(self, timeout: float = 180.0) -> dict[str, Any]:
        """Until the server is quiet (below 5 % of a core for 2 s): no purge or flushing left over; then until
        the machine is (everything else below ``--quiet-cores`` of a core for 3 s, at most ``--quiet-timeout``)."""
        server = psutil.Process(self.server_pid)
        started = time.monotonic()
        deadline = started + timeout
        quiet = 0
        server.cpu_percent()
        while time.monotonic() < deadline and quiet < 2:
            time.sleep(1.0)
            quiet = quiet + 1 if server.cpu_percent() < 5.0 else 0
        deadline = time.monotonic() + self.args.quiet_timeout
        quiet = 0
        busy = 0.0
        psutil.cpu_percent()
        while time.monotonic() < deadline and quiet < 3:
            time.sleep(1.0)
            busy = psutil.cpu_percent() * (os.cpu_count() or 1) / 100  # cores in use, the server's included
            quiet = quiet + 1 if busy < self.args.quiet_cores else 0
        waited = {"waited_seconds": round(time.monotonic() - started, 1), "busy_cores_before": round(busy, 2)}
        self.quiet_waits.append(waited)
        return waited

    def create_table(self, table: str, prefill: int = 0) -> None:
        conn = self.sandbox.root_connection()
        try:
            cur = conn.cursor()
            cur.execute(TABLE_SQL.format(schema=SCHEMA, table=table))
            if prefill:
                cur.execute(INSERT_SELECT_SQL.format(schema=SCHEMA, table=table, base=0, count=prefill))
        finally:
            conn.close()

    # -- part (a): the workload ------------------------------------------------------------------------------------
    def write_workload(self) -> Workload:
        total, chunk = self.args.changes, self.args.txn_rows
        inserts = round(total * 0.6)
        updates = round(total * 0.3)
        deletes = total - inserts - updates
        assert updates + deletes <= inserts, "updates and deletes touch distinct inserted rows"
        self.create_table("orders")
        conn = self.sandbox.root_connection()
        counted: Counter[str] = Counter()
        transactions = 0
        try:
            cur = conn.cursor()
            cur.execute("FLUSH BINARY LOGS")
            before = self.master_position()
            started = time.monotonic()
            for base in range(0, inserts, chunk):
                count = min(chunk, inserts - base)
                cur.execute(INSERT_SELECT_SQL.format(schema=SCHEMA, table="orders", base=base, count=count))
                counted["I"] += cur.rowcount
                transactions += 1
            for kind, sql, first, count in (
                ("U", UPDATE_RANGE_SQL, 1, updates),
                ("D", DELETE_RANGE_SQL, updates + 1, deletes),
            ):
                for low in range(first, first + count, chunk):
                    high = min(low + chunk, first + count) - 1
                    cur.execute(sql.format(schema=SCHEMA, table="orders"), (low, high))
                    counted[kind] += cur.rowcount
                    transactions += 1
            seconds = time.monotonic() - started
            after = self.master_position()
        finally:
            conn.close()
        workload = Workload(
            before=before,
            after=after,
            inserts=counted["I"],
            updates=counted["U"],
            deletes=counted["D"],
            transactions=transactions,
            binlog_bytes=self.binlog_bytes(before, after),
            seconds=seconds,
        )
        if (workload.inserts, workload.updates, workload.deletes) != (inserts, updates, deletes):
            raise SystemExit(f"workload wrote {counted}, not {(inserts, updates, deletes)}")
        return workload

    # -- part (a): contenders --------------------------------------------------------------------------------------
    def binlake_cmd(self, state: Path, *args: str) -> list[str]:
        return [sys.executable, "-m", "binlake", "--state-dir", str(state), *args]

    def setup_task(self, state: Path, lake: Path, table: str, s3: dict[str, Any]) -> None:
        """Endpoints and a cdc task selecting bench.<table>, created through the CLI (not timed)."""
        assert self.info is not None
        mappings = {
            "rules": [
                {
                    "rule-type": "selection",
                    "rule-id": "1",
                    "rule-name": "1",
                    "object-locator": {"schema-name": SCHEMA, "table-name": table},
                    "rule-action": "include",
                }
            ]
        }
        source = ["--server-name", self.info.host, "--port", str(self.info.port), "--username", self.info.user]
        source += ["--password-file", self.info.password_file]
        target = ["--s3-settings", json.dumps({"BucketName": str(lake), "BucketFolder": "hub", **s3})]
        steps = [
            [
                "create-endpoint",
                *["--endpoint-identifier", "src", "--endpoint-type", "source", "--engine-name", "mariadb"],
                *source,
            ],
            [
                "create-endpoint",
                *["--endpoint-identifier", "lake", "--endpoint-type", "target", "--engine-name", "s3"],
                *target,
            ],
            [
                "create-replication-task",
                *f"--replication-task-identifier {TASK} --source-endpoint-arn src --target-endpoint-arn lake".split(),
                *["--migration-type", "cdc", "--table-mappings", json.dumps(mappings)],
            ],
        ]
        for step in steps:
            result = subprocess.run(self.binlake_cmd(state, *step), capture_output=True, text=True)
            if result.returncode != 0:
                raise SystemExit(f"binlake {step[0]} failed: {result.stderr.strip() or result.stdout.strip()}")

    def connection_args(self) -> list[str]:
        assert self.info is not None
        info = self.info
        return [
            "--host",
            info.host,
            "--port",
            str(info.port),
            "--user",
            info.user,
            "--password-file",
            info.password_file,
        ]

    def run_contender(self, contender: str, profile: bool = False) -> ThroughputRun:
        assert self.workload is not None
        self._runs += 1
        label = f"{self._runs:02d}-{contender}{'-profile' if profile else ''}"
        run_dir = self.work / "runs" / label
        run_dir.mkdir(parents=True)
        waited = self.wait_idle()
        print(f"  {label} ...", end="", flush=True, file=sys.stderr)
        if contender.startswith("binlake") and contender != "binlake-decoder":
            run = self._run_binlake(contender, run_dir, profile)
        else:
            run = self._run_reader(contender, run_dir)
        ok = run.returncode == 0 and run.changes == self.workload.changes and run.detail.get("complete", True)
        status = "ok" if ok else f"FAILED (rc={run.returncode}, changes={run.changes}, counts={run.counts})"
        print(
            f" {run.seconds:.1f} s, {run.rate:,.0f} changes/s, peak RSS {run.peak_rss_bytes / MIB:.0f} MiB, "
            f"CPU {run.cpu_seconds:.1f} s (others {run.detail.get('other_cpu_seconds')} s) {status}",
            file=sys.stderr,
        )
        run.detail.update(waited)
        if not ok:
            run.detail["failed"] = status
        if not self.args.keep_output:
            shutil.rmtree(run_dir / "lake", ignore_errors=True)
        return run

    def _run_reader(self, contender: str, run_dir: Path) -> ThroughputRun:
        """plain-loop or binlake-decoder: a child of this script that reads the range and exits."""
        assert self.workload is not None
        mode = "plain-loop" if contender == "plain-loop" else "decoder"
        result_path = run_dir / "result.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            mode,
            *self.connection_args(),
            "--start",
            fmt_position(self.workload.before),
            "--end",
            fmt_position(self.workload.after),
            "--server-id",
            str(2_000_000 + self._runs),
            "--result",
            str(result_path),
        ]
        meter = CpuMeter(self.server_pid)
        meter.start()
        with open(run_dir / "output.log", "wb") as log:
            started = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            sampler = TreeSampler(proc.pid)
            sampler.start()
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.monotonic() - started
            tree_peak = sampler.stop()
        cpu = meter.stop(usage.ru_utime + usage.ru_stime)
        returncode = os.waitstatus_to_exitcode(status)
        result = json.loads(result_path.read_text()) if result_path.exists() else {}
        counts = result.get("counts", {})
        return ThroughputRun(
            contender=contender,
            changes=sum(counts.values()),
            seconds=seconds,
            seconds_after_startup=result.get("seconds"),
            peak_rss_bytes=tree_peak,
            ru_maxrss_bytes=usage.ru_maxrss * 1024,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            server_cpu_seconds=cpu["server_cpu_seconds"],
            returncode=returncode,
            counts=counts,
            detail={"log": str(run_dir / "output.log"), **cpu, **{k: v for k, v in result.items() if k != "counts"}},
        )

    def _run_binlake(self, contender: str, run_dir: Path, profile: bool) -> ThroughputRun:
        assert self.workload is not None
        workload = self.workload
        state, lake = run_dir / "state", run_dir / "lake"
        lake.mkdir()
        if contender == "binlake-dms-defaults":
            s3 = {"CdcMaxBatchInterval": 60, "CdcMinFileSize": 32_000}
        else:
            s3 = {"CdcMaxBatchInterval": self.args.binlake_interval, "CdcMinFileSize": self.args.binlake_min_file_kb}
        self.setup_task(state, lake, "orders", s3)
        cmd = self.binlake_cmd(
            state,
            *START_ARGS,
            *["--cdc-start-position", fmt_position(workload.before), "--quiet"],
        )
        flame = run_dir / "profile.txt"
        if profile:
            py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            cmd = [py_spy, "record", "--format", "raw", "--rate", "250", "--nolineno", "-o", str(flame), "--", *cmd]
        reader = StateReader(state)
        meter = CpuMeter(self.server_pid)
        meter.start()
        trajectory: list[tuple[float, int]] = []
        read_at = durable_at = None
        stopper: subprocess.Popen[bytes] | None = None
        deadline = time.monotonic() + self.args.timeout
        with open(run_dir / "output.log", "wb") as log:
            wall_started = time.time()
            started = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            sampler = TreeSampler(proc.pid)
            sampler.start()
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                now = time.monotonic() - started
                task = reader.task()
                changes_total = task.get("cdc_changes_total") or 0
                if not trajectory or trajectory[-1][1] != changes_total:
                    trajectory.append((round(now, 3), changes_total))
                if read_at is None and reached(task.get("cdc_read_position"), workload.after):
                    read_at = now
                if durable_at is None and reached(task.get("cdc_checkpoint"), workload.after):
                    durable_at = now
                if (read_at is not None or durable_at is not None) and stopper is None:
                    # Everything is read: stopping flushes the last batch now rather than CdcMaxBatchInterval later.
                    stopper = subprocess.Popen(
                        self.binlake_cmd(state, "stop-replication-task", "--replication-task-arn", TASK, "--no-wait"),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                if time.monotonic() > deadline or (durable_at is not None and now - durable_at > 60):
                    proc.kill()  # stuck: out of time, or not stopping a minute after the stop request
                time.sleep(POLL_SECONDS / 2)
            tree_peak = sampler.stop()
        cpu = meter.stop(usage.ru_utime + usage.ru_stime)
        if stopper is not None:
            stopper.wait()
        returncode = os.waitstatus_to_exitcode(status)
        cdc_started = reader.event_time("CDC started")
        final = reader.task()
        reader.close()
        counts, files, parquet_bytes = count_cdc_files(lake / "hub" / SCHEMA / "orders")
        stats = table_statistics(self, state)
        expected = {"I": workload.inserts, "U": workload.updates, "D": workload.deletes}
        seconds = durable_at if durable_at is not None else time.monotonic() - started
        detail: dict[str, Any] = {
            "log": str(run_dir / "output.log"),
            "read_seconds": round(read_at, 3) if read_at is not None else None,
            "durable_seconds": round(durable_at, 3) if durable_at is not None else None,
            "startup_seconds": round(cdc_started - wall_started, 3) if cdc_started else None,
            "files": files,
            "parquet_bytes": parquet_bytes,
            "final_checkpoint": final.get("cdc_checkpoint"),
            "changes_applied": final.get("cdc_changes_total"),
            "table_statistics": stats,
            "complete": counts == expected and durable_at is not None,
            "trajectory": trajectory,  # (seconds, ChangesApplied) at each checkpoint
            "settings": s3,
            **cpu,
        }
        if profile and flame.exists():
            detail["profile"] = str(flame)
        return ThroughputRun(
            contender=contender,
            changes=sum(counts.values()),
            seconds=seconds,
            seconds_after_startup=(seconds - detail["startup_seconds"]) if detail["startup_seconds"] else None,
            peak_rss_bytes=tree_peak,
            ru_maxrss_bytes=usage.ru_maxrss * 1024,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            server_cpu_seconds=cpu["server_cpu_seconds"],
            returncode=returncode,
            counts=dict(counts),
            detail=detail,
        )

    def part_a(self) -> None:
        print(f"(a) writing {self.args.changes:,} row changes into the binlog", file=sys.stderr)
        self.workload = self.write_workload()
        w = self.workload
        print(
            f"    {w.inserts:,} inserts + {w.updates:,} updates + {w.deletes:,} deletes in {w.transactions:,} "
            f"transactions, {w.binlog_bytes / MIB:.0f} MiB of binlog, {fmt_position(w.before)} → "
            f"{fmt_position(w.after)} ({w.seconds:.0f} s)",
            file=sys.stderr,
        )
        by_contender: dict[str, list[ThroughputRun]] = defaultdict(list)
        for _ in range(self.args.repeat):
            for contender in self.args.contenders:
                by_contender[contender].append(self.run_contender(contender))
        for runs in by_contender.values():
            self.all_throughput += runs
            median = statistics.median_low(r.seconds for r in runs)
            chosen = next(r for r in runs if r.seconds == median)
            if len(runs) > 1:
                chosen.detail["all_seconds"] = [round(r.seconds, 2) for r in runs]
            self.throughput.append(chosen)
        if self.args.profile:
            run = self.run_contender("binlake", profile=True)
            profile = run.detail.get("profile")
            self.profile = {
                "seconds": round(run.seconds, 1),
                "changes_per_second": round(run.rate),
                "raw": profile,
                **(summarize_profile(Path(profile)) if profile else {}),
            }

    # -- parts (b) and (c): a steady workload ------------------------------------------------------------------------
    def steady_run(self, name: str, seconds: float, sample_interval: float) -> dict[str, Any]:
        assert self.info is not None
        table = f"steady_{name}"
        print(
            f"({name}) {self.args.rate:,} changes/s for {seconds:g} s, CdcMaxBatchInterval {self.args.interval}",
            file=sys.stderr,
        )
        self.create_table(table, prefill=PREFILL_ROWS)
        run_dir = self.work / "runs" / f"steady-{name}"
        state, lake = run_dir / "state", run_dir / "lake"
        lake.mkdir(parents=True)
        s3 = {"CdcMaxBatchInterval": self.args.interval, "CdcMinFileSize": self.args.min_file_kb}
        self.setup_task(state, lake, table, s3)
        waited = self.wait_idle()
        start = subprocess.run(
            self.binlake_cmd(state, *START_ARGS, "--detach", "--quiet"), capture_output=True, text=True
        )
        if start.returncode != 0:
            raise SystemExit(f"start-replication-task --detach failed: {start.stderr.strip()}")
        reader = StateReader(state)
        deadline = time.monotonic() + 60
        task: dict[str, Any] = {}
        while time.monotonic() < deadline:
            task = reader.task()
            if task.get("status") == "running" and task.get("cdc_read_position") and task.get("pid"):
                break
            if task.get("status") == "failed":
                raise SystemExit(f"task failed: {task.get('last_failure_message')}")
            time.sleep(0.1)
        else:
            raise SystemExit(f"task did not start within 60 s: {task}")
        pid = int(task["pid"])
        folder = lake / "hub" / SCHEMA / table
        watcher = FolderWatcher(folder)
        sampler = ProcessSampler(pid, sample_interval)
        meter = CpuMeter(self.server_pid)
        meter.start()
        watcher.start()
        sampler.start()
        writer_result = run_dir / "writer.json"
        writer_cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "writer",
            "--socket",
            self.info.socket,
            "--table",
            table,
            "--seconds",
            str(seconds),
            "--rate",
            str(self.args.rate),
            "--tick",
            str(self.args.tick),
            "--prefill",
            str(PREFILL_ROWS),
            "--result",
            str(writer_result),
        ]
        with open(run_dir / "writer.log", "wb") as log:
            subprocess.run(writer_cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=True)
        end = self.master_position()
        drain_started = time.monotonic()
        while time.monotonic() - drain_started < 60 and not reached(reader.task().get("cdc_checkpoint"), end):
            time.sleep(POLL_SECONDS)
        drain = time.monotonic() - drain_started
        time.sleep(0.1)
        watcher.stop()
        samples = sampler.stop()
        task_cpu = samples[-1]["cpu"] - samples[0]["cpu"] if samples else 0.0
        cpu = meter.stop(task_cpu)
        stop = subprocess.run(
            self.binlake_cmd(state, "stop-replication-task", "--replication-task-arn", TASK),
            capture_output=True,
            text=True,
        )
        final = reader.task()
        reader.close()
        killed = False
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if str(state) in " ".join(proc.cmdline()):  # the task process this run started
                try:
                    proc.wait(30)
                except psutil.TimeoutExpired:
                    proc.kill()
                    killed = True
        writer = json.loads(writer_result.read_text())
        latency = file_latencies(folder, watcher.seen, writer["started_wall"])
        expected = {"I": writer["inserts"], "U": writer["updates"], "D": writer["deletes"]}
        result: dict[str, Any] = {
            "seconds": seconds,
            "settings": s3,
            **waited,
            "writer": writer,
            "drain_seconds": round(drain, 2),
            "final_status": final.get("status"),
            "stop_returncode": stop.returncode,
            "task_killed": killed,
            "files": len(watcher.seen),
            "watcher_polls": watcher.polls,
            "counts_in_files": latency.pop("counts"),
            "expected_counts": expected,
            "complete": None,
            "latency_visible": latency["visible"],
            "latency_mtime": latency["mtime"],
            "latency_by_minute": latency["by_minute"],
            "rows_per_file": latency["rows_per_file"],
            **cpu,
            "task": memory_summary(samples),
            "samples": samples,
        }
        result["complete"] = result["counts_in_files"] == expected
        vis = result["latency_visible"]
        print(
            f"    achieved {writer['changes_per_second']:,.0f} changes/s; latency p50 {vis.get('p50_ms')} ms, "
            f"p99 {vis.get('p99_ms')} ms, max {vis.get('max_ms')} ms; task RSS "
            f"{result['task'].get('rss_start_mib')} → {result['task'].get('rss_end_mib')} MiB "
            f"(max {result['task'].get('rss_max_mib')}); complete: {result['complete']}",
            file=sys.stderr,
        )
        if not self.args.keep_output:
            shutil.rmtree(lake, ignore_errors=True)
        return result

    # -- environment -------------------------------------------------------------------------------------------------
    def environment(self) -> dict[str, Any]:
        versions = {}
        for dist in ("binlake", "pyarrow", "mysql-replication", "PyMySQL", "mysqlclient", "psutil"):
            try:
                versions[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                versions[dist] = None
        cpu_model = ""
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
        git: dict[str, Any] = {}
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            git["commit"] = subprocess.run(
                ["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(REPO_DIR), "status", "--porcelain", "src"], capture_output=True, text=True, check=True
            ).stdout.split("\n")
            git["dirty_src_files"] = [line[3:] for line in dirty if line.strip()]
        git["binlake_source_sha256"] = self.source_digest  # of the copy every child ran
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "nproc": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)),
            "cpu_model": cpu_model,
            "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "mariadb": str(self.query("SELECT VERSION()")[0][0]),
            "versions": versions,
            "git": git,
            "load_average_at_start": os.getloadavg(),
        }


# -- analysis ----------------------------------------------------------------------------------------------------------
def count_cdc_files(folder: Path) -> tuple[Counter[str], int, int]:
    """Op counts, file count and bytes of the CDC Parquet files in a table folder."""
    counts: Counter[str] = Counter()
    files = sorted(folder.glob("*.parquet")) if folder.exists() else []
    for path in files:
        ops = pq.read_table(path, columns=["Op"])["Op"]
        for item in pc.value_counts(ops).to_pylist():
            counts[item["values"]] += item["counts"]
    return counts, len(files), sum(p.stat().st_size for p in files)


def table_statistics(bench: Bench, state: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        bench.binlake_cmd(state, "describe-table-statistics", "--replication-task-arn", TASK, "--output", "json"),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return [{"error": result.stderr.strip()}]
    stats = json.loads(result.stdout).get("TableStatistics", [])
    return [{k: s.get(k) for k in ("TableName", "Inserts", "Updates", "Deletes")} for s in stats]


def file_latencies(folder: Path, seen: dict[str, tuple[float, float]], started_wall: float) -> dict[str, Any]:
    """Per inserted/updated row: time its file was first listed (and its mtime) minus its written_at."""
    visible: list[float] = []
    by_mtime: list[float] = []
    per_minute: dict[int, list[float]] = defaultdict(list)
    counts: Counter[str] = Counter()
    rows_per_file: list[int] = []
    for name, (seen_at, mtime) in sorted(seen.items()):
        table = pq.read_table(folder / name, columns=["Op", "written_at"])
        rows_per_file.append(table.num_rows)
        for item in pc.value_counts(table["Op"]).to_pylist():
            counts[item["values"]] += item["counts"]
        # Deletes carry the deleted row's old written_at; only inserts and updates are timed.
        timed = table.filter(pc.not_equal(table["Op"], "D"))
        micros = pc.cast(timed["written_at"], pa.int64()).to_pylist()  # naive UTC, as the writer wrote it
        for value in micros:
            written = value / 1_000_000
            visible.append(seen_at - written)
            by_mtime.append(mtime - written)
            per_minute[int((written - started_wall) // 60)].append(seen_at - written)
    rows_per_file.sort()
    return {
        "visible": summary_ms(visible),
        "mtime": summary_ms(by_mtime),
        "by_minute": {str(minute): summary_ms(values) for minute, values in sorted(per_minute.items())},
        "rows_per_file": {
            "files": len(rows_per_file),
            "median": rows_per_file[len(rows_per_file) // 2] if rows_per_file else 0,
            "max": rows_per_file[-1] if rows_per_file else 0,
        },
        "counts": dict(counts),
    }


def memory_summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    if not samples:
        return {}
    rss = [s["rss"] for s in samples]
    one_minute = next((s for s in samples if s["t"] >= 60), samples[-1])
    first, last = samples[0], samples[-1]
    span = last["t"] - first["t"]
    return {
        "samples": len(samples),
        "rss_start_mib": round(first["rss"] / MIB, 1),
        "rss_1min_mib": round(one_minute["rss"] / MIB, 1),
        "rss_end_mib": round(last["rss"] / MIB, 1),
        "rss_min_mib": round(min(rss) / MIB, 1),
        "rss_max_mib": round(max(rss) / MIB, 1),
        "growth_after_1min_pct": round(100 * (last["rss"] - one_minute["rss"]) / one_minute["rss"], 1),
        "cpu_seconds": round(last["cpu"] - first["cpu"], 1),
        "cpu_percent_of_a_core": round(100 * (last["cpu"] - first["cpu"]) / span, 1) if span else None,
    }


def summarize_profile(path: Path, top: int = 30) -> dict[str, Any]:
    """py-spy's raw (collapsed) stacks of the main thread → the functions with most samples, inclusive and self."""
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any(frame.startswith("Thread._bootstrap") for frame in frames):
            continue  # the task's stop watcher thread, mostly asleep
        total += count
        for frame in set(frames[1:] if frames[0].startswith("process ") else frames):
            inclusive[frame] += count
        self_time[frames[-1]] += count
    return {
        "samples": total,
        "inclusive": [(frame, round(100 * n / total, 1)) for frame, n in inclusive.most_common(top)],
        "self": [(frame, round(100 * n / total, 1)) for frame, n in self_time.most_common(top)],
    }


# -- markdown ----------------------------------------------------------------------------------------------------------
def markdown(bench: Bench) -> str:
    lines: list[str] = []
    w = bench.workload
    if w is not None and bench.throughput:
        base = next((r for r in bench.throughput if r.contender == "plain-loop"), None)
        lines += [
            f"Workload: {w.inserts:,} inserts + {w.updates:,} updates + {w.deletes:,} deletes = {w.changes:,} row "
            f"changes in {w.transactions:,} transactions, {w.binlog_bytes / MIB:.0f} MiB of binlog.",
            "",
            "| contender | changes | seconds | changes/s | × plain loop | changes/s after startup | CPU s "
            "| changes/CPU s | × plain loop (CPU) | peak RSS MiB | server CPU s | other processes' CPU s |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for r in bench.throughput:
            after = f"{r.changes / r.seconds_after_startup:,.0f}" if r.seconds_after_startup else "–"
            ratio = f"{r.rate / base.rate:.2f}×" if base and base.rate else "–"
            cpu_ratio = f"{base.cpu_seconds / r.cpu_seconds:.2f}×" if base and r.cpu_seconds else "–"
            lines.append(
                f"| {r.contender} | {r.changes:,} | {r.seconds:.1f} | {r.rate:,.0f} | {ratio} | {after} "
                f"| {r.cpu_seconds:.1f} | {r.changes / r.cpu_seconds:,.0f} | {cpu_ratio} "
                f"| {r.peak_rss_bytes / MIB:.0f} | {r.server_cpu_seconds:.1f} | {r.detail.get('other_cpu_seconds')} |"
            )
    for name, result in bench.steady.items():
        writer, vis, mt, task = result["writer"], result["latency_visible"], result["latency_mtime"], result["task"]
        lines += [
            "",
            f"Part ({name}): {result['seconds']:g} s at {writer['changes_per_second']:,.0f} changes/s achieved "
            f"({writer['changes']:,} changes, {writer['transactions']:,} transactions); "
            f"files: {result['files']}, complete: {result['complete']}.",
            "",
            "| latency (I and U rows) | rows | p50 ms | p95 ms | p99 ms | max ms |",
            "|---|--:|--:|--:|--:|--:|",
            f"| file first listed − written_at | {vis.get('count', 0):,} | {vis.get('p50_ms')} | {vis.get('p95_ms')} "
            f"| {vis.get('p99_ms')} | {vis.get('max_ms')} |",
            f"| file mtime − written_at | {mt.get('count', 0):,} | {mt.get('p50_ms')} | {mt.get('p95_ms')} "
            f"| {mt.get('p99_ms')} | {mt.get('max_ms')} |",
            "",
            "| task RSS MiB at start | at 1 min | at end | min | max | growth after 1 min | task CPU % of a core |",
            "|--:|--:|--:|--:|--:|--:|--:|",
            f"| {task.get('rss_start_mib')} | {task.get('rss_1min_mib')} | {task.get('rss_end_mib')} "
            f"| {task.get('rss_min_mib')} | {task.get('rss_max_mib')} | {task.get('growth_after_1min_pct')} % "
            f"| {task.get('cpu_percent_of_a_core')} |",
        ]
        minutes = result["latency_by_minute"]
        if len(minutes) > 2:
            lines += [
                "",
                "| minute | rows | p50 ms | p99 ms | max ms | task RSS MiB at its end |",
                "|--:|--:|--:|--:|--:|--:|",
            ]
            for minute, lat in minutes.items():
                rss = [x["rss"] for x in result["samples"] if x["t"] <= (int(minute) + 1) * 60]
                rss_text = f"{rss[-1] / MIB:.1f}" if rss else "–"
                lines.append(
                    f"| {minute} | {lat.get('count', 0):,} | {lat.get('p50_ms')} | {lat.get('p99_ms')} "
                    f"| {lat.get('max_ms')} | {rss_text} |"
                )
    return "\n".join(lines)


# -- children ----------------------------------------------------------------------------------------------------------
def child_plain_loop(args: argparse.Namespace) -> dict[str, Any]:
    """python-mysql-replication, nothing else: decode the range's rows events into dicts."""
    from pymysqlreplication import BinLogStreamReader
    from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

    started = time.monotonic()
    log_file, log_pos = parse_position(args.start)
    end = parse_position(args.end)
    settings = {"host": args.host, "port": args.port, "user": args.user, "passwd": read_password(args.password_file)}
    stream = BinLogStreamReader(
        connection_settings=settings,
        server_id=args.server_id,
        log_file=log_file,
        log_pos=log_pos,
        resume_stream=True,
        blocking=False,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent],
    )
    counts = {"I": 0, "U": 0, "D": 0}
    events = 0
    try:
        for event in stream:
            kind = "U" if isinstance(event, UpdateRowsEvent) else "I" if isinstance(event, WriteRowsEvent) else "D"
            rows = event.rows  # one dict per row: {"values": {...}} or {"before_values": ..., "after_values": ...}
            counts[kind] += len(rows)
            events += 1
            if (stream.log_file, stream.log_pos) >= end:
                break
    finally:
        stream.close()
    return {"counts": counts, "events": events, "seconds": time.monotonic() - started}


def child_decoder(args: argparse.Namespace) -> dict[str, Any]:
    """binlake's binlog decoder alone: BinlogStream + BinlogReader, rows as tuples; no Arrow, no files."""
    from binlake.capture.binlog.charsets import load_codec
    from binlake.capture.binlog.reader import BinlogReader, Commit, RowChanges
    from binlake.capture.binlog.stream import BinlogStream
    from binlake.config.secret import Secret
    from binlake.position import BinlogPosition
    from binlake.source.connection import SourceAddress, connect

    started = time.monotonic()
    address = SourceAddress(
        host=args.host, port=args.port, user=args.user, password=Secret(read_password(args.password_file))
    )
    conn = connect(address)
    try:
        codec = load_codec(conn)
    finally:
        conn.close()
    end = BinlogPosition(*parse_position(args.end))
    stream = BinlogStream(address, BinlogPosition(*parse_position(args.start)), args.server_id, non_blocking=True)
    counts = {"I": 0, "U": 0, "D": 0}
    events = 0
    try:
        for item in BinlogReader(stream, codec, lambda schema, table: schema == SCHEMA):
            if isinstance(item, RowChanges):
                counts[item.kind] += len(item.rows) // 2 if item.kind == "U" else len(item.rows)
                events += 1
            elif isinstance(item, Commit) and item.position >= end:
                break
    finally:
        stream.close()
    module = str(Path(sys.modules["binlake"].__file__ or "").parent)
    return {"counts": counts, "events": events, "seconds": time.monotonic() - started, "binlake_module": module}


def child_writer(args: argparse.Namespace) -> dict[str, Any]:
    """A steady ``rate`` of row changes, one transaction per tick: 50 % inserts, 30 % updates, 20 % deletes."""
    import MySQLdb

    conn = MySQLdb.connect(unix_socket=args.socket, user="root", charset="utf8mb4", autocommit=False)
    cur = conn.cursor()
    insert_sql = WRITER_INSERT_SQL.format(schema=SCHEMA, table=args.table)
    update_sql = WRITER_UPDATE_SQL.format(schema=SCHEMA, table=args.table)
    delete_sql = DELETE_RANGE_SQL.format(schema=SCHEMA, table=args.table)
    per_tick = round(args.rate * args.tick)
    n_insert = round(per_tick * 0.5)
    n_update = round(per_tick * 0.3)
    n_delete = per_tick - n_insert - n_update
    # Live rows are seq [next_delete, next_insert); updates walk ahead of deletes and behind inserts.
    next_insert, next_update, next_delete = args.prefill + 1, args.prefill // 2 + 1, 1
    customer = str(uuid.UUID(int=42))
    counted: Counter[str] = Counter()
    transaction_seconds: list[float] = []
    lag_max = 0.0
    ticks = 0
    started_wall = time.time()
    started = time.monotonic()
    deadline = started + args.seconds
    while True:
        target = started + ticks * args.tick
        if target >= deadline:
            break
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            lag_max = max(lag_max, -delay)
        written_at = datetime.now(UTC).replace(tzinfo=None)
        began = time.monotonic()
        rows = []
        for seq in range(next_insert, next_insert + n_insert):
            quantity, price = 1 + seq % 5, Decimal(1 + seq * 7919 % 20000) / 100
            rows.append(
                (
                    str(uuid.uuid4()),
                    seq,
                    customer,
                    quantity,
                    price,
                    price * quantity,
                    STATUSES[seq % 5],
                    written_at,
                    f"{1 + seq % 9999} Main St, Apt {seq % 97}, Seattle, WA 98101",
                    PAYMENTS[seq % 4],
                    None if seq % 3 == 0 else "Leave at the front door",
                )
            )
        cur.executemany(insert_sql, rows)
        counted["I"] += cur.rowcount
        cur.execute(update_sql, (written_at, next_update, next_update + n_update - 1))
        counted["U"] += cur.rowcount
        cur.execute(delete_sql, (next_delete, next_delete + n_delete - 1))
        counted["D"] += cur.rowcount
        conn.commit()
        transaction_seconds.append(time.monotonic() - began)
        next_insert += n_insert
        next_update += n_update
        next_delete += n_delete
        ticks += 1
    elapsed = time.monotonic() - started
    conn.close()
    changes = sum(counted.values())
    return {
        "started_wall": started_wall,
        "transactions": ticks,
        "inserts": counted["I"],
        "updates": counted["U"],
        "deletes": counted["D"],
        "changes": changes,
        "seconds": round(elapsed, 3),
        "changes_per_second": round(changes / elapsed, 1),
        "per_transaction": {"I": n_insert, "U": n_update, "D": n_delete},
        "lag_max_ms": round(lag_max * 1000, 1),
        "transaction_ms": summary_ms(transaction_seconds),
    }


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"cdc.py {argv[0]}")
    parser.add_argument("--result", type=Path, required=True)
    if argv[0] == "writer":
        parser.add_argument("--socket", required=True)
        parser.add_argument("--table", required=True)
        parser.add_argument("--seconds", type=float, required=True)
        parser.add_argument("--rate", type=int, required=True)
        parser.add_argument("--tick", type=float, required=True)
        parser.add_argument("--prefill", type=int, required=True)
    else:
        parser.add_argument("--host", required=True)
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--user", required=True)
        parser.add_argument("--password-file", required=True)
        parser.add_argument("--start", required=True)
        parser.add_argument("--end", required=True)
        parser.add_argument("--server-id", type=int, required=True)
    args = parser.parse_args(argv[1:])
    run = {"plain-loop": child_plain_loop, "decoder": child_decoder, "writer": child_writer}[argv[0]]
    result = run(args)
    args.result.write_text(json.dumps(result, indent=2) + "\n")
    return 0


# -- main --------------------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--changes", type=int, default=1_000_000, help="row changes of part (a)")
    parser.add_argument("--txn-rows", type=int, default=1000, help="rows per transaction of part (a)")
    parser.add_argument("--latency-seconds", type=float, default=60, help="length of part (b)")
    parser.add_argument("--soak-seconds", type=float, default=600, help="length of part (c)")
    parser.add_argument("--parts", default="a,b,c", help="comma-separated, of a, b, c")
    parser.add_argument(
        "--contenders", default=",".join(ALL_CONTENDERS), help=f"part (a), of {', '.join(ALL_CONTENDERS)}"
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of part (a); the median run is reported")
    parser.add_argument("--binlake-interval", type=float, default=5, help="CdcMaxBatchInterval of part (a)")
    parser.add_argument("--binlake-min-file-kb", type=int, default=100_000, help="CdcMinFileSize of part (a)")
    parser.add_argument("--rate", type=int, default=5000, help="row changes per second of parts (b) and (c)")
    parser.add_argument("--tick", type=float, default=0.01, help="seconds between the writer's transactions")
    parser.add_argument("--interval", type=float, default=0.5, help="CdcMaxBatchInterval of parts (b) and (c)")
    parser.add_argument("--min-file-kb", type=int, default=32_000, help="CdcMinFileSize of parts (b) and (c)")
    parser.add_argument("--rss-interval", type=float, default=5, help="seconds between RSS samples in part (c)")
    parser.add_argument(
        "--quiet-cores", type=float, default=0.5, help="before each run, wait until the machine uses fewer cores"
    )
    parser.add_argument("--quiet-timeout", type=float, default=120, help="... but at most this many seconds")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a binlake run of (a) is killed")
    parser.add_argument("--profile", action="store_true", help="one more binlake run of (a) under py-spy")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / "data" / "cdc")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running and the work directory")
    parser.add_argument("--keep-output", action="store_true", help="keep each run's Parquet files")
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    if set(args.parts) - {"a", "b", "c"}:
        parser.error(f"unknown parts {sorted(set(args.parts) - {'a', 'b', 'c'})}")
    if set(args.contenders) - set(ALL_CONTENDERS):
        parser.error(f"unknown contenders {sorted(set(args.contenders) - set(ALL_CONTENDERS))}")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in CHILD_MODES:
        return child_main(argv)
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # so the sandbox is destroyed
    bench = Bench(args)
    started = time.monotonic()
    env: dict[str, Any] = {}
    try:
        bench.start()
        env = bench.environment()
        if "a" in args.parts:
            bench.part_a()
        if "b" in args.parts:
            bench.steady["b"] = bench.steady_run("b", args.latency_seconds, 1.0)
        if "c" in args.parts:
            bench.steady["c"] = bench.steady_run("c", args.soak_seconds, args.rss_interval)
    finally:
        if not args.keep:
            bench.sandbox.destroy()
            shutil.rmtree(bench.work, ignore_errors=True)
        if bench.source_copy is not None:
            shutil.rmtree(bench.source_copy, ignore_errors=True)
    table = markdown(bench)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    w = bench.workload
    result = {
        "command": [Path(sys.argv[0]).name, *argv],
        "environment": env,
        "load_average_at_end": os.getloadavg(),
        "total_seconds": round(time.monotonic() - started, 1),
        "workload": (
            {**w.__dict__, "before": fmt_position(w.before), "after": fmt_position(w.after), "changes": w.changes}
            if w
            else None
        ),
        "throughput": [r.as_dict() for r in bench.throughput],
        "throughput_all_runs": [r.as_dict() for r in bench.all_throughput],
        "profile": bench.profile,
        "steady": bench.steady,
        "markdown": table,
    }
    for path in (args.out / f"cdc-{stamp}.json", args.out / "cdc-latest.json"):
        path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nresults: {args.out / f'cdc-{stamp}.json'}", file=sys.stderr)
    failed = [r for r in bench.all_throughput if r.returncode != 0 or r.detail.get("failed")]
    failed += [name for name, s in bench.steady.items() if not s.get("complete")]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
