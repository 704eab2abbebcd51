"""Full-load benchmark: binlake vs a plain PyMySQL → pyarrow → Parquet loop vs dlt, on one private MariaDB.

The script starts its own sandbox MariaDB (``binlake.sandbox``, under ``--work-dir``; never the system
server), builds the guide's sample tables, warms the server's caches with one full scan per table, then
runs every contender in a child process of its own, one after the other, each writing local Parquet:

* ``binlake``: the CLI, one full-load task (``start-replication-task --quiet``); endpoints and task are
  created before the clock starts. ``binlake-serial``: the same with ``MaxFullLoadSubTasks`` 1.
* ``pymysql-loop``: bench/pymysql_loop.py, SSCursor + fetchmany → ``pa.Table.from_pydict`` → ParquetWriter.
* ``dlt-pyarrow`` / ``dlt-sqlalchemy``: bench/dlt_load.py, dlt's sql_database source with that backend →
  the filesystem destination, ``loader_file_format="parquet"``.

For each child it records wall seconds, rows/s, MB/s of Parquet written and of the source's InnoDB
DATA_LENGTH, the child's peak RSS (``os.wait4``'s ru_maxrss: the high-water mark of the largest process
of the tree; on Linux it is at least this script's own RSS at the spawn, which is carried over through
vfork and exec: about 60 MiB, recorded per run), the process tree's summed RSS sampled every 50 ms, the
child's CPU seconds and the MariaDB server's CPU seconds over the same span, and the CPU that everything
else on the machine took meanwhile. The machine is shared (2 cores): before each run the script waits for
it to be quiet, a run during which other jobs took more than ``--max-other`` of a core is run again, and
each contender runs ``--repeat`` times (the median is reported). Then the memory series: binlake on
``orders`` tables of each ``--sizes`` row count, and with ``--parallel N`` binlake on 1..N copies of an
orders table in one task. Results go to ``--out`` as JSON and are printed as markdown tables.

Usage: ``.venv/bin/python bench/full_load.py [--orders 2000000 --customers 1000000] [--sizes 1000000,4000000]``
(``pip install -e ".[bench]"`` brings PyMySQL, dlt and SQLAlchemy).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq

from binlake.sample import create_sample
from binlake.sandbox import Sandbox, SandboxInfo, free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/harness.py, imported as a sibling module
from harness import TreeSampler

BENCH_DIR = Path(__file__).resolve().parent
DATABASE = "ecommerce_platform"
MB = 1_000_000
MIB = 1024 * 1024
ALL_CONTENDERS = ("binlake", "binlake-serial", "pymysql-loop", "dlt-pyarrow", "dlt-sqlalchemy")
# binlake-serial: the same CLI with FullLoadSettings.MaxFullLoadSubTasks = 1 (tables one after the other).
SERIAL_SETTINGS = {"FullLoadSettings": {"MaxFullLoadSubTasks": 1}}


@dataclass
class Run:
    """One contender loading one set of tables, measured from outside."""

    contender: str
    tables: list[str]
    rows: int
    seconds: float
    parquet_bytes: int
    source_bytes: int
    peak_rss_bytes: int
    tree_rss_bytes: int
    cpu_seconds: float
    server_cpu_seconds: float
    other_cpu_seconds: float
    load_average: float
    files: int
    returncode: int
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            rows_per_second=round(self.rows_per_second),
            parquet_mb_per_second=round(self.parquet_bytes / MB / self.seconds, 2),
            source_mb_per_second=round(self.source_bytes / MB / self.seconds, 2),
            peak_rss_mib=round(self.peak_rss_bytes / MIB, 1),
            tree_rss_mib=round(self.tree_rss_bytes / MIB, 1),
        )
        return data


def measure(
    cmd: list[str], log_path: Path, server_pid: int, env: dict[str, str] | None = None, timeout: float = 1800.0
) -> dict[str, Any]:
    """Run ``cmd`` to completion; wall time, peak RSS, CPU of it and of the server. stdout+stderr to log_path.

    A child still running after ``timeout`` seconds is killed (and so reported as failed).
    """
    server = psutil.Process(server_pid)
    server_before = server.cpu_times()
    machine_before = psutil.cpu_times()
    load_average = os.getloadavg()[0]
    parent_rss = psutil.Process().memory_info().rss
    with open(log_path, "wb") as log:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        killer = threading.Timer(timeout, proc.kill)
        killer.daemon = True
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.monotonic() - started
        except BaseException:  # interrupted: do not leave the child running
            proc.kill()
            os.wait4(proc.pid, 0)
            raise
        finally:
            killer.cancel()
            tree_peak = sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
    server_after = server.cpu_times()
    machine_after = psutil.cpu_times()
    server_cpu = (server_after.user + server_after.system) - (server_before.user + server_before.system)
    cpu = usage.ru_utime + usage.ru_stime
    machine_busy = sum(
        getattr(machine_after, f) - getattr(machine_before, f)
        for f in ("user", "nice", "system", "irq", "softirq", "steal")
    )
    return {
        "seconds": seconds,
        "returncode": proc.returncode,
        "peak_rss_bytes": usage.ru_maxrss * 1024,  # Linux reports KiB
        # Sampled after exec, so free of the parent's pages that ru_maxrss can carry over through vfork/exec.
        "tree_rss_bytes": tree_peak,
        "cpu_seconds": cpu,
        "server_cpu_seconds": server_cpu,
        # Everything else the machine did meanwhile (other users' jobs, this script's sampler): a disturbed run.
        "other_cpu_seconds": max(0.0, machine_busy - cpu - server_cpu),
        "load_average": load_average,
        "parent_rss_bytes": parent_rss,
    }


def parquet_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.parquet") if p.is_file())


def count_output(root: Path) -> tuple[int, int, int]:
    """(rows, bytes, files) of every Parquet file under root, rows from the files' footers."""
    files = parquet_files(root)
    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    return rows, sum(p.stat().st_size for p in files), len(files)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work_dir.absolute()
        self.sandbox = Sandbox(self.work / "sandbox", port=free_port())
        self.info: SandboxInfo | None = None
        self.runs: list[Run] = []
        self.series: list[Run] = []
        self.parallel: list[Run] = []
        self.source: dict[str, dict[str, dict[str, int]]] = {}
        self.timings: dict[str, float] = {}
        self._run_count = 0

    # -- setup ---------------------------------------------------------------
    def start(self) -> None:
        if self.work.exists():
            self.sandbox.destroy()  # a sandbox left by --keep: stop its server before removing its files
            shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        started = time.monotonic()
        self.info = self.sandbox.start()
        self.timings["sandbox_start_seconds"] = time.monotonic() - started

    @property
    def server_pid(self) -> int:
        pid = self.sandbox.pid()
        assert pid is not None, "sandbox MariaDB is not running"
        return pid

    def create_data(self, database: str, customers: int, orders: int) -> dict[str, int]:
        conn = self.sandbox.root_connection()
        try:
            started = time.monotonic()
            counts = create_sample(
                conn, database=database, customers=customers, products=self.args.products, orders=orders
            )
            self.timings[f"create_{database}_seconds"] = time.monotonic() - started
            cur = conn.cursor()
            sizes: dict[str, dict[str, int]] = {}
            for table in counts:
                cur.execute(f"ANALYZE TABLE `{database}`.`{table}`")
                cur.fetchall()
                # One full scan of the clustered index: every contender then reads from a warm cache.
                cur.execute(f"SELECT COUNT(*), SUM(LENGTH(updated_at)) FROM `{database}`.`{table}`")
                cur.fetchall()
                cur.execute(
                    "SELECT DATA_LENGTH, INDEX_LENGTH FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                    (database, table),
                )
                data_length, index_length = cur.fetchone()
                sizes[table] = {
                    "rows": counts[table],
                    "data_length": int(data_length),
                    "index_length": int(index_length),
                }
            self.source[database] = sizes
            return counts
        finally:
            conn.close()

    def wait_idle(self) -> dict[str, Any]:
        """Wait until the machine is quiet for 3 s in a row, at most ``--quiet-timeout`` seconds.

        Quiet: the sandbox server below 5% of a core (no flushing or purge left from building the data)
        and other jobs below ``--max-other`` of a core (the machine is shared; a contender takes one core).
        """
        server = psutil.Process(self.server_pid)
        started = time.monotonic()
        quiet = 0
        server.cpu_percent()
        psutil.cpu_percent()
        while time.monotonic() - started < self.args.quiet_timeout and quiet < 3:
            time.sleep(1.0)
            server_share = server.cpu_percent()  # percent of one core
            machine_cores = psutil.cpu_percent() * (os.cpu_count() or 1) / 100
            others = machine_cores - server_share / 100
            quiet = quiet + 1 if server_share < 5.0 and others < self.args.max_other else 0
        return {"waited_seconds": round(time.monotonic() - started, 1), "quiet": quiet >= 3}

    def server_version(self) -> str:
        conn = self.sandbox.root_connection()
        try:
            cur = conn.cursor()
            cur.execute("SELECT VERSION()")
            return str(cur.fetchone()[0])
        finally:
            conn.close()

    # -- contenders ----------------------------------------------------------
    def run(self, contender: str, database: str, tables: list[str]) -> Run:
        assert self.info is not None
        self._run_count += 1
        label = f"{self._run_count:02d}-{contender}-{database}-{'+'.join(tables)}"
        run_dir = self.work / "runs" / label
        out_dir = run_dir / "lake"
        out_dir.mkdir(parents=True)
        env = dict(os.environ)
        if contender.startswith("binlake"):
            settings = json.dumps(SERIAL_SETTINGS) if contender == "binlake-serial" else self.args.binlake_settings
            cmd = self._binlake_command(run_dir, out_dir, database, tables, settings)
        elif contender == "pymysql-loop":
            cmd = [
                sys.executable,
                str(BENCH_DIR / "pymysql_loop.py"),
                *self._connection_args(database),
                "--out",
                str(out_dir),
                "--batch-rows",
                str(self.args.batch_rows),
                *tables,
            ]
        elif contender.startswith("dlt-"):
            env.update(RUNTIME__DLTHUB_TELEMETRY="false", DLT_DATA_DIR=str(run_dir / "dlt_data"))
            cmd = [
                sys.executable,
                str(BENCH_DIR / "dlt_load.py"),
                *self._connection_args(database),
                "--out",
                str(out_dir),
                "--work",
                str(run_dir / "work"),
                "--backend",
                contender.removeprefix("dlt-"),
                *tables,
            ]
        else:
            raise SystemExit(f"unknown contender {contender}")
        idle = self.wait_idle()
        print(f"  {label} ...", end="", flush=True, file=sys.stderr)
        measured = measure(cmd, run_dir / "output.log", self.server_pid, env, self.args.timeout)
        rows, parquet_bytes, files = count_output(out_dir)
        detail: dict[str, Any] = {
            "log": str(run_dir / "output.log"),
            "wait_before": idle,
            # ru_maxrss is never below this: the parent's RSS at spawn carries over (vfork + exec).
            "parent_rss_mib": round(measured["parent_rss_bytes"] / MIB, 1),
        }
        if contender.startswith("binlake"):
            detail["table_statistics"] = self._binlake_statistics(run_dir)
        run = Run(
            contender=contender,
            tables=tables,
            rows=rows,
            seconds=measured["seconds"],
            parquet_bytes=parquet_bytes,
            source_bytes=sum(self.source[database][t]["data_length"] for t in tables),
            peak_rss_bytes=measured["peak_rss_bytes"],
            tree_rss_bytes=measured["tree_rss_bytes"],
            cpu_seconds=measured["cpu_seconds"],
            server_cpu_seconds=measured["server_cpu_seconds"],
            other_cpu_seconds=measured["other_cpu_seconds"],
            load_average=measured["load_average"],
            files=files,
            returncode=measured["returncode"],
            detail=detail,
        )
        expected = sum(self.source[database][t]["rows"] for t in tables)
        run.detail["expected_rows"] = expected
        status = "ok" if run.returncode == 0 and rows == expected else f"FAILED (rc={run.returncode}, rows={rows})"
        print(
            f" {run.seconds:.1f} s, {run.rows_per_second:,.0f} rows/s, "
            f"peak RSS {run.peak_rss_bytes / MIB:.0f} MiB {status}",
            file=sys.stderr,
        )
        if not self.args.keep_output:
            shutil.rmtree(out_dir, ignore_errors=True)
        return run

    def _connection_args(self, database: str) -> list[str]:
        assert self.info is not None
        return [
            "--host",
            self.info.host,
            "--port",
            str(self.info.port),
            "--user",
            self.info.user,
            "--password-file",
            self.info.password_file,
            "--database",
            database,
        ]

    def _binlake(self, run_dir: Path, *args: str) -> list[str]:
        return [sys.executable, "-m", "binlake", "--state-dir", str(run_dir / "state"), *args]

    def _binlake_command(
        self, run_dir: Path, out_dir: Path, database: str, tables: list[str], settings: str
    ) -> list[str]:
        """Create endpoints and the task (not timed); return the timed start command."""
        assert self.info is not None
        rules = [
            {
                "rule-type": "selection",
                "rule-id": str(i),
                "rule-name": str(i),
                "object-locator": {"schema-name": database, "table-name": table},
                "rule-action": "include",
            }
            for i, table in enumerate(tables, start=1)
        ]
        setup = [
            [
                "create-endpoint",
                "--endpoint-identifier",
                "src",
                "--endpoint-type",
                "source",
                "--engine-name",
                "mariadb",
                "--server-name",
                self.info.host,
                "--port",
                str(self.info.port),
                "--username",
                self.info.user,
                "--password-file",
                self.info.password_file,
            ],
            [
                "create-endpoint",
                "--endpoint-identifier",
                "lake",
                "--endpoint-type",
                "target",
                "--engine-name",
                "s3",
                "--s3-settings",
                json.dumps({"BucketName": str(out_dir), "BucketFolder": "hub"}),
            ],
            [
                "create-replication-task",
                "--replication-task-identifier",
                "t",
                "--source-endpoint-arn",
                "src",
                "--target-endpoint-arn",
                "lake",
                "--migration-type",
                "full-load",
                "--table-mappings",
                json.dumps({"rules": rules}),
                *(["--replication-task-settings", settings] if settings else []),
            ],
        ]
        for args in setup:
            subprocess.run(self._binlake(run_dir, *args), check=True, capture_output=True)
        return self._binlake(
            run_dir,
            "start-replication-task",
            "--replication-task-arn",
            "t",
            "--start-replication-task-type",
            "start-replication",
            "--quiet",
        )

    def _binlake_statistics(self, run_dir: Path) -> list[dict[str, Any]]:
        result = subprocess.run(
            self._binlake(run_dir, "describe-table-statistics", "--replication-task-arn", "t", "--output", "json"),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            return [{"error": result.stderr.strip()}]
        stats = json.loads(result.stdout).get("TableStatistics", [])
        return [{k: s.get(k) for k in ("TableName", "FullLoadRows", "TableState")} for s in stats]

    def repeat(self, contender: str, database: str, tables: list[str]) -> Run:
        """Run ``--repeat`` times (dlt: ``--repeat-dlt``); keep the median run (the others are in its detail)."""
        times = self.args.repeat_dlt if contender.startswith("dlt-") else self.args.repeat
        runs = [self.undisturbed(contender, database, tables) for _ in range(max(times, 1))]
        if len(runs) == 1:
            return runs[0]
        median = statistics.median_low(r.seconds for r in runs)
        chosen = next(r for r in runs if r.seconds == median)
        chosen.detail["all_seconds"] = [r.seconds for r in runs]
        chosen.detail["all_peak_rss_mib"] = [round(r.peak_rss_bytes / MIB, 1) for r in runs]
        chosen.detail["discarded_disturbed"] = sum(len(r.detail.get("disturbed_runs", [])) for r in runs)
        return chosen

    def undisturbed(self, contender: str, database: str, tables: list[str]) -> Run:
        """One run; run again (``--retries`` times at most) while other jobs took more than ``--max-other``
        of a core on average during it. The discarded runs' figures stay in the detail."""
        disturbed: list[dict[str, float]] = []
        while True:
            run = self.run(contender, database, tables)
            other_share = run.other_cpu_seconds / run.seconds if run.seconds else 0.0
            if other_share <= self.args.max_other or len(disturbed) >= self.args.retries:
                run.detail["disturbed_runs"] = disturbed
                run.detail["disturbed"] = other_share > self.args.max_other
                return run
            print(f"  (other jobs used {other_share:.0%} of a core: run again)", file=sys.stderr)
            disturbed.append({"seconds": run.seconds, "other_cpu_seconds": run.other_cpu_seconds})

    # -- main ----------------------------------------------------------------
    def compare(self) -> None:
        print(f"creating {DATABASE}: {self.args.customers:,} customers, {self.args.orders:,} orders", file=sys.stderr)
        self.create_data(DATABASE, self.args.customers, self.args.orders)
        table_sets = [["orders", "customers"], ["orders"]]
        for tables in table_sets:
            for contender in self.args.contenders:
                if tables == ["orders"] and contender not in ("binlake", "pymysql-loop"):
                    continue  # the single-table runs compare binlake with the loop only
                self.runs.append(self.repeat(contender, DATABASE, tables))

    def memory_series(self) -> None:
        for size in self.args.sizes:
            database = f"bench_orders_{size}"
            print(f"creating {database}: {size:,} orders", file=sys.stderr)
            self.create_data(database, self.args.series_customers, size)
            self.series.append(self.undisturbed("binlake", database, ["orders"]))
            conn = self.sandbox.root_connection()
            try:
                conn.cursor().execute(f"DROP DATABASE `{database}`")  # the disk is needed for the next size
            finally:
                conn.close()

    def parallel_series(self) -> None:
        """binlake on 1..N copies of one orders table in one task: memory per table loaded in parallel."""
        database = "bench_parallel"
        rows = self.args.parallel_rows
        print(f"creating {database}: {self.args.parallel} copies of {rows:,} orders", file=sys.stderr)
        self.create_data(database, self.args.series_customers, rows)
        conn = self.sandbox.root_connection()
        try:
            cur = conn.cursor()
            names = ["orders"]
            for k in range(2, self.args.parallel + 1):
                name = f"orders_{k}"
                cur.execute(f"CREATE TABLE `{database}`.`{name}` LIKE `{database}`.`orders`")
                cur.execute(f"INSERT INTO `{database}`.`{name}` SELECT * FROM `{database}`.`orders`")
                conn.commit()
                self.source[database][name] = dict(self.source[database]["orders"])
                names.append(name)
        finally:
            conn.close()
        for k in range(1, self.args.parallel + 1):
            self.parallel.append(self.undisturbed("binlake", database, names[:k]))

    def environment(self) -> dict[str, Any]:
        versions = {}
        for dist in ("binlake", "pyarrow", "mysqlclient", "PyMySQL", "dlt", "SQLAlchemy", "psutil"):
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
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "nproc": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)),
            "cpu_model": cpu_model,
            "ram_gib": round(psutil.virtual_memory().total / 1024**3, 1),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "mariadb": self.server_version(),
            "versions": versions,
            "source_tree": source_tree(),
        }


def source_tree() -> dict[str, Any]:
    """Which binlake was measured: the commit, whether src/ had uncommitted changes, and a digest of src/."""
    root = BENCH_DIR.parent
    digest = hashlib.sha256()
    for path in sorted((root / "src").rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())

    def git(*args: str) -> str:
        result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "HEAD"),
        "src_changed_files": len(git("status", "--porcelain", "--", "src").splitlines()),
        "src_sha256": digest.hexdigest()[:16],
    }


def ratio_base(runs: list[Run], tables: list[str]) -> Run | None:
    return next((r for r in runs if r.contender == "pymysql-loop" and r.tables == tables), None)


def markdown(runs: list[Run], series: list[Run], parallel: list[Run]) -> str:
    lines = []
    if runs:
        lines += [
            "| contender | tables | rows | seconds (range) | rows/s | Parquet MB/s | source MB/s | peak RSS MiB "
            "| tree RSS MiB | client CPU s | server CPU s | other CPU s | × PyMySQL loop |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for r in runs:
            base = ratio_base(runs, r.tables)
            ratio = f"{base.seconds / r.seconds:.2f}×" if base else "–"
            name = r.contender + (" (disturbed)" if r.detail.get("disturbed") else "")
            spread = r.detail.get("all_seconds")
            seconds = f"{r.seconds:.1f}" + (f" ({min(spread):.1f}–{max(spread):.1f})" if spread else "")
            lines.append(
                f"| {name} | {' + '.join(r.tables)} | {r.rows:,} | {seconds} | {r.rows_per_second:,.0f} "
                f"| {r.parquet_bytes / MB / r.seconds:.1f} | {r.source_bytes / MB / r.seconds:.1f} "
                f"| {r.peak_rss_bytes / MIB:.0f} | {r.tree_rss_bytes / MIB:.0f} | {r.cpu_seconds:.1f} "
                f"| {r.server_cpu_seconds:.1f} | {r.other_cpu_seconds:.1f} | {ratio} |"
            )
    if series:
        lines += [
            "",
            "| binlake, orders only | rows | seconds | rows/s | Parquet MB | peak RSS MiB | tree RSS MiB |",
            "|---|--:|--:|--:|--:|--:|--:|",
        ]
        for r in series:
            lines.append(
                f"| {r.rows / 1e6:g}M rows{' (disturbed)' if r.detail.get('disturbed') else ''} "
                f"| {r.rows:,} | {r.seconds:.1f} | {r.rows_per_second:,.0f} "
                f"| {r.parquet_bytes / MB:.0f} | {r.peak_rss_bytes / MIB:.0f} | {r.tree_rss_bytes / MIB:.0f} |"
            )
    if parallel:
        lines += [
            "",
            "| binlake, tables in parallel | rows | seconds | rows/s | peak RSS MiB | client CPU s |",
            "|---|--:|--:|--:|--:|--:|",
        ]
        for r in parallel:
            lines.append(
                f"| {len(r.tables)} × orders{' (disturbed)' if r.detail.get('disturbed') else ''} | {r.rows:,} "
                f"| {r.seconds:.1f} | {r.rows_per_second:,.0f} | {r.peak_rss_bytes / MIB:.0f} | {r.cpu_seconds:.1f} |"
            )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument(
        "--sizes",
        default="1000000,4000000",
        help="orders row counts of the memory series (binlake only); empty to skip",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=0,
        help="also load 1..N copies of an orders table in one binlake task (memory per parallel table); 0: skip",
    )
    parser.add_argument("--parallel-rows", type=int, default=400_000, help="rows of each copy for --parallel")
    parser.add_argument("--series-customers", type=int, default=10_000, help="customers behind the series' orders")
    parser.add_argument(
        "--contenders",
        default=",".join(ALL_CONTENDERS),
        help=f"comma-separated, of {', '.join(ALL_CONTENDERS)}; empty to skip the comparison",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the median is reported")
    parser.add_argument("--repeat-dlt", type=int, default=1, help="runs per dlt contender (the slow ones)")
    parser.add_argument(
        "--max-other",
        type=float,
        default=0.6,
        help="a run during which other jobs used more than this share of a core is run again",
    )
    parser.add_argument("--retries", type=int, default=2, help="re-runs at most of a disturbed run")
    parser.add_argument(
        "--quiet-timeout", type=float, default=30.0, help="longest wait for a quiet machine before each run"
    )
    parser.add_argument("--batch-rows", type=int, default=10_000, help="fetchmany size of the PyMySQL loop")
    parser.add_argument("--binlake-settings", default="", help="--replication-task-settings JSON for binlake's task")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / "data" / "full_load")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a contender is killed")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running and the work directory")
    parser.add_argument("--keep-output", action="store_true", help="keep each run's Parquet files")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(args.contenders) - set(ALL_CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    started = time.monotonic()
    try:
        bench.start()
        env = bench.environment()
        if args.contenders:
            bench.compare()
        if args.sizes:
            bench.memory_series()
        if args.parallel:
            bench.parallel_series()
    finally:
        if not args.keep:
            bench.sandbox.destroy()
            shutil.rmtree(bench.work, ignore_errors=True)
    table = markdown(bench.runs, bench.series, bench.parallel)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "command": [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])],
        "environment": env,
        "source": bench.source,
        "timings": {k: round(v, 2) for k, v in bench.timings.items()},
        "total_seconds": round(time.monotonic() - started, 1),
        "runs": [r.as_dict() for r in bench.runs],
        "series": [r.as_dict() for r in bench.series],
        "parallel": [r.as_dict() for r in bench.parallel],
        "markdown": table,
    }
    for path in (args.out / f"full_load-{stamp}.json", args.out / "full_load-latest.json"):
        path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults: {args.out / f'full_load-{stamp}.json'}", file=sys.stderr)
    failed = [
        r
        for r in bench.runs + bench.series + bench.parallel
        if r.returncode != 0 or r.rows != r.detail["expected_rows"]
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
