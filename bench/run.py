"""The one benchmark run: full load and CDC against their limits and the other tools, interleaved, same data.

One private sandbox MariaDB (bench/harness.py), the data of bench/workload.py, the contenders of
bench/contenders.py, ``--rounds`` interleaved rounds (the order rotates by one each round), medians:

Full load of the guide's ``orders`` table (``--orders`` rows): mariadb-client (the C client: the limit),
connectorx, pymysql-loop, mysqlclient-loop, dlt (pyarrow backend), binlake (compiled) and binlake-python
(BINLAKE_PURE_PYTHON=1). The ``--slow-full-load`` contenders read a table of the first ``--slow-rows`` rows of
the same ``orders`` (their rate is what they reach on it). Then binlake's peak RSS on orders tables of each
``--sizes`` row count, next to the C client.

CDC, two workloads written into the binlog, each read over exactly its range: ``oltp`` (``--oltp-transactions``
transactions of 100 changes: 30 % inserts, 50 % updates, 20 % deletes, statements of about 4 rows) and ``bulk``
(``--bulk-changes`` changes in statements of 1,000 rows: 60/30/10). Contenders: mariadb-binlog (the C decoder:
the limit), plain-loop (python-mysql-replication into dicts), binlake and binlake-python (a cdc task at DMS's
default file settings, timed until its checkpoint passes the range's end). The ``--slow-cdc`` contenders stop
after the range's first ``--slow-changes`` changes.

Every run records wall time, CPU, the process tree's peak RSS, the server's CPU, the CPU other processes took
meanwhile and the load average; ratios are rates against the limit of the same run. Results go to ``--out`` as
JSON and markdown (after each part, so an interrupted run keeps what it measured); ``--write-docs`` puts the
markdown into docs/benchmarks.md between its bench/run.py markers. ``--quick``: small sizes, one round, ~3 min.

Usage: ``.venv/bin/python bench/run.py [--quick] [--write-docs]`` (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # noqa: F401  (bench/full_load_timeline.py counts its rows with run.pq)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules: harness, workload, contenders, report
import contenders
import report
import workload
from contenders import CDC, FULL_LOAD
from harness import MIB, SandboxServer, environment, interleaved, measure, wait_quiet

BENCH_DIR = Path(__file__).resolve().parent
DOCS = BENCH_DIR.parent / "docs" / "benchmarks.md"
DATABASE = "ecommerce_platform"
HEAD_TABLE = "orders_head"  # the first --slow-rows rows of orders, for the slow full-load contenders
WORKLOADS = ("oltp", "bulk")
PACKAGES = ("pyarrow", "mysqlclient", "PyMySQL", "connectorx", "dlt", "mysql-replication", "psutil")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    """The sandbox and the options; numbers every run's directory."""

    def __init__(self, args: argparse.Namespace, server: SandboxServer) -> None:
        self.args = args
        self.server = server
        self.count = 0

    def run_dir(self, label: str) -> Path:
        self.count += 1
        path = self.args.work_dir / "runs" / f"{self.count:03d}-{label}"
        path.mkdir(parents=True)
        return path

    def wait(self) -> dict[str, Any]:
        return wait_quiet(self.server.pid, self.args.quiet_cores, self.args.quiet_timeout)

    def summary(
        self, contender: str, measured: Any, units: int, subset: bool, ok: bool, waited: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        run = {
            "contender": contender,
            "units": units,
            "subset": subset,
            "ok": ok,
            "wait": waited,
            **measured.as_dict(),
            "rate": round(units / measured.seconds) if measured.seconds else 0,
            **extra,
        }
        if not ok and extra.get("log") and Path(extra["log"]).exists():  # the work dir goes with the sandbox
            kept = self.args.out / "failed" / f"{Path(extra['log']).parent.name}.log"
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(extra["log"], kept)
            extra["log"] = run["log"] = kept
        log(
            f"    {measured.seconds:.1f} s, {run['rate']:,}/s{' (subset)' if subset else ''}, peak RSS "
            f"{run['peak_rss_mib']:.0f} MiB, CPU {measured.cpu_seconds:.1f} s, load {measured.load_before:.1f}, "
            f"others {measured.other_cores:.2f} cores"
            + (f", server disk reads {extra['server_disk_reads']:,}" if "server_disk_reads" in extra else "")
            + ("" if ok else f" FAILED (see {extra.get('log')})")
        )
        return run

    # -- full load ----------------------------------------------------------------------------------------------
    def full_load(self, contender: str, database: str, table: str, rows: int, subset: bool) -> dict[str, Any]:
        run_dir = self.run_dir(f"fl-{contender}-{database}")
        lake = run_dir / "lake"
        lake.mkdir()
        cmd = contenders.full_load_command(contender, self.server, database, table, run_dir, lake)
        waited = self.wait()
        log(f"  full load {contender} ({database}.{table}, {rows:,} rows) ...")
        env = contenders.contender_env(contender, run_dir)
        output = run_dir / "output.log"
        reads_before = workload.disk_reads(self.server)
        measured = measure(cmd, output, self.server.pid, env, self.args.timeout, shell=isinstance(cmd, str))
        server_disk_reads = workload.disk_reads(self.server) - reads_before
        written, parquet_bytes = contenders.parquet_rows(lake)
        ok = measured.returncode == 0 and (contender == "mariadb-client" or written == rows)
        if not self.args.keep_output:
            shutil.rmtree(lake, ignore_errors=True)
        return self.summary(
            contender, measured, rows, subset, ok, waited, rows_written=written, parquet_bytes=parquet_bytes,
            server_disk_reads=server_disk_reads, log=output,
        )  # fmt: skip

    def compare_full_load(self) -> dict[str, list[dict[str, Any]]]:
        log(f"full load: creating {DATABASE}.orders, {self.args.orders:,} rows")
        rows = workload.create_orders(self.server, DATABASE, self.args.orders)
        slow = [c for c in self.args.full_load if c in self.args.slow_full_load]
        head = workload.create_head(self.server, DATABASE, HEAD_TABLE, self.args.slow_rows) if slow else 0

        def run(contender: str, _: int) -> dict[str, Any]:
            if contender in slow:
                return self.full_load(contender, DATABASE, HEAD_TABLE, head, subset=head < rows)
            return self.full_load(contender, DATABASE, "orders", rows, subset=False)

        return interleaved(self.args.full_load, self.args.rounds, run, log)

    def memory_series(self) -> list[dict[str, Any]]:
        series = []
        for size in self.args.sizes:
            database = f"orders_{size}"
            log(f"full load memory series: {size:,} rows")
            rows = workload.create_orders(self.server, database, size)
            for contender in ("mariadb-client", "binlake"):
                series.append({"size": size, **self.full_load(contender, database, "orders", rows, subset=False)})
            self.server.query(f"DROP DATABASE `{database}`")
        return series

    # -- CDC ------------------------------------------------------------------------------------------------------
    def cdc(self, contender: str, w: workload.Workload) -> dict[str, Any]:
        run_dir = self.run_dir(f"cdc-{w.name}-{contender}")
        waited = self.wait()
        log(f"  cdc {w.name} {contender} ...")
        output = run_dir / "output.log"
        counts: dict[str, int] = {}
        subset, extra = False, {}
        try:
            if contender.startswith("binlake"):
                measured, counts, extra = contenders.run_binlake_cdc(
                    contender, self.server, w, workload.SCHEMA, run_dir, self.args.timeout
                )
                changes = sum(counts.values())
                ok = (
                    measured.returncode == 0
                    and extra["complete"]
                    and counts == {k: v for k, v in w.counts.items() if v}
                )
            elif contender == "mariadb-binlog":
                cmd = contenders.c_decoder_command(self.server, w, run_dir)
                measured = measure(cmd, output, self.server.pid, None, self.args.timeout, shell=True)
                changes = contenders.c_decoder_changes(run_dir)
                ok = measured.returncode == 0 and changes == w.changes
            else:
                subset = contender in self.args.slow_cdc and self.args.slow_changes < w.changes
                cap = self.args.slow_changes if subset else 0
                cmd = contenders.plain_loop_command(self.server, w, run_dir, 3_000_000 + self.count, cap)
                measured = measure(cmd, output, self.server.pid, None, self.args.timeout)
                counts = contenders.plain_loop_changes(run_dir)
                changes = sum(counts.values())
                ok = measured.returncode == 0 and (changes >= cap if subset else counts == w.counts)
        except TimeoutError as exc:
            log(f"    {exc}")
            return {"contender": contender, "ok": False, "error": str(exc), "log": str(output)}
        finally:
            if not self.args.keep_output:
                shutil.rmtree(run_dir / "lake", ignore_errors=True)
        return self.summary(contender, measured, changes, subset, ok, waited, counts=counts, log=output, **extra)

    def compare_cdc(self, name: str) -> dict[str, Any]:
        log(f"cdc {name}: writing the workload")
        if name == "oltp":
            w = workload.write_oltp(self.server, self.args.oltp_transactions)
        else:
            w = workload.write_bulk(self.server, self.args.bulk_changes)
        log(
            f"  {w.inserts:,} inserts + {w.updates:,} updates + {w.deletes:,} deletes in {w.transactions:,} "
            f"transactions, {w.binlog_bytes / MIB:.0f} MiB of binlog ({w.seconds:.0f} s)"
        )
        runs = interleaved(self.args.cdc, self.args.rounds, lambda c, _: self.cdc(c, w), log)
        # a run that failed to finish has no measurement: it counts as not ok, and out of the medians
        measured = {c: [r for r in rs if "seconds" in r] for c, rs in runs.items()}
        failed = {c: [r for r in rs if "seconds" not in r] for c, rs in runs.items()}
        return {"workload": w.as_dict(), "runs": measured, "failed": {c: rs for c, rs in failed.items() if rs}}


class FullLoad:
    """The interface bench/full_load_timeline.py (written on another branch against the previous run.py) uses: the
    orders table and a contender's timed command. New code calls bench/workload.py and bench/contenders.py."""

    def __init__(self, args: argparse.Namespace, server: SandboxServer) -> None:
        self.server = server

    def create(self, database: str, orders: int) -> int:
        return workload.create_orders(self.server, database, orders)

    def command(self, contender: str, database: str, run_dir: Path, lake: Path) -> list[str] | str:
        return contenders.full_load_command(contender, self.server, database, "orders", run_dir, lake)


def names(text: str, known: tuple[str, ...], parser: argparse.ArgumentParser, what: str) -> list[str]:
    chosen = [c.strip() for c in text.split(",") if c.strip()]
    if set(chosen) - set(known):
        parser.error(f"unknown {what}: {sorted(set(chosen) - set(known))}; known: {', '.join(known)}")
    return chosen


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round: a smoke run of ~3 minutes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--orders", type=int, default=1_000_000, help="rows of the full load's orders table")
    parser.add_argument("--slow-rows", type=int, default=200_000, help="rows the slow full-load contenders read")
    parser.add_argument("--slow-full-load", default="pymysql-loop,mysqlclient-loop,dlt", help="the slow ones")
    parser.add_argument("--sizes", default="", help="orders sizes of binlake's memory series, e.g. 1000000,4000000")
    parser.add_argument("--oltp-transactions", type=int, default=10_000, help="transactions of 100 changes")
    parser.add_argument("--bulk-changes", type=int, default=1_000_000, help="changes of the bulk workload")
    parser.add_argument("--slow-changes", type=int, default=100_000, help="changes the slow CDC contenders read")
    parser.add_argument("--slow-cdc", default="plain-loop", help="the slow ones")
    parser.add_argument("--full-load", default=",".join(FULL_LOAD), help=f"contenders, of {', '.join(FULL_LOAD)}")
    parser.add_argument("--cdc", default=",".join(CDC), help=f"contenders, of {', '.join(CDC)}")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"CDC workloads, of {', '.join(WORKLOADS)}")
    parser.add_argument("--quiet-cores", type=float, default=0.5, help="wait for a machine using fewer cores ...")
    parser.add_argument("--quiet-timeout", type=float, default=30, help="... but at most this many seconds")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a run is killed")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / "data" / "run")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--write-docs", action="store_true", help="put the tables into docs/benchmarks.md")
    parser.add_argument("--keep-output", action="store_true", help="keep each run's Parquet files")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.orders, args.slow_rows, args.sizes = 1, 100_000, 20_000, ""
        args.oltp_transactions, args.bulk_changes, args.slow_changes, args.quiet_timeout = 200, 50_000, 5_000, 5
    args.work_dir = args.work_dir.absolute()
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.full_load = names(args.full_load, FULL_LOAD, parser, "full-load contenders")
    args.slow_full_load = names(args.slow_full_load, FULL_LOAD, parser, "slow full-load contenders")
    args.cdc = names(args.cdc, CDC, parser, "CDC contenders")
    args.slow_cdc = names(args.slow_cdc, CDC, parser, "slow CDC contenders")
    args.workloads = names(args.workloads, WORKLOADS, parser, "CDC workloads")
    return args


def save(args: argparse.Namespace, result: dict[str, Any], name: str) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / name).write_text(json.dumps(result, indent=2, default=str) + "\n")


def failures(result: dict[str, Any]) -> list[dict[str, Any]]:
    runs = [r for rs in result.get("full_load", {}).values() for r in rs]
    runs += [r for part in result.get("cdc", {}).values() for rs in part["runs"].values() for r in rs]
    runs += [r for part in result.get("cdc", {}).values() for rs in part["failed"].values() for r in rs]
    return [r for r in runs if not r["ok"]]


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
    try:
        server.start()
        result["environment"] = environment(server, PACKAGES)
        bench = Bench(args, server)
        if args.full_load:
            result["full_load"] = bench.compare_full_load()
            save(args, result, "run-partial.json")
        if args.sizes:
            result["memory_series"] = bench.memory_series()
            save(args, result, "run-partial.json")
        if args.cdc and args.workloads:
            result["cdc"] = {}
            for name in args.workloads:
                result["cdc"][name] = bench.compare_cdc(name)
                save(args, result, "run-partial.json")
    finally:
        server.destroy()
    result["total_seconds"] = round(time.monotonic() - started)
    result["load_average_at_end"] = os.getloadavg()
    text = report.markdown(result)
    print(text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"run-{stamp}.json", "run-latest.json"):
        save(args, {**result, "markdown": text}, name)
    if args.write_docs:
        report.write_docs(DOCS, text)
    return 1 if failures(result) else 0


if __name__ == "__main__":
    raise SystemExit(main())
