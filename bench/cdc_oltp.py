"""CDC on small OLTP transactions (issue 14): binlake's compiled and pure-Python decoders against MariaDB's C decoder.

One private sandbox MariaDB (``binlake.sandbox`` under ``--work-dir``; never the system server). The workload:
``--transactions`` transactions of 100 row changes on a 12-column ``orders`` table (30 % inserts, 50 % updates, 20 %
deletes, 4 rows per statement, so per rows event), after a prefill outside the range. Then ``--rounds`` rounds,
interleaved, of:

* ``mariadb-binlog``: ``mariadb-binlog --read-from-remote-server --verbose --base64-output=DECODE-ROWS`` over the
  range, output to /dev/null (the C decoder: the limit);
* ``binlake``: a CDC task from the range's start with DMS's default file settings (CdcMaxBatchInterval 60,
  CdcMinFileSize 32000 KB), timed from spawn until its checkpoint reaches the range's end (then it is stopped),
  compiled decoder;
* ``binlake-pure``: the same with ``BINLAKE_PURE_PYTHON=1``;
* ``binlake-baseline`` (with ``--baseline-src DIR``): the compiled task run from another checkout's ``src`` (say
  ``git archive <commit> src``, its extensions built), to measure a change against the code before it in one run;
  ``binlake-baseline-pure`` the same with ``BINLAKE_PURE_PYTHON=1``.

Each run: wall seconds, CPU seconds, peak RSS of the process tree (sampled every 50 ms), the machine's load
average. Ratios are against ``mariadb-binlog`` in the same round; the changes in the lake are counted.

``--latency-seconds N`` adds the commit-to-file latency: a compiled task with CdcMaxBatchInterval 0.5 follows a
writer of ``--latency-rate`` changes/s (same transactions) for N s; each transaction's latency is from its COMMIT
returning to the first poll (every 20 ms) that finds a file holding its rows; p50/p99/max are printed.

``--profile`` runs one binlake task under cProfile (``--profile-mode compiled|pure``) and prints the top functions.

Usage: ``.venv/bin/python bench/cdc_oltp.py [--transactions 10000] [--rounds 3] [--latency-seconds 30]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from binlake.sandbox import Sandbox, SandboxInfo, free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/harness.py, a sibling module
from harness import TreeSampler

TABLE = """CREATE TABLE bench.orders (
    id BIGINT NOT NULL PRIMARY KEY, txn INT NOT NULL, customer_id CHAR(36) NOT NULL, quantity INT NOT NULL,
    unit_price DECIMAL(10,2) NOT NULL, total_amount DECIMAL(12,2) NOT NULL,
    status ENUM('pending','processing','shipped','delivered','cancelled') NOT NULL, written_at DATETIME(6) NOT NULL,
    shipping_address TEXT NULL, payment_method VARCHAR(32) NULL, notes TEXT NULL,
    updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))"""
ROWS_PER_STATEMENT = 4
MIB = 1024 * 1024


class Writer:
    """Transactions of 100 changes: 30 % inserts, 50 % updates, 20 % deletes, 4 rows per statement."""

    def __init__(self, info: SandboxInfo, seed: int = 7) -> None:
        import MySQLdb
        from MySQLdb.constants import CLIENT

        # A transaction's statements go in one round trip: a writer of one statement per round trip could not
        # keep 5,000 changes/s on a loaded machine.
        self.conn = MySQLdb.connect(
            unix_socket=info.socket, user="root", autocommit=False, client_flag=CLIENT.MULTI_STATEMENTS
        )
        self.rng = random.Random(seed)
        self.live: list[int] = []
        self.next_id = 1
        self.txn = 0

    def _values(self, key: int) -> str:
        r = self.rng
        return (
            f"({key}, {self.txn}, '{r.randrange(16**12):036x}', {r.randint(1, 9)}, {r.randint(100, 99999) / 100}, "
            f"{r.randint(100, 999999) / 100}, '{r.choice(['pending', 'processing', 'shipped'])}', "
            f"'2026-01-{r.randint(1, 28):02d} 12:{r.randint(0, 59):02d}:00.{r.randint(0, 999999):06d}', "
            f"'{r.randint(1, 999)} Main Street, Springfield', 'card', {'NULL' if r.random() < 0.5 else repr('note')})"
        )

    def insert(self, count: int) -> None:
        self._run(self._inserts(count))

    def _run(self, statements: list[str]) -> None:
        cur = self.conn.cursor()
        cur.execute(";\n".join(statements))
        while cur.nextset():
            pass

    def _inserts(self, count: int) -> list[str]:
        statements = []
        for start in range(0, count, ROWS_PER_STATEMENT):
            keys = list(range(self.next_id, self.next_id + min(ROWS_PER_STATEMENT, count - start)))
            self.next_id += len(keys)
            statements.append(
                f"INSERT INTO bench.orders (id, txn, customer_id, quantity, unit_price, total_amount, status, "
                f"written_at, shipping_address, payment_method, notes) VALUES {', '.join(map(self._values, keys))}"
            )
            self.live += keys
        return statements

    def transaction(self) -> None:
        self.txn += 1
        statements = self._inserts(30)
        for _ in range(50 // ROWS_PER_STATEMENT + 1):  # 13 statements × 4 rows: 52, close to 50
            keys = self.rng.sample(self.live, ROWS_PER_STATEMENT)
            statements.append(
                f"UPDATE bench.orders SET txn = {self.txn}, quantity = quantity + 1, status = 'shipped' "
                f"WHERE id IN ({', '.join(map(str, keys))})"
            )
        for _ in range(20 // ROWS_PER_STATEMENT):
            keys = [self.live.pop(self.rng.randrange(len(self.live))) for _ in range(ROWS_PER_STATEMENT)]
            statements.append(f"DELETE FROM bench.orders WHERE id IN ({', '.join(map(str, keys))})")
        self._run(statements)
        self.conn.commit()

    CHANGES_PER_TRANSACTION = 30 + (50 // ROWS_PER_STATEMENT + 1) * ROWS_PER_STATEMENT + 20


def master_position(info: SandboxInfo) -> tuple[str, int]:
    import MySQLdb

    conn = MySQLdb.connect(unix_socket=info.socket, user="root")
    try:
        cur = conn.cursor()
        cur.execute("SHOW MASTER STATUS")
        name, pos = cur.fetchone()[:2]
        return str(name), int(pos)
    finally:
        conn.close()


def binlake(state: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "binlake", "--state-dir", str(state), *args]


def setup_task(info: SandboxInfo, state: Path, lake: Path, s3: dict[str, Any]) -> None:
    rules = {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "1",
                "rule-action": "include",
                "object-locator": {"schema-name": "bench", "table-name": "orders"},
            }
        ]
    }
    steps = [
        [
            "create-endpoint",
            "--endpoint-identifier",
            "src",
            "--endpoint-type",
            "source",
            "--engine-name",
            "mariadb",
            "--server-name",
            info.host,
            "--port",
            str(info.port),
            "--username",
            info.user,
            "--password-file",
            info.password_file,
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
            json.dumps({"BucketName": str(lake), "BucketFolder": "hub", **s3}),
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
            "cdc",
            "--table-mappings",
            json.dumps(rules),
        ],
    ]
    for step in steps:
        subprocess.run(binlake(state, *step), check=True, capture_output=True)


def task_positions(state: Path) -> tuple[tuple[str, int] | None, tuple[str, int] | None]:
    """(read position, checkpoint) of the task, from its state store."""
    try:
        db = sqlite3.connect(f"file:{state / 'state.db'}?mode=ro", uri=True, timeout=1)
        try:
            row = db.execute("SELECT cdc_read_position, cdc_checkpoint FROM tasks").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None, None
    positions = []
    for text in row or (None, None):
        name, _, pos = str(text or "").rpartition(":")
        positions.append((name, int(pos)) if name else None)
    return positions[0], positions[1]


def checkpoint(state: Path) -> tuple[str, int] | None:
    return task_positions(state)[1]


def request_stop(state: Path) -> None:
    """What ``stop-replication-task --no-wait`` writes, without its interpreter start-up (seconds on a loaded
    machine, which would count against binlake's time)."""
    db = sqlite3.connect(state / "state.db", timeout=30)
    try:
        with db:
            db.execute("UPDATE tasks SET desired_state = 'stopped'")
    finally:
        db.close()


def count_changes(lake: Path) -> int:
    return sum(pq.ParquetFile(path).metadata.num_rows for path in (lake / "hub").rglob("2*.parquet"))


def run_binlake(
    work: Path,
    info: SandboxInfo,
    start: tuple[str, int],
    end: tuple[str, int],
    pure: bool,
    profile: Path | None = None,
    source: Path | None = None,
) -> dict[str, Any]:
    run = work / f"run-{time.time_ns()}"
    state, lake = run / "state", run / "lake"
    lake.mkdir(parents=True)
    setup_task(info, state, lake, {"CdcMaxBatchInterval": 60, "CdcMinFileSize": 32000})
    env = {**os.environ, "BINLAKE_PURE_PYTHON": "1" if pure else ""}
    if source is not None:  # another checkout's code, ahead of the installed one
        env["PYTHONPATH"] = str(source)
    cmd = binlake(
        state,
        "start-replication-task",
        "--replication-task-arn",
        "t",
        "--start-replication-task-type",
        "start-replication",
        "--cdc-start-position",
        f"{start[0]}:{start[1]}",
        "--quiet",
    )
    if profile is not None:  # py-spy samples every thread (the task runs its CDC loop in a worker thread)
        py_spy = str(Path(sys.executable).parent / "py-spy")
        cmd = [py_spy, "record", "--rate", "200", "--format", "raw", "--nolineno", "-o", str(profile), "--", *cmd]
    started = time.monotonic()
    log = open(run / "output.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    rss = TreeSampler(proc.pid)
    rss.start()
    seconds, stopping = None, False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        read, durable = task_positions(state)
        if durable is not None and durable >= end:
            seconds = time.monotonic() - started
        if not stopping and ((read is not None and read >= end) or seconds is not None):
            # Everything is read: a stop writes the last batch now rather than CdcMaxBatchInterval later.
            stopping = True
            request_stop(state)
        time.sleep(0.02)
    peak = rss.stop()
    log.close()
    if os.waitstatus_to_exitcode(status) != 0 or seconds is None:
        print((run / "output.log").read_text()[-2000:], file=sys.stderr)
    changes = count_changes(lake)
    shutil.rmtree(run, ignore_errors=True)
    return {"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "peak_rss": peak, "changes": changes}


def run_mariadb_binlog(info: SandboxInfo, start: tuple[str, int], end: tuple[str, int]) -> dict[str, Any]:
    password = Path(info.password_file).read_text().strip()
    cmd = [
        "mariadb-binlog",
        "--read-from-remote-server",
        f"--host={info.host}",
        f"--port={info.port}",
        f"--user={info.user}",
        f"--password={password}",
        "--verbose",
        "--base64-output=DECODE-ROWS",
        f"--start-position={start[1]}",
        f"--stop-position={end[1]}",
        start[0],
    ]
    assert start[0] == end[0], "the range must lie in one binlog file"
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rss = TreeSampler(proc.pid)
    rss.start()
    _, status, usage = os.wait4(proc.pid, 0)
    return {
        "seconds": time.monotonic() - started,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_rss": rss.stop(),
        "returncode": os.waitstatus_to_exitcode(status),
    }


def latency(work: Path, info: SandboxInfo, seconds: float, rate: float) -> dict[str, Any]:
    """p50/p99/max seconds from a transaction's COMMIT to the first poll that finds a file with its rows."""
    run = work / "latency"
    state, lake = run / "state", run / "lake"
    lake.mkdir(parents=True)
    setup_task(info, state, lake, {"CdcMaxBatchInterval": 0.5, "CdcMinFileSize": 32000})
    start = master_position(info)
    proc = subprocess.Popen(
        binlake(
            state,
            "start-replication-task",
            "--replication-task-arn",
            "t",
            "--start-replication-task-type",
            "start-replication",
            "--cdc-start-position",
            f"{start[0]}:{start[1]}",
            "--quiet",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while checkpoint(state) is None:
        time.sleep(0.05)
    writer = Writer(info, seed=11)
    cur = writer.conn.cursor()
    cur.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM bench.orders")
    writer.next_id = int(cur.fetchone()[0])
    writer.insert(4000)
    writer.conn.commit()
    committed: dict[int, float] = {}
    seen: dict[int, float] = {}
    files: set[Path] = set()
    done = threading.Event()

    def poll() -> None:
        while not done.is_set() or len(seen) < len(committed):
            now = time.monotonic()
            for path in (lake / "hub").rglob("2*.parquet"):
                if path not in files:
                    files.add(path)
                    for txn in set(pq.read_table(path, columns=["txn"]).column("txn").to_pylist()):
                        seen.setdefault(txn, now)
            if done.is_set() and time.monotonic() - stop_at > 10:
                return
            time.sleep(0.02)

    stop_at = float("inf")
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    per_txn = 1 / (rate / Writer.CHANGES_PER_TRANSACTION)
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        due = began + (writer.txn + 1) * per_txn
        time.sleep(max(0.0, due - time.monotonic()))
        writer.transaction()
        committed[writer.txn] = time.monotonic()
    achieved = writer.txn * Writer.CHANGES_PER_TRANSACTION / (time.monotonic() - began)
    stop_at = time.monotonic()
    done.set()
    poller.join()
    subprocess.run(binlake(state, "stop-replication-task", "--replication-task-arn", "t"), capture_output=True)
    proc.wait()
    waits = sorted(seen.get(txn, float("inf")) - at for txn, at in committed.items())
    shutil.rmtree(run, ignore_errors=True)
    return {
        "transactions": len(waits),
        "changes_per_second": round(achieved),
        "p50": statistics.median(waits),
        "p99": waits[int(len(waits) * 0.99) - 1],
        "max": waits[-1],
        "missing": sum(w == float("inf") for w in waits),
    }


def print_profile(path: Path, top: int = 35) -> None:
    """py-spy's collapsed stacks → the functions by own time and by inclusive time, as % of the samples."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any("wait" in f or "acquire" in f or "select" in f for f in frames[-2:]) and "cdc" not in frames[-1]:
            pass
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    for title, table in (("own time", own), ("inclusive time", inclusive)):
        print(f"\n{title} (% of {total} samples)")
        for frame, count in sorted(table.items(), key=lambda kv: -kv[1])[:top]:
            print(f"{100 * count / total:5.1f} %  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("bench/data/cdc_oltp"))
    parser.add_argument("--transactions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--contenders", default="mariadb-binlog,binlake,binlake-pure")
    parser.add_argument("--latency-seconds", type=float, default=0)
    parser.add_argument("--latency-rate", type=float, default=5000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-mode", choices=["compiled", "pure"], default="compiled")
    parser.add_argument("--baseline-src", type=Path, help="a checkout's src/ for the binlake-baseline contender")
    args = parser.parse_args()
    work = args.work_dir.absolute()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sandbox = Sandbox(work / "sandbox", port=free_port(), extra_settings={"max_binlog_size": "1073741824"})
    info = sandbox.start()
    try:
        writer = Writer(info)
        writer.conn.cursor().execute("CREATE DATABASE bench")
        writer.conn.cursor().execute(TABLE)
        writer.insert(20_000)
        writer.conn.commit()
        writer.conn.cursor().execute("FLUSH BINARY LOGS")
        start = master_position(info)
        clock = time.monotonic()
        for _ in range(args.transactions):
            writer.transaction()
        end = master_position(info)
        changes = args.transactions * Writer.CHANGES_PER_TRANSACTION
        print(
            f"workload: {changes:,} changes in {args.transactions:,} transactions, {(end[1] - start[1]) / MIB:.0f} "
            f"MiB of binlog, written in {time.monotonic() - clock:.0f} s",
            file=sys.stderr,
        )
        if args.profile:
            out = work / "profile.out"
            result = run_binlake(work, info, start, end, args.profile_mode == "pure", out)
            print(f"profiled run: {result}", file=sys.stderr)
            print_profile(out)
            return
        results: dict[str, list[dict[str, Any]]] = {}
        for round_number in range(args.rounds):
            for contender in args.contenders.split(","):
                load = os.getloadavg()[0]
                if contender == "mariadb-binlog":
                    result = run_mariadb_binlog(info, start, end)
                elif contender.startswith("binlake-baseline"):
                    pure = contender == "binlake-baseline-pure"
                    result = run_binlake(work, info, start, end, pure=pure, source=args.baseline_src.absolute())
                else:
                    result = run_binlake(work, info, start, end, pure=contender == "binlake-pure")
                    if result["changes"] < changes:  # U of a kept key is one row; D+I never happen here
                        result["incomplete"] = True
                result["load"] = load
                results.setdefault(contender, []).append(result)
                print(f"round {round_number + 1} {contender}: {json.dumps(result)}", file=sys.stderr)
        limit = statistics.median(r["seconds"] for r in results.get("mariadb-binlog", [{"seconds": float("nan")}]))
        print("| contender | changes/s (median) | × C decoder | CPU s | peak RSS MiB | load |")
        print("|---|---|---|---|---|---|")
        for contender, runs in results.items():
            seconds = statistics.median(r["seconds"] or float("nan") for r in runs)
            print(
                f"| {contender} | {changes / seconds:,.0f} | {limit / seconds:.2f} | "
                f"{statistics.median(r['cpu'] for r in runs):.1f} | "
                f"{max(r['peak_rss'] for r in runs) / MIB:.0f} | {statistics.median(r['load'] for r in runs):.1f} |"
            )
        if args.latency_seconds:
            print(f"commit-to-file: {json.dumps(latency(work, info, args.latency_seconds, args.latency_rate))}")
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
