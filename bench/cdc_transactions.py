"""CDC transaction handling (issue 9): binlake before and after the rewrite, on the same binlog, in one run.

The rewrite (c1021ed and later) holds an open transaction's rows events as bytes, decodes them at COMMIT,
spills them to disk past ``ChangeProcessingTuning.MemoryLimitTotal`` (64 MB by default) and writes a large
transaction into several files under one checkpoint. This script runs binlake at ``--old-commit`` (46d1be5,
the commit before) and at main's HEAD side by side, each exported with ``git archive`` into a temporary
directory and run as a child on ``PYTHONPATH`` (bench/cdc.py's mechanism, with two copies instead of one),
with this interpreter and its libraries. Both versions read the same binlog of one sandbox MariaDB
(``binlake.sandbox`` under ``--work-dir``; never the system server):

1. Throughput: bench/cdc.py's part (a) workload (``--changes`` row changes of the 12-column orders table in
   transactions of ``--txn-rows``; 60 % inserts, 30 % updates, 10 % deletes), then ``--rounds`` rounds of
   old binlake, new binlake and ``mariadb-binlog --read-from-remote-server --verbose
   --base64-output=DECODE-ROWS`` (the C decoder, output counted by ``grep``: the limit figure). binlake runs
   as bench/cdc.py's ``binlake`` contender: a CDC task from the range's start, timed until its checkpoint
   reaches the range's end (CdcMaxBatchInterval ``--binlake-interval``, CdcMinFileSize
   ``--binlake-min-file-kb``).
2. One large transaction: a fresh orders table of ``--big-rows`` rows, then one ``UPDATE`` of all of them.
   Per round: new binlake (default task settings, so MemoryLimitTotal 64 MB), python-mysql-replication's
   plain loop (bench/cdc.py's ``plain-loop``; only ``--plain-loop-rounds`` rounds, it is slow) and old
   binlake. A binlake task is killed once its process tree's RSS passes ``--rss-limit-mb`` or after
   ``--big-timeout`` s; once the old version has been stopped that way it is not run again in later rounds.
   The lake's U rows are counted from the Parquet files.

Every run: wall seconds, CPU seconds (wait4), peak RSS of the process tree (sampled every 50 ms), the
server's and other processes' CPU seconds during the run, the load average, and the quiet-machine wait
before it (bench/cdc.py's ``wait_idle``). Medians over the rounds; ratios are new ÷ old from the same run.
Results go to ``--out`` as JSON and are printed as markdown tables.

Usage: ``.venv/bin/python bench/cdc_transactions.py [--changes 1000000] [--rounds 3] [--big-rows 2000000]``
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/cdc.py, imported as a sibling module
from cdc import (
    INSERT_SELECT_SQL,
    MIB,
    SCHEMA,
    UPDATE_RANGE_SQL,
    Bench,
    CpuMeter,
    ThroughputRun,
    TreeSampler,
    Workload,
)

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
THROUGHPUT_CONTENDERS = ("binlake-old", "binlake-new", "mariadb-binlog")
BIG_CONTENDERS = ("binlake-new", "plain-loop", "binlake-old")
PREFILL_CHUNK = 200_000  # rows per INSERT ... SELECT while filling the big table (its own transactions)
ROW_LINE = r"^### (INSERT INTO|UPDATE|DELETE FROM) "  # one per row in mariadb-binlog --verbose output


class RssGuard(threading.Thread):
    """Kills this script's ``start-replication-task`` child once its process tree's RSS passes ``limit``."""

    def __init__(self, limit: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.limit = limit
        self.interval = interval
        self.killed_at: float | None = None  # seconds after the guard started
        self.rss_at_kill = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        me = psutil.Process()
        while not self._stop_event.wait(self.interval):
            for child in me.children():
                with contextlib.suppress(psutil.Error):
                    if "start-replication-task" not in child.cmdline():
                        continue
                    total = sum(p.memory_info().rss for p in (child, *child.children(recursive=True)))
                    if total > self.limit:
                        child.kill()
                        self.killed_at, self.rss_at_kill = time.monotonic() - started, total
                        return

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def export_source(commit: str, into: Path) -> tuple[Path, str]:
    """``git archive <commit> src`` under ``into``: the directory for PYTHONPATH and a digest of its .py files."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO_DIR), "archive", commit, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    package = into / "src" / "binlake"
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return into / "src", digest.hexdigest()[:16]


def git_commit(ref: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO_DIR), "rev-parse", "--short", ref], capture_output=True, text=True, check=True
    ).stdout.strip()


class TransactionBench(Bench):
    """bench/cdc.py's Bench with two binlake versions: ``binlake-old`` and ``binlake-new`` pick the copy."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.sources: dict[str, Path] = {}
        self.versions: dict[str, dict[str, str]] = {}
        self.parts: dict[str, dict[str, Any]] = {}
        self.env: dict[str, Any] = {}
        self.rss_guarded = False  # binlake runs are killed past --rss-limit-mb (the single-UPDATE part)

    def snapshot_source(self) -> None:
        """Both versions exported once, outside the repository: commits made meanwhile change neither."""
        self.source_copy = Path(tempfile.mkdtemp(prefix="binlake-txn-bench-"))
        for version, ref in (("old", self.args.old_commit), ("new", "HEAD")):
            commit = git_commit(ref)
            self.sources[version], digest = export_source(commit, self.source_copy / version)
            self.versions[version] = {"commit": commit, "binlake_source_sha256": digest}
        self.source_digest = json.dumps(self.versions)

    def run_contender(self, contender: str, profile: bool = False) -> ThroughputRun:
        version = "old" if contender == "binlake-old" else "new"  # non-binlake children import binlake too
        os.environ["PYTHONPATH"] = str(self.sources[version])
        load_before = os.getloadavg()
        if self.rss_guarded and contender.startswith("binlake"):
            guard = RssGuard(self.args.rss_limit_mb * MIB)
            guard.start()
            run = super().run_contender(contender, profile)
            guard.stop()
            if guard.killed_at is not None:
                run.detail["stopped"] = f"killed at {guard.rss_at_kill / MIB:,.0f} MiB RSS"
            elif run.detail.get("durable_seconds") is None:
                run.detail["stopped"] = f"not done within {self.args.timeout:g} s"
        else:
            run = super().run_contender(contender, profile)
        run.detail.update(load_average_before=load_before, load_average_after=os.getloadavg())
        return run

    def _run_binlake(self, contender: str, run_dir: Path, profile: bool) -> ThroughputRun:
        run = super()._run_binlake(contender, run_dir, profile)
        # bench/cdc.py compares its Counter with a dict holding every kind: a kind the workload has none of
        # (the single UPDATE's I and D) would count as missing.
        w = self.workload
        assert w is not None
        expected = {k: v for k, v in (("I", w.inserts), ("U", w.updates), ("D", w.deletes)) if v}
        found = {k: v for k, v in run.counts.items() if v}
        run.detail["complete"] = found == expected and run.detail.get("durable_seconds") is not None
        return run

    def _run_reader(self, contender: str, run_dir: Path) -> ThroughputRun:
        if contender == "mariadb-binlog":
            return self._run_c_decoder(run_dir)
        return super()._run_reader(contender, run_dir)

    def _run_c_decoder(self, run_dir: Path) -> ThroughputRun:
        """mariadb-binlog over the range, its text piped into ``grep -c`` (which counts the rows)."""
        assert self.workload is not None and self.info is not None
        w, info = self.workload, self.info
        files = [str(row[0]) for row in self.query("SHOW BINARY LOGS") if w.before[0] <= str(row[0]) <= w.after[0]]
        client_cnf = run_dir / "client.cnf"  # the password stays off the command line
        client_cnf.write_text(f"[client]\npassword={Path(info.password_file).read_text().strip()}\n")
        client_cnf.chmod(0o600)
        cmd = [
            "mariadb-binlog",
            f"--defaults-extra-file={client_cnf}",
            *["--read-from-remote-server", "--host", info.host, "--port", str(info.port), "--user", info.user],
            *["--verbose", "--base64-output=DECODE-ROWS"],
            *[f"--start-position={w.before[1]}", f"--stop-position={w.after[1]}", *files],
        ]
        meter = CpuMeter(self.server_pid)
        meter.start()
        with open(run_dir / "stderr.log", "wb") as errors:
            started = time.monotonic()
            decoder = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL)
            counter = subprocess.Popen(["grep", "-c", "-E", ROW_LINE], stdin=decoder.stdout, stdout=subprocess.PIPE)
            assert decoder.stdout is not None and counter.stdout is not None
            decoder.stdout.close()  # grep holds the pipe's only reader
            sampler = TreeSampler(decoder.pid)
            sampler.start()
            _, status, usage = os.wait4(decoder.pid, 0)
            peak = sampler.stop()
            rows_text = counter.stdout.read()
            _, _, grep_usage = os.wait4(counter.pid, 0)
            seconds = time.monotonic() - started
        cpu = usage.ru_utime + usage.ru_stime
        grep_cpu = grep_usage.ru_utime + grep_usage.ru_stime
        meters = meter.stop(cpu + grep_cpu)
        rows = int(rows_text.strip() or 0)
        return ThroughputRun(
            contender="mariadb-binlog",
            changes=rows,
            seconds=seconds,
            seconds_after_startup=None,
            peak_rss_bytes=peak,
            ru_maxrss_bytes=usage.ru_maxrss * 1024,
            cpu_seconds=cpu,
            server_cpu_seconds=meters["server_cpu_seconds"],
            returncode=os.waitstatus_to_exitcode(status),
            counts={"rows": rows},
            detail={"grep_cpu_seconds": round(grep_cpu, 2), "binlog_files": files, **meters},
        )

    # -- the workloads ---------------------------------------------------------------------------------------------
    def execute(self, sql: str, params: tuple[Any, ...] | None = None) -> int:
        conn = self.sandbox.root_connection()
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            return int(cur.rowcount)
        finally:
            conn.close()

    def write_big_update(self) -> Workload:
        """A fresh orders table of ``--big-rows`` rows, then one UPDATE of every row: a single transaction."""
        rows = self.args.big_rows
        self.execute(f"DROP TABLE IF EXISTS `{SCHEMA}`.`orders`")
        self.create_table("orders")
        for base in range(0, rows, PREFILL_CHUNK):
            count = min(PREFILL_CHUNK, rows - base)
            self.execute(INSERT_SELECT_SQL.format(schema=SCHEMA, table="orders", base=base, count=count))
        self.execute("FLUSH BINARY LOGS")
        before = self.master_position()
        started = time.monotonic()
        updated = self.execute(UPDATE_RANGE_SQL.format(schema=SCHEMA, table="orders"), (1, rows))
        seconds = time.monotonic() - started
        after = self.master_position()
        if updated != rows:
            raise SystemExit(f"the UPDATE changed {updated:,} rows, not {rows:,}")
        return Workload(before, after, 0, rows, 0, 1, self.binlog_bytes(before, after), seconds)

    def run_part(self, name: str, contenders: tuple[str, ...], rounds: int, limits: dict[str, int]) -> None:
        """``rounds`` rounds of ``contenders`` in turn; ``limits`` caps some contenders' rounds."""
        w = self.workload
        assert w is not None
        print(
            f"[{name}] {w.changes:,} changes in {w.transactions:,} transactions, {w.binlog_bytes / MIB:,.0f} MiB of "
            f"binlog ({w.seconds:.0f} s to write); {rounds} rounds of {', '.join(contenders)}",
            file=sys.stderr,
        )
        runs: dict[str, list[ThroughputRun]] = defaultdict(list)
        for _ in range(rounds):
            for contender in contenders:
                earlier = runs[contender]
                if len(earlier) >= limits.get(contender, rounds):
                    continue
                if contender == "binlake-old" and earlier and earlier[-1].detail.get("stopped"):
                    continue  # stopped at the limit once: it would be stopped again, at the same point
                earlier.append(self.run_contender(contender))
                self.record_part(name, runs)

    def record_part(self, name: str, runs: dict[str, list[ThroughputRun]]) -> None:
        """The part's figures so far, written out after every run: a run stopped midway keeps what it measured."""
        w = self.workload
        assert w is not None
        runs = {c: rs for c, rs in runs.items() if rs}
        self.parts[name] = {
            "workload": {
                **w.__dict__,
                "changes": w.changes,
                "before": f"{w.before[0]}:{w.before[1]}",
                "after": f"{w.after[0]}:{w.after[1]}",
            },
            "runs": {c: [r.as_dict() for r in rs] for c, rs in runs.items()},
            "median": {c: medians(rs) for c, rs in runs.items()},
        }
        self.save(self.args.out / "cdc_transactions-partial.json")

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
            "environment": self.env,
            "versions": self.versions,
            "quiet_waits": self.quiet_waits,
            "load_average_at_end": os.getloadavg(),
            "parts": self.parts,
            "markdown": markdown(self),
        }
        path.write_text(json.dumps(result, indent=2, default=str) + "\n")


def medians(runs: list[ThroughputRun]) -> dict[str, Any]:
    def median(values: list[float]) -> float:
        return round(statistics.median(values), 2)

    return {
        "rounds": len(runs),
        "seconds": median([r.seconds for r in runs]),
        "cpu_seconds": median([r.cpu_seconds for r in runs]),
        "peak_rss_mib": median([r.peak_rss_bytes / MIB for r in runs]),
        "max_peak_rss_mib": round(max(r.peak_rss_bytes for r in runs) / MIB, 1),
        "changes": [r.changes for r in runs],
        "all_seconds": [round(r.seconds, 2) for r in runs],
        "all_cpu_seconds": [round(r.cpu_seconds, 2) for r in runs],
        "other_cpu_seconds": [r.detail.get("other_cpu_seconds") for r in runs],
        "failed": [r.detail.get("failed") for r in runs if r.detail.get("failed")],
        "stopped": [r.detail.get("stopped") for r in runs if r.detail.get("stopped")],
    }


# -- report ------------------------------------------------------------------------------------------------------------
def markdown(bench: TransactionBench) -> str:
    lines = [f"binlake old = {bench.versions['old']['commit']}, new = {bench.versions['new']['commit']}", ""]
    for name, part in bench.parts.items():
        w = part["workload"]
        lines += [
            f"### {name}: {w['changes']:,} changes in {w['transactions']:,} transactions, "
            f"{w['binlog_bytes'] / MIB:,.0f} MiB of binlog",
            "",
            "| contender | rounds | median s (all) | changes/s | median CPU s (all) | peak RSS MiB (max) "
            "| others' CPU s per run | result |",
            "|---|--:|--:|--:|--:|--:|--:|---|",
        ]
        for contender, m in part["median"].items():
            result = "; ".join(m["stopped"] or m["failed"]) or f"ok, {m['changes'][0]:,} changes"
            seconds, cpu = ", ".join(map(str, m["all_seconds"])), ", ".join(map(str, m["all_cpu_seconds"]))
            rate = "–" if m["stopped"] else f"{w['changes'] / m['seconds']:,.0f}"
            lines.append(
                f"| {contender} | {m['rounds']} | {m['seconds']} ({seconds}) "
                f"| {rate} | {m['cpu_seconds']} ({cpu}) "
                f"| {m['peak_rss_mib']:,.0f} ({m['max_peak_rss_mib']:,.0f}) "
                f"| {', '.join(str(x) for x in m['other_cpu_seconds'])} | {result} |"
            )
        old, new = part["median"].get("binlake-old"), part["median"].get("binlake-new")
        if old and new and not old["stopped"]:
            pairs = zip(part["runs"]["binlake-old"], part["runs"]["binlake-new"], strict=False)
            paired = ", ".join(f"{n['seconds'] / o['seconds']:.3f}" for o, n in pairs)
            lines += [
                "",
                f"new ÷ old: wall {new['seconds'] / old['seconds']:.3f} (per round {paired}), "
                f"CPU {new['cpu_seconds'] / old['cpu_seconds']:.3f}",
            ]
        lines.append("")
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--old-commit", default="46d1be5", help="binlake before the transaction rewrite")
    parser.add_argument("--changes", type=int, default=1_000_000, help="row changes of the throughput part")
    parser.add_argument("--txn-rows", type=int, default=1000, help="rows per transaction of the throughput part")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the throughput part; medians reported")
    parser.add_argument("--big-rows", type=int, default=2_000_000, help="rows of the single UPDATE (0: skip)")
    parser.add_argument("--big-rounds", type=int, default=3, help="rounds of the single-UPDATE part")
    parser.add_argument(
        "--plain-loop-rounds", type=int, default=1, help="rounds of python-mysql-replication in the single-UPDATE part"
    )
    parser.add_argument("--rss-limit-mb", type=int, default=6144, help="a binlake task is killed past this RSS")
    parser.add_argument("--big-timeout", type=float, default=600, help="... or after this many seconds")
    parser.add_argument("--no-c-decoder", action="store_true", help="skip mariadb-binlog in the throughput part")
    parser.add_argument("--binlake-interval", type=float, default=5, help="CdcMaxBatchInterval of every task")
    parser.add_argument("--binlake-min-file-kb", type=int, default=100_000, help="CdcMinFileSize of every task")
    parser.add_argument("--quiet-cores", type=float, default=0.8, help="before each run, wait for fewer busy cores")
    parser.add_argument("--quiet-timeout", type=float, default=30, help="... but at most this many seconds")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a throughput run is killed")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "binlake-cdc-transactions")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running and the work directory")
    args = parser.parse_args(argv)
    args.keep_output = False  # bench/cdc.py's runs remove each lake once counted
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # so the sandbox is destroyed
    bench = TransactionBench(args)
    try:
        bench.start()
        bench.env = bench.environment()
        bench.workload = bench.write_workload()
        contenders = THROUGHPUT_CONTENDERS[:2] if args.no_c_decoder else THROUGHPUT_CONTENDERS
        bench.run_part("throughput", contenders, args.rounds, {})
        if args.big_rows:
            bench.workload = bench.write_big_update()
            args.timeout = args.big_timeout
            bench.rss_guarded = True
            bench.run_part("single UPDATE", BIG_CONTENDERS, args.big_rounds, {"plain-loop": args.plain_loop_rounds})
    finally:
        if not args.keep:
            bench.sandbox.destroy()
            shutil.rmtree(bench.work, ignore_errors=True)
        if bench.source_copy is not None:
            shutil.rmtree(bench.source_copy, ignore_errors=True)
    print(markdown(bench))
    path = args.out / f"cdc_transactions-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    bench.save(path)
    print(f"\nresults: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
