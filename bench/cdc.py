"""CDC over time: binlake's commit-to-file latency at a steady rate (part b) and its memory over a long run (part c).

The throughput comparison that was part (a) of this script is bench/run.py's ``bulk`` workload, run against
MariaDB's C decoder and python-mysql-replication in the same run.

The script starts its own sandbox MariaDB (bench/harness.py, under ``--work-dir``; never the system server) and
runs, each selectable with ``--parts``:

(b) Latency. A detached CDC task with CdcMaxBatchInterval ``--interval``; a writer process issues ``--rate`` row
    changes per second (one transaction per ``--tick`` seconds: 50 % inserts, 30 % updates, 20 % deletes) on a
    table shaped like the guide's ``orders`` (bench/workload.py); every inserted or updated row carries the
    client's wall time, taken just before the transaction, in ``written_at``. A watcher lists the table's CDC
    folder every 20 ms; a row's latency is the time its file was first listed minus its ``written_at``. Run for
    ``--latency-seconds``.

(c) Memory. The same workload for ``--soak-seconds``; the task process's RSS and CPU are sampled every
    ``--rss-interval`` seconds (psutil on the task's pid).

Before each part the script waits (at most ``--quiet-timeout`` s) for the machine to use fewer than
``--quiet-cores`` cores, and records the CPU other processes used meanwhile. Results go to ``--out`` as JSON and
are printed as markdown tables.

Usage: ``.venv/bin/python bench/cdc.py [--latency-seconds 60] [--soak-seconds 600]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules: harness, workload, contenders
from contenders import TASK, binlake_cli, create_binlake_task, start_command
from harness import MIB, CpuMeter, SandboxServer, environment, wait_quiet
from workload import COLUMNS, DELETE_RANGE_SQL, SCHEMA, create_table, master_position, parse_position

BENCH_DIR = Path(__file__).resolve().parent
PREFILL_ROWS = 20_000  # rows in a latency/soak table before its task starts, for the writer's updates and deletes
POLL_SECONDS = 0.02
PACKAGES = ("binlake", "pyarrow", "mysql-replication", "mysqlclient", "psutil")
# The writer: client-side values, written_at = the client's wall time.
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


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work_dir.absolute()
        self.server = SandboxServer(self.work)
        self.steady: dict[str, dict[str, Any]] = {}

    def steady_run(self, name: str, seconds: float, sample_interval: float) -> dict[str, Any]:
        info = self.server.info
        assert info is not None
        table = f"steady_{name}"
        print(
            f"({name}) {self.args.rate:,} changes/s for {seconds:g} s, CdcMaxBatchInterval {self.args.interval}",
            file=sys.stderr,
        )
        create_table(self.server, table, prefill=PREFILL_ROWS)
        run_dir = self.work / "runs" / f"steady-{name}"
        state, lake = run_dir / "state", run_dir / "lake"
        lake.mkdir(parents=True)
        s3 = {"CdcMaxBatchInterval": self.args.interval, "CdcMinFileSize": self.args.min_file_kb}
        create_binlake_task(self.server, state, lake, SCHEMA, table, "cdc", s3)
        waited = wait_quiet(self.server.pid, self.args.quiet_cores, self.args.quiet_timeout)
        start = subprocess.run(start_command(state, "--detach"), capture_output=True, text=True)
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
        meter = CpuMeter(self.server.pid)
        meter.start()
        watcher.start()
        sampler.start()
        writer_result = run_dir / "writer.json"
        writer_cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "writer",
            "--socket",
            info.socket,
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
        end = master_position(self.server)
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
            [*binlake_cli(state), "stop-replication-task", "--replication-task-arn", TASK],
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


def markdown(bench: Bench) -> str:
    lines: list[str] = []
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


# -- the writer (a child process) --------------------------------------------------------------------------------------
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
    parser = argparse.ArgumentParser(prog="cdc.py writer")
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--rate", type=int, required=True)
    parser.add_argument("--tick", type=float, required=True)
    parser.add_argument("--prefill", type=int, required=True)
    args = parser.parse_args(argv[1:])
    args.result.write_text(json.dumps(child_writer(args), indent=2) + "\n")
    return 0


# -- main --------------------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--latency-seconds", type=float, default=60, help="length of part (b)")
    parser.add_argument("--soak-seconds", type=float, default=600, help="length of part (c)")
    parser.add_argument("--parts", default="b,c", help="comma-separated, of b, c")
    parser.add_argument("--rate", type=int, default=5000, help="row changes per second of parts (b) and (c)")
    parser.add_argument("--tick", type=float, default=0.01, help="seconds between the writer's transactions")
    parser.add_argument("--interval", type=float, default=0.5, help="CdcMaxBatchInterval of parts (b) and (c)")
    parser.add_argument("--min-file-kb", type=int, default=32_000, help="CdcMinFileSize of parts (b) and (c)")
    parser.add_argument("--rss-interval", type=float, default=5, help="seconds between RSS samples in part (c)")
    parser.add_argument(
        "--quiet-cores", type=float, default=0.5, help="before each part, wait until the machine uses fewer cores"
    )
    parser.add_argument("--quiet-timeout", type=float, default=120, help="... but at most this many seconds")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / "data" / "cdc")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--keep-output", action="store_true", help="keep each run's Parquet files")
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if set(args.parts) - {"b", "c"}:
        parser.error(f"unknown parts {sorted(set(args.parts) - {'b', 'c'})} (part (a) is bench/run.py's bulk workload)")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "writer":
        return child_main(argv)
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # so the sandbox is destroyed
    bench = Bench(args)
    started = time.monotonic()
    env: dict[str, Any] = {}
    try:
        bench.server.start()
        env = environment(bench.server, PACKAGES)
        if "b" in args.parts:
            bench.steady["b"] = bench.steady_run("b", args.latency_seconds, 1.0)
        if "c" in args.parts:
            bench.steady["c"] = bench.steady_run("c", args.soak_seconds, args.rss_interval)
    finally:
        bench.server.destroy()
    table = markdown(bench)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "command": [Path(sys.argv[0]).name, *argv],
        "environment": env,
        "load_average_at_end": os.getloadavg(),
        "total_seconds": round(time.monotonic() - started, 1),
        "steady": bench.steady,
        "markdown": table,
    }
    for path in (args.out / f"cdc-{stamp}.json", args.out / "cdc-latest.json"):
        path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nresults: {args.out / f'cdc-{stamp}.json'}", file=sys.stderr)
    return 0 if all(s.get("complete") for s in bench.steady.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
