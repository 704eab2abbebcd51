"""The one benchmark run: full load and CDC against their limits and the other tools, interleaved, same data.

One private sandbox MariaDB (bench/harness.py), then:

Full load of the guide's ``orders`` table (``--orders`` rows, binlake.sample), ``--rounds`` interleaved rounds of:
  * ``mariadb-client``: ``mariadb --quick --batch -e 'SELECT * FROM orders' > /dev/null`` (the C client: the
    limit for one client core; it writes no Parquet);
  * ``connectorx``: bench/connectorx_load.py (Rust, whole table → Arrow → Parquet);
  * ``pymysql-loop`` / ``mysqlclient-loop``: bench/pymysql_loop.py (SSCursor + fetchmany → Arrow → Parquet);
  * ``dlt``: bench/dlt_load.py, the pyarrow backend;
  * ``binlake``: a full-load task (its compiled reader) and ``binlake-python``: the same with
    BINLAKE_PURE_PYTHON=1.
Then binlake's peak RSS on orders tables of each ``--sizes`` row count.

CDC, two workloads written into the binlog, then ``--rounds`` interleaved rounds over exactly that range of:
  * ``mariadb-binlog``: ``--read-from-remote-server --verbose --base64-output=DECODE-ROWS``, rows counted by grep
    (the C decoder: the limit);
  * ``plain-loop``: python-mysql-replication's BinLogStreamReader, every row into a dict;
  * ``binlake`` / ``binlake-python``: a cdc task from the range's start at DMS's default file settings
    (CdcMaxBatchInterval 60, CdcMinFileSize 32000), timed until its checkpoint passes the range's end.
  Workloads: ``oltp``: ``--oltp-transactions`` transactions of 100 changes (30 % inserts, 50 % updates, 20 %
  deletes) in statements of 4 rows, as an OLTP application writes them; ``bulk``: bench/cdc.py's part (a),
  ``--bulk-changes`` changes in statements of 1,000 rows (60/30/10).

Every run records wall time, CPU, the process tree's peak RSS, the server's CPU, the CPU other processes took
meanwhile and the load average; ratios are against the limit of the same run (medians of the rounds). Results go
to ``--out`` as JSON and markdown; ``--write-docs`` puts the markdown into docs/benchmarks.md's "One run"
section. ``--quick``: small sizes, one round, a few minutes.

Usage: ``.venv/bin/python bench/run.py [--quick] [--write-docs]`` (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules: harness, cdc, cdc_transactions
import cdc
import cdc_transactions
from binlake.sample import create_sample
from harness import MIB, SandboxServer, environment, interleaved, measure, median_run, wait_quiet

BENCH_DIR = Path(__file__).resolve().parent
DOCS = BENCH_DIR.parent / "docs" / "benchmarks.md"
DATABASE = "ecommerce_platform"
FULL_LOAD = ("mariadb-client", "connectorx", "pymysql-loop", "mysqlclient-loop", "dlt", "binlake", "binlake-python")
CDC = ("mariadb-binlog", "plain-loop", "binlake", "binlake-python")
WORKLOADS = ("oltp", "bulk")
DMS_DEFAULTS = "binlake-dms-defaults"  # bench/cdc.py's contender: CdcMaxBatchInterval 60, CdcMinFileSize 32000
DOCS_BEGIN = "<!-- bench/run.py: begin -->"
DOCS_END = "<!-- bench/run.py: end -->"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pure_python_env(contender: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("BINLAKE_PURE_PYTHON", None)
    if contender == "binlake-python":
        env["BINLAKE_PURE_PYTHON"] = "1"
    return env


# -- full load ------------------------------------------------------------------------------------------------------
class FullLoad:
    def __init__(self, args: argparse.Namespace, server: SandboxServer) -> None:
        self.args = args
        self.server = server
        self.runs = 0

    def create(self, database: str, orders: int) -> int:
        conn = self.server.sandbox.root_connection()
        try:
            counts = create_sample(conn, database=database, customers=10_000, products=1_000, orders=orders)
            cur = conn.cursor()
            cur.execute(f"SELECT COUNT(*), SUM(LENGTH(updated_at)) FROM `{database}`.orders")  # a warm cache
            cur.fetchall()
            return counts["orders"]
        finally:
            conn.close()

    def connection_args(self, database: str) -> list[str]:
        info = self.server.info
        assert info is not None
        return [
            *["--host", info.host, "--port", str(info.port), "--user", info.user],
            *["--password-file", info.password_file, "--database", database],
        ]

    def command(self, contender: str, database: str, run_dir: Path, lake: Path) -> list[str] | str:
        info = self.server.info
        assert info is not None
        python = sys.executable
        if contender == "mariadb-client":
            cnf = self.server.client_config(run_dir / "client.cnf")
            return (
                f"mariadb --defaults-extra-file={cnf} -h {info.host} -P {info.port} -u {info.user} --quick --batch "
                f"-e 'SELECT * FROM `{database}`.orders' > /dev/null"
            )
        if contender == "connectorx":
            return [python, str(BENCH_DIR / "connectorx_load.py"), *self.connection_args(database), "--out", str(lake)]
        if contender in ("pymysql-loop", "mysqlclient-loop"):
            driver = contender.removesuffix("-loop")
            return [python, str(BENCH_DIR / "pymysql_loop.py"), *self.connection_args(database), "--driver", driver]
        if contender == "dlt":
            return [
                *[python, str(BENCH_DIR / "dlt_load.py"), *self.connection_args(database), "--out", str(lake)],
                *["--work", str(run_dir / "work"), "--backend", "pyarrow"],
            ]
        return self.binlake_task(database, run_dir, lake)

    def binlake_task(self, database: str, run_dir: Path, lake: Path) -> list[str]:
        """Endpoints and a full-load task (not timed); returns the timed start command."""
        info = self.server.info
        assert info is not None
        binlake = [sys.executable, "-m", "binlake", "--state-dir", str(run_dir / "state")]
        rule = {
            "rule-type": "selection",
            "rule-id": "1",
            "rule-name": "1",
            "object-locator": {"schema-name": database, "table-name": "orders"},
            "rule-action": "include",
        }
        for step in (
            [
                *["create-endpoint", "--endpoint-identifier", "src", "--endpoint-type", "source"],
                *["--engine-name", "mariadb", "--server-name", info.host, "--port", str(info.port)],
                *["--username", info.user, "--password-file", info.password_file],
            ],
            [
                *["create-endpoint", "--endpoint-identifier", "lake", "--endpoint-type", "target"],
                *["--engine-name", "s3", "--s3-settings", json.dumps({"BucketName": str(lake), "BucketFolder": "hub"})],
            ],
            [
                *["create-replication-task", "--replication-task-identifier", "t", "--source-endpoint-arn", "src"],
                *["--target-endpoint-arn", "lake", "--migration-type", "full-load"],
                *["--table-mappings", json.dumps({"rules": [rule]})],
            ],
        ):
            subprocess.run([*binlake, *step], check=True, capture_output=True)
        start = ["start-replication-task", "--replication-task-arn", "t"]
        return [*binlake, *start, "--start-replication-task-type", "start-replication", "--quiet"]

    def run(self, contender: str, database: str, expected: int) -> dict[str, Any]:
        self.runs += 1
        run_dir = self.args.work_dir / "runs" / f"fl-{self.runs:02d}-{contender}-{database}"
        lake = run_dir / "lake"
        lake.mkdir(parents=True)
        cmd = self.command(contender, database, run_dir, lake)
        if contender in ("pymysql-loop", "mysqlclient-loop"):
            assert isinstance(cmd, list)
            cmd = [*cmd, "--out", str(lake), "orders"]
        elif contender in ("connectorx", "dlt"):
            assert isinstance(cmd, list)
            cmd = [*cmd, "orders"]
        waited = wait_quiet(self.server.pid, self.args.quiet_cores, self.args.quiet_timeout)
        log(f"  full load {contender} ({database}) ...")
        env = pure_python_env(contender)
        if contender == "dlt":
            env.update(RUNTIME__DLTHUB_TELEMETRY="false", DLT_DATA_DIR=str(run_dir / "dlt_data"))
        measured = measure(
            cmd, run_dir / "output.log", self.server.pid, env, self.args.timeout, shell=isinstance(cmd, str)
        )
        files = sorted(p for p in lake.rglob("*.parquet") if p.is_file())
        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in files) if files else None
        ok = measured.returncode == 0 and (contender == "mariadb-client" or rows == expected)
        result = {
            "contender": contender,
            "rows": expected,
            "rows_written": rows,
            "parquet_bytes": sum(p.stat().st_size for p in files),
            "ok": ok,
            "wait": waited,
            **measured.as_dict(),
            "rows_per_second": round(expected / measured.seconds),
        }
        log(
            f"    {measured.seconds:.1f} s, {expected / measured.seconds:,.0f} rows/s, peak RSS "
            f"{measured.peak_rss_bytes / MIB:.0f} MiB, others {measured.other_cores:.2f} cores"
            f"{'' if ok else ' FAILED (see ' + str(run_dir / 'output.log') + ')'}"
        )
        if not self.args.keep_output:
            shutil.rmtree(lake, ignore_errors=True)
        return result

    def compare(self) -> dict[str, list[dict[str, Any]]]:
        log(f"full load: creating {DATABASE}.orders, {self.args.orders:,} rows")
        rows = self.create(DATABASE, self.args.orders)
        return interleaved(self.args.full_load, self.args.rounds, lambda c, _: self.run(c, DATABASE, rows), log)

    def memory_series(self) -> list[dict[str, Any]]:
        series = []
        for size in self.args.sizes:
            database = f"orders_{size}"
            log(f"full load memory series: {size:,} rows")
            rows = self.create(database, size)
            for contender in ("mariadb-client", "binlake"):
                series.append({"size": size, **self.run(contender, database, rows)})
            self.server.query(f"DROP DATABASE `{database}`")
        return series


# -- CDC ------------------------------------------------------------------------------------------------------------
class CdcBench(cdc.Bench):
    """bench/cdc.py's runs on this script's sandbox, with the C decoder of bench/cdc_transactions.py."""

    _run_c_decoder = cdc_transactions.TransactionBench._run_c_decoder

    def start_on(self, server: SandboxServer) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.sandbox, self.info = server.sandbox, server.info
        self.snapshot_source()
        self.query(f"CREATE DATABASE IF NOT EXISTS `{cdc.SCHEMA}`")

    def run_contender(self, contender: str, profile: bool = False) -> cdc.ThroughputRun:
        if contender == "mariadb-binlog":
            self._runs += 1
            run_dir = self.work / "runs" / f"{self._runs:02d}-{contender}"
            run_dir.mkdir(parents=True)
            waited = self.wait_idle()
            log(f"  cdc {contender} ...")
            run = self._run_c_decoder(run_dir)
            run.detail.update(waited)
            log(
                f"    {run.seconds:.1f} s, {run.rate:,.0f} changes/s, peak RSS {run.peak_rss_bytes / MIB:.0f} MiB, "
                f"CPU {run.cpu_seconds:.1f} s (others {run.detail.get('other_cpu_seconds')} s)"
            )
        else:
            previous = os.environ.pop("BINLAKE_PURE_PYTHON", None)
            if contender == "binlake-python":
                os.environ["BINLAKE_PURE_PYTHON"] = "1"
            try:
                name = DMS_DEFAULTS if contender.startswith("binlake") else contender
                log(f"  cdc {contender} ...")
                run = super().run_contender(name, profile)
                run.contender = contender
            finally:
                os.environ.pop("BINLAKE_PURE_PYTHON", None)
                if previous is not None:
                    os.environ["BINLAKE_PURE_PYTHON"] = previous
        run.detail["load_average_after"] = os.getloadavg()[0]
        return run

    def write_oltp(self, transactions: int, seed: int = 14) -> cdc.Workload:
        """``transactions`` transactions of 100 changes (30 inserts, 50 updates, 20 deletes) in statements of
        about 4 rows, statement order shuffled; updates and deletes touch rows that exist."""
        self.query(f"DROP TABLE IF EXISTS `{cdc.SCHEMA}`.orders")
        prefill = 20_000
        self.create_table("orders", prefill=prefill)
        rng = random.Random(seed)
        low, next_seq = 1, prefill + 1  # live rows: seq low .. next_seq - 1
        counted: Counter[str] = Counter()
        conn = self.sandbox.root_connection()
        try:
            cur = conn.cursor()
            cur.execute("FLUSH BINARY LOGS")
            before = self.master_position()
            started = time.monotonic()
            for _ in range(transactions):
                statements = [("I", k) for k in (4,) * 7 + (2,)]
                statements += [("U", k) for k in (4,) * 12 + (2,)]
                statements += [("D", 4)] * 5
                rng.shuffle(statements)
                cur.execute("START TRANSACTION")
                deleted = 0
                for kind, k in statements:
                    if kind == "I":
                        cur.execute(
                            cdc.INSERT_SELECT_SQL.format(schema=cdc.SCHEMA, table="orders", base=next_seq - 1, count=k)
                        )
                        next_seq += k
                    elif kind == "D":
                        cur.execute(cdc.DELETE_RANGE_SQL.format(schema=cdc.SCHEMA, table="orders"), (low, low + k - 1))
                        low += k
                        deleted += k
                    else:  # rows past this transaction's deletes, inserted before it
                        first = rng.randint(low + 20 - deleted, next_seq - 40 - k)
                        cur.execute(
                            cdc.UPDATE_RANGE_SQL.format(schema=cdc.SCHEMA, table="orders"), (first, first + k - 1)
                        )
                    counted[kind] += cur.rowcount
                conn.commit()
            seconds = time.monotonic() - started
            after = self.master_position()
        finally:
            conn.close()
        return cdc.Workload(
            before=before,
            after=after,
            inserts=counted["I"],
            updates=counted["U"],
            deletes=counted["D"],
            transactions=transactions,
            binlog_bytes=self.binlog_bytes(before, after),
            seconds=seconds,
        )

    def write_bulk(self) -> cdc.Workload:
        self.query(f"DROP TABLE IF EXISTS `{cdc.SCHEMA}`.orders")
        return self.write_workload()

    def compare(self, workload: str, contenders: list[str], rounds: int) -> dict[str, Any]:
        log(f"cdc {workload}: writing the workload")
        w = self.write_oltp(self.args.oltp_transactions) if workload == "oltp" else self.write_bulk()
        self.workload = w
        log(
            f"  {w.inserts:,} inserts + {w.updates:,} updates + {w.deletes:,} deletes in {w.transactions:,} "
            f"transactions, {w.binlog_bytes / MIB:.0f} MiB of binlog ({w.seconds:.0f} s)"
        )
        runs = interleaved(contenders, rounds, lambda c, _: self.run_contender(c), log)
        return {
            "workload": {**w.__dict__, "before": cdc.fmt_position(w.before), "after": cdc.fmt_position(w.after)},
            "runs": {c: [self.summary(r) for r in rs] for c, rs in runs.items()},
        }

    def summary(self, run: cdc.ThroughputRun) -> dict[str, Any]:
        assert self.workload is not None
        complete = run.returncode == 0 and run.changes == self.workload.changes and run.detail.get("complete", True)
        detail = run.detail
        return {
            "contender": run.contender,
            "changes": run.changes,
            "seconds": round(run.seconds, 2),
            "changes_per_second": round(run.rate),
            "cpu_seconds": round(run.cpu_seconds, 2),
            "peak_rss_mib": round(run.peak_rss_bytes / MIB, 1),
            "server_cpu_seconds": run.server_cpu_seconds,
            "other_cpu_seconds": detail.get("other_cpu_seconds"),
            "other_cores": round((detail.get("other_cpu_seconds") or 0) / run.seconds, 2) if run.seconds else None,
            "busy_cores_before": detail.get("busy_cores_before"),
            "load_average_after": detail.get("load_average_after"),
            "files": detail.get("files"),
            "ok": bool(complete),
        }


# -- report ---------------------------------------------------------------------------------------------------------
def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    chosen = median_run(runs, lambda r: r["seconds"])
    return {**chosen, "all_seconds": [round(r["seconds"], 1) for r in runs]}


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    lines = [
        f"Run of {env['date']} ({result['command']}), {env['nproc']} cores ({env['cpu_model']}), MariaDB "
        f"{env['mariadb']}, commit {env['commit'][:10]}; {result['rounds']} interleaved rounds, medians. "
        "'others' is the CPU (in cores) other processes on the shared machine used during the run: the load "
        "each figure was measured under.",
        "",
    ]
    full = result.get("full_load")
    if full:
        limit = medians(full["mariadb-client"]) if "mariadb-client" in full else None
        lines += [
            f"Full load of `orders`, {result['orders']:,} rows (12 columns), local Parquet:",
            "",
            "| full load | rows/s | × C client | seconds (rounds) | peak RSS MiB | CPU s | × C client's CPU "
            "| others (cores) | ok |",
            "|---|--:|--:|---|--:|--:|--:|--:|---|",
        ]
        for name, runs in full.items():
            m = medians(runs)
            ratio = f"{limit['seconds'] / m['seconds']:.2f}×" if limit else "–"
            others = ", ".join(f"{r['other_cores']:.2f}" for r in runs)
            cpu_ratio = f"{limit['cpu_seconds'] / m['cpu_seconds']:.2f}×" if limit and m["cpu_seconds"] else "–"
            lines.append(
                f"| {name} | {m['rows_per_second']:,} | {ratio} | {' / '.join(map(str, m['all_seconds']))} "
                f"| {m['peak_rss_mib']:.0f} | {m['cpu_seconds']:.1f} | {cpu_ratio} | {others} "
                f"| {all(r['ok'] for r in runs)} |"
            )
        lines.append("")
    series = result.get("memory_series")
    if series:
        lines += [
            "| memory series | rows | rows/s | × C client | peak RSS MiB | others (cores) |",
            "|---|--:|--:|--:|--:|--:|",
        ]
        for size in sorted({s["size"] for s in series}):
            at = {s["contender"]: s for s in series if s["size"] == size}
            limit = at.get("mariadb-client")
            for name, s in at.items():
                ratio = f"{limit['seconds'] / s['seconds']:.2f}×" if limit else "–"
                lines.append(
                    f"| {name} | {size:,} | {s['rows_per_second']:,} | {ratio} | {s['peak_rss_mib']:.0f} "
                    f"| {s['other_cores']:.2f} |"
                )
        lines.append("")
    for workload, part in result.get("cdc", {}).items():
        w = part["workload"]
        changes = w["inserts"] + w["updates"] + w["deletes"]
        lines += [
            f"CDC, {workload}: {changes:,} row changes ({w['inserts']:,} I, {w['updates']:,} U, {w['deletes']:,} D) in "
            f"{w['transactions']:,} transactions, {w['binlog_bytes'] / MIB:.0f} MiB of binlog, read over TCP:",
            "",
            "| CDC | changes/s | × C decoder | seconds (rounds) | peak RSS MiB | CPU s | × C decoder's CPU "
            "| others (cores) | ok |",
            "|---|--:|--:|---|--:|--:|--:|--:|---|",
        ]
        runs_by = part["runs"]
        limit = medians(runs_by["mariadb-binlog"]) if "mariadb-binlog" in runs_by else None
        for name, runs in runs_by.items():
            m = medians(runs)
            ratio = f"{limit['seconds'] / m['seconds']:.2f}×" if limit else "–"
            others = ", ".join(f"{r['other_cores']:.2f}" for r in runs)
            cpu_ratio = f"{limit['cpu_seconds'] / m['cpu_seconds']:.2f}×" if limit and m["cpu_seconds"] else "–"
            lines.append(
                f"| {name} | {m['changes_per_second']:,} | {ratio} | {' / '.join(map(str, m['all_seconds']))} "
                f"| {m['peak_rss_mib']:.0f} | {m['cpu_seconds']:.1f} | {cpu_ratio} | {others} "
                f"| {all(r['ok'] for r in runs)} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_docs(text: str) -> None:
    """Replace the text between the markers in docs/benchmarks.md (the markers must be there)."""
    doc = DOCS.read_text()
    begin, end = doc.index(DOCS_BEGIN) + len(DOCS_BEGIN), doc.index(DOCS_END)
    DOCS.write_text(doc[:begin] + "\n" + text + doc[end:])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round: a smoke run of minutes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--orders", type=int, default=2_000_000, help="rows of the full load's orders table")
    parser.add_argument("--sizes", default="1000000,4000000", help="orders sizes of binlake's memory series")
    parser.add_argument("--oltp-transactions", type=int, default=10_000, help="transactions of 100 changes")
    parser.add_argument("--bulk-changes", type=int, default=1_000_000, help="changes of the bulk workload")
    parser.add_argument("--full-load", default=",".join(FULL_LOAD), help=f"contenders, of {', '.join(FULL_LOAD)}")
    parser.add_argument("--cdc", default=",".join(CDC), help=f"contenders, of {', '.join(CDC)}")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"CDC workloads, of {', '.join(WORKLOADS)}")
    parser.add_argument("--quiet-cores", type=float, default=0.5, help="wait for a machine using fewer cores ...")
    parser.add_argument("--quiet-timeout", type=float, default=30, help="... but at most this many seconds")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a run is killed")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / "data" / "run")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--write-docs", action="store_true", help="put the tables into docs/benchmarks.md")
    parser.add_argument("--keep-output", action="store_true", help="keep each run's Parquet files")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.orders, args.sizes = 1, 200_000, ""
        args.oltp_transactions, args.bulk_changes, args.quiet_timeout = 200, 50_000, 5
    args.work_dir = args.work_dir.absolute()
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    for name, known in (("full_load", FULL_LOAD), ("cdc", CDC), ("workloads", WORKLOADS)):
        chosen = [c.strip() for c in getattr(args, name).split(",") if c.strip()]
        if set(chosen) - set(known):
            parser.error(f"unknown {name}: {sorted(set(chosen) - set(known))}")
        setattr(args, name, chosen)
    return args


def save_partial(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """What is measured so far, in case a later part fails or is interrupted."""
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "run-partial.json").write_text(json.dumps(result, indent=2, default=str) + "\n")


def cdc_args(args: argparse.Namespace) -> argparse.Namespace:
    """The options bench/cdc.py's Bench reads."""
    return argparse.Namespace(
        work_dir=args.work_dir / "cdc",
        changes=args.bulk_changes,
        txn_rows=1000,
        quiet_cores=args.quiet_cores,
        quiet_timeout=args.quiet_timeout,
        timeout=args.timeout,
        keep_output=args.keep_output,
        binlake_interval=60,
        binlake_min_file_kb=32_000,
        oltp_transactions=args.oltp_transactions,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # so the sandbox is destroyed
    server = SandboxServer(args.work_dir)
    result: dict[str, Any] = {
        "command": " ".join(["bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "rounds": args.rounds,
        "orders": args.orders,
    }
    started = time.monotonic()
    bench: CdcBench | None = None
    try:
        server.start()
        packages = ("pyarrow", "mysqlclient", "PyMySQL", "connectorx", "dlt", "mysql-replication", "psutil")
        result["environment"] = environment(server, packages)
        if args.full_load or args.sizes:
            full_load = FullLoad(args, server)
            if args.full_load:
                result["full_load"] = full_load.compare()
                save_partial(args, result)
            if args.sizes:
                result["memory_series"] = full_load.memory_series()
                save_partial(args, result)
        if args.cdc and args.workloads:
            bench = CdcBench(cdc_args(args))
            bench.start_on(server)
            result["cdc"] = {}
            for workload in args.workloads:
                result["cdc"][workload] = bench.compare(workload, args.cdc, args.rounds)
                save_partial(args, result)
    finally:
        server.destroy()
        if bench is not None and bench.source_copy is not None:
            shutil.rmtree(bench.source_copy, ignore_errors=True)
    result["total_seconds"] = round(time.monotonic() - started)
    result["load_average_at_end"] = os.getloadavg()
    text = markdown(result)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for path in (args.out / f"run-{stamp}.json", args.out / "run-latest.json"):
        path.write_text(json.dumps({**result, "markdown": text}, indent=2, default=str) + "\n")
    if args.write_docs:
        write_docs(text)
    failed = [r for runs in result.get("full_load", {}).values() for r in runs if not r["ok"]]
    failed += [
        r for part in result.get("cdc", {}).values() for runs in part["runs"].values() for r in runs if not r["ok"]
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
