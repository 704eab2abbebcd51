"""Overhead of monitoring on CDC throughput: the same catch-up workload with the metrics sampler on and off.

The script starts its own sandbox MariaDB under ``--work-dir`` (never the system server), writes ``--changes``
row changes into ``bench.orders`` (bench/workload.py's bulk workload: 60 % inserts, 30 % updates, 10 % deletes,
``--txn-rows`` rows per transaction, on the 12-column orders table) and notes the binlog positions before and
after. Then, in ``--rounds`` rounds with the modes in a rotating order, a fresh ``cdc`` task reads exactly that
range (``--cdc-start-position``) with:

* ``off``:    BINLAKE_METRICS_INTERVAL=0 (no sampler thread);
* ``on``:     the default sampler, every ``--interval`` seconds (5);
* ``stress``: a sampler every ``--stress-interval`` seconds (0.5), ten times the default rate.

Events are recorded in every mode (the engine writes a handful per run: start, CDC start, stop); they cannot be
switched off and cost nothing per change.

A run's time is from its "CDC started" event to the moment its checkpoint reaches the end position (the task is
asked to stop once it has read everything, which flushes the last batch at once). changes/s is the workload's
row changes over that time; the median of the rounds is kept per mode, and the overhead is relative to ``off``.

Usage: ``.venv/bin/python bench/monitor_overhead.py [--changes 400000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules: harness, workload, contenders
from contenders import TASK, create_binlake_task
from harness import SandboxServer
from workload import SCHEMA, write_bulk

BENCH_DIR = Path(__file__).resolve().parent


def position(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    file, _, pos = text.rpartition(":")
    return file, int(pos)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work_dir.absolute()
        self.server = SandboxServer(self.work)
        self.sandbox = self.server.sandbox
        self.before: tuple[str, int] = ("", 0)
        self.after: tuple[str, int] = ("", 0)
        self.changes = 0

    def start(self) -> None:
        self.info = self.server.start()  # a fresh work directory
        # Every run uses one copy of the code: src/ may be edited while the benchmark runs.
        import binlake

        copy = self.work / "src" / "binlake"
        shutil.copytree(Path(binlake.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(copy.parent), os.environ.get("PYTHONPATH")]))

    def write_workload(self) -> None:
        w = write_bulk(self.server, self.args.changes, txn_rows=self.args.txn_rows)
        self.before, self.after, self.changes = w.before, w.after, w.changes

    def binlake(self, state: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "binlake", "--state-dir", str(state), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
        )
        if done.returncode != 0:
            raise SystemExit(f"binlake {args[0]} failed: {done.stderr.strip()}")
        return done

    def run(self, mode: str, index: int) -> dict[str, Any]:
        run_dir = self.work / f"run-{index:02d}-{mode}"
        state, lake = run_dir / "state", run_dir / "lake"
        lake.mkdir(parents=True)
        s3 = {"CdcMaxBatchInterval": 1, "CdcMinFileSize": 32000}
        create_binlake_task(self.server, state, lake, SCHEMA, "orders", "cdc", s3)
        interval = {"off": "0", "on": str(self.args.interval), "stress": str(self.args.stress_interval)}[mode]
        env = {**os.environ, "BINLAKE_METRICS_INTERVAL": interval}
        start = [sys.executable, "-m", "binlake", "--state-dir", str(state), "start-replication-task",
                 "--replication-task-arn", TASK, "--cdc-start-position", f"{self.before[0]}:{self.before[1]}",
                 "--quiet"]  # fmt: skip
        with open(run_dir / "output.log", "wb") as out:
            process = subprocess.Popen(start, stdout=out, stderr=subprocess.STDOUT, env=env)
        db_path = state / "state.db"
        durable_at, stopping = None, False
        deadline = time.monotonic() + self.args.timeout
        usage = None
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            with sqlite3.connect(db_path) as db:
                read, checkpoint = db.execute(
                    "SELECT cdc_read_position, cdc_checkpoint FROM tasks WHERE identifier = ?", (TASK,)
                ).fetchone()
            if durable_at is None and (position(checkpoint) or ("", 0)) >= self.after:
                durable_at = time.time()
            if not stopping and (position(read) or ("", 0)) >= self.after:
                # Everything is read: stopping flushes the last batch now rather than a batch interval later.
                subprocess.Popen([sys.executable, "-m", "binlake", "--state-dir", str(state), "stop-replication-task",
                                  "--replication-task-arn", TASK, "--no-wait"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
                stopping = True
            time.sleep(0.01)
        if not pid:
            process.kill()
            raise SystemExit(f"run {index} ({mode}) timed out; see {run_dir}/output.log")
        process.returncode = os.waitstatus_to_exitcode(status)
        cpu_seconds = usage.ru_utime + usage.ru_stime
        with sqlite3.connect(db_path) as db:
            checkpoint, applied = db.execute(
                "SELECT cdc_checkpoint, cdc_changes_total FROM tasks WHERE identifier = ?", (TASK,)
            ).fetchone()
            started = db.execute(
                "SELECT event_time FROM events WHERE task = ? AND message LIKE 'CDC started%'", (TASK,)
            ).fetchone()[0]
            samples = db.execute("SELECT COUNT(DISTINCT time) FROM metrics WHERE task = ?", (TASK,)).fetchone()[0]
            events = db.execute("SELECT COUNT(*) FROM events WHERE task = ?", (TASK,)).fetchone()[0]
        if durable_at is None and (position(checkpoint) or ("", 0)) >= self.after:
            durable_at = time.time()  # reached in the final flush, between two polls
        seconds = durable_at - datetime.fromisoformat(started).timestamp()
        return {
            "mode": mode,
            "interval": float(interval),
            "seconds": round(seconds, 3),
            "changes_per_second": round(self.changes / seconds),
            "cpu_seconds": round(cpu_seconds, 3),
            "changes_per_cpu_second": round(self.changes / cpu_seconds),
            "metric_samples": samples,
            "events": events,
            "changes_applied": applied,
        }


def sample_cost(work: Path, tables: int = 20, repeat: int = 500) -> dict[str, float]:
    """Milliseconds one sample takes (reading the task and its table statistics, psutil, writing ten rows), in a
    state store holding one task with ``tables`` tables."""
    from binlake.monitor.sampler import MetricsSampler
    from binlake.state.store import StateStore

    store = StateStore(work / "sample-cost")
    store.execute(
        "INSERT INTO tasks (identifier, source_endpoint, target_endpoint, migration_type, table_mappings, settings, "
        "status, created_at, cdc_checkpoint, cdc_read_position) VALUES ('t', 's', 'l', 'cdc', '{}', '{}', "
        "'running', '2026-01-01T00:00:00+00:00', 'bin.1:4', 'bin.1:4')"
    )
    for i in range(tables):
        store.execute(
            "INSERT INTO table_statistics (task, schema_name, table_name, target_schema, target_table, table_state) "
            "VALUES ('t', 's', ?, 's', ?, 'Table completed')",
            (f"t{i}", f"t{i}"),
        )
    sampler = MetricsSampler(store, "t", interval=3600)
    sampler.start()
    started = time.perf_counter()
    for _ in range(repeat):
        sampler.sample()
    milliseconds = 1000 * (time.perf_counter() - started) / repeat
    sampler.stop()
    store.close()
    return {"tables": tables, "milliseconds_per_sample": round(milliseconds, 3)}


def markdown(results: list[dict[str, Any]], summary: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"{args.changes:,} row changes, {args.rounds} rounds, median per mode:",
        "",
        "| mode | sampler | changes/s (median) | overhead | changes per CPU second (median) | overhead (CPU) | "
        "samples per run |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, row in summary.items():
        samples = ", ".join(str(r["metric_samples"]) for r in results if r["mode"] == mode)
        interval = "off" if mode == "off" else f"every {row['interval']:g} s"
        wall = "" if mode == "off" else f"{row['overhead_percent']:+.1f} %"
        cpu = "" if mode == "off" else f"{row['cpu_overhead_percent']:+.1f} %"
        per_cpu = f"{row['median_per_cpu_second']:,}"
        lines.append(f"| {mode} | {interval} | {row['median']:,} | {wall} | {per_cpu} | {cpu} | {samples} |")
    lines += ["", "Runs (changes/s):", ""]
    lines += [f"- {mode}: " + ", ".join(f"{r['changes_per_second']:,}" for r in results if r["mode"] == mode)
              for mode in summary]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/binlake-monitor-bench"))
    parser.add_argument("--changes", type=int, default=400_000)
    parser.add_argument("--txn-rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--stress-interval", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    args = parser.parse_args(argv)
    bench = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below (sandbox, task) on kill
    bench.start()
    try:
        bench.write_workload()
        modes = ["off", "on", "stress"]
        results = []
        for round_index in range(args.rounds):
            order = modes[round_index % 3 :] + modes[: round_index % 3]
            for mode in order:
                result = bench.run(mode, len(results))
                print(json.dumps(result), flush=True)
                results.append(result)
    finally:
        bench.sandbox.destroy()
    summary: dict[str, dict[str, Any]] = {}
    for mode in modes:
        rates = [r["changes_per_second"] for r in results if r["mode"] == mode]
        interval = next(r["interval"] for r in results if r["mode"] == mode)
        summary[mode] = {"median": round(statistics.median(rates)), "interval": interval}
    for mode in modes:
        per_cpu = [r["changes_per_cpu_second"] for r in results if r["mode"] == mode]
        summary[mode]["median_per_cpu_second"] = round(statistics.median(per_cpu))
    off = summary["off"]
    for row in summary.values():
        row["overhead_percent"] = round(100 * (off["median"] - row["median"]) / off["median"], 2)
        row["cpu_overhead_percent"] = round(
            100 * (off["median_per_cpu_second"] - row["median_per_cpu_second"]) / off["median_per_cpu_second"], 2
        )
    cost = sample_cost(bench.work)
    report = {
        "benchmark": "monitor_overhead",
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "changes": bench.changes,
        "runs": results,
        "summary": summary,
        "sample_cost": cost,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (f"monitor_overhead-{stamp}.json", "monitor_overhead-latest.json"):
        (args.out / name).write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(results, summary, args))
    print(f"\nOne sample ({cost['tables']} tables): {cost['milliseconds_per_sample']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
