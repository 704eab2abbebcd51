"""The cost of durable publish on CDC: throughput and latency with and without the fsyncs, in the same run.

"before" is the source tree at ``--before`` (default: the commit before durable publish, no fsync and
``synchronous=NORMAL``); "after" is this working tree (files and directories fsynced once per flush before
the checkpoint, ``synchronous=FULL``). Each variant runs as ``python -m binlake`` with its own tree on
PYTHONPATH, against one private MariaDB (``binlake.sandbox``), to a local bucket in ``--work-dir``; runs
alternate before/after, ``--repeat`` times, and the median is reported.

(a) Throughput: ``--changes`` row changes (60 % inserts, 30 % updates, 10 % deletes, transactions of
    ``--txn-rows`` rows) are written first; a cdc task then reads exactly that range with
    CdcMaxBatchInterval ``--interval`` and CdcMinFileSize ``--min-file-kb`` (small, so that there are many
    flushes and the fsyncs show). Clock: from spawning the task until its checkpoint reaches the end.
(b) Latency: a running task (CdcMaxBatchInterval ``--interval``) while a writer inserts ``--rate`` rows/s,
    each carrying the writer's wall clock; a watcher lists the CDC folder every 10 ms and reads each new
    file. A row's latency is the time its file was first listed minus its wall clock.

Usage: ``.venv/bin/python bench/durability.py [--changes 200000] [--repeat 3] [--latency-seconds 20]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from binlake.sandbox import Sandbox, free_port

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BEFORE = "0eafa12"  # the commit before "Durable publish"


def source_tree(revision: str, work: Path) -> Path:
    target = work / f"src-{revision}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


def position(text: str | None) -> tuple[int, int]:
    if not text:
        return (-1, -1)
    name, _, pos = text.rpartition(":")
    return int(name.rpartition(".")[2]), int(pos)


class Variant:
    def __init__(self, name: str, src: Path, sandbox: Sandbox, work: Path) -> None:
        self.name, self.src, self.sandbox, self.work = name, src, sandbox, work

    def cli(self, state: Path, *args: str, wait: bool = True) -> subprocess.Popen[bytes] | None:
        command = [sys.executable, "-m", "binlake", "--state-dir", str(state), *args]
        env = {**os.environ, "PYTHONPATH": str(self.src)}
        if not wait:
            return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args[:1])} failed: {done.stderr}")
        return None

    def prepare(self, db: str, interval: float, min_file_kb: int, start: str | None) -> tuple[Path, Path]:
        run = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.work))
        state, bucket = run / "state", run / "bucket"
        bucket.mkdir()
        info = self.sandbox.info()
        settings = {"BucketName": str(bucket), "BucketFolder": "hub", "CdcMaxBatchInterval": interval,
                    "CdcMinFileSize": min_file_kb}  # fmt: skip
        self.cli(state, "create-endpoint", "--endpoint-identifier", "src", "--endpoint-type", "source",
                 "--engine-name", "mariadb", "--server-name", info.host, "--port", str(info.port),
                 "--username", info.admin_user, "--password-file", info.admin_password_file)  # fmt: skip
        self.cli(state, "create-endpoint", "--endpoint-identifier", "lake", "--endpoint-type", "target",
                 "--engine-name", "s3", "--s3-settings", json.dumps(settings))  # fmt: skip
        rules = {"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1", "rule-action": "include",
                            "object-locator": {"schema-name": db, "table-name": "%"}}]}  # fmt: skip
        self.cli(state, "create-replication-task", "--replication-task-identifier", "bench", "--source-endpoint-arn",
                 "src", "--target-endpoint-arn", "lake", "--migration-type", "cdc",
                 "--table-mappings", json.dumps(rules))  # fmt: skip
        return state, bucket

    def start(self, state: Path, start: str | None) -> subprocess.Popen[bytes]:
        extra = ["--cdc-start-position", start] if start else []
        process = self.cli(state, "start-replication-task", "--replication-task-arn", "bench",
                           "--start-replication-task-type", "start-replication", "--quiet", *extra,
                           wait=False)  # fmt: skip
        assert process is not None
        return process

    def stop(self, state: Path, process: subprocess.Popen[bytes]) -> None:
        self.cli(state, "stop-replication-task", "--replication-task-arn", "bench")
        process.wait(60)


def task_field(state: Path, field: str) -> Any:
    with sqlite3.connect(state / "state.db", timeout=30) as db:
        row = db.execute(f"SELECT {field} FROM tasks WHERE identifier = 'bench'").fetchone()
    return row[0] if row else None


def master_position(conn) -> str:
    cur = conn.cursor()
    cur.execute("SHOW MASTER STATUS")
    name, pos = cur.fetchone()[:2]
    return f"{name}:{pos}"


def write_changes(conn, db: str, changes: int, txn_rows: int) -> None:
    cur = conn.cursor()
    next_id, done = 1, 0
    while done < changes:
        cur.execute("BEGIN")
        cur.execute(
            f"INSERT INTO `{db}`.t (id, v, pad, written_at) SELECT {next_id} + seq, seq, REPEAT('x', 100), 0 "
            f"FROM `{db}`.seq_0_to_{int(txn_rows * 0.6) - 1}"
        )
        next_id += int(txn_rows * 0.6)
        cur.execute(f"UPDATE `{db}`.t SET v = v + 1 WHERE id > {next_id - txn_rows} LIMIT {int(txn_rows * 0.3)}")
        cur.execute(f"DELETE FROM `{db}`.t WHERE id > {next_id - txn_rows} LIMIT {int(txn_rows * 0.1)}")
        cur.execute("COMMIT")
        done += txn_rows


def throughput(variant: Variant, db: str, start: str, end: str, args: argparse.Namespace) -> dict[str, Any]:
    state, bucket = variant.prepare(db, args.interval, args.min_file_kb, start)
    began = time.monotonic()
    process = variant.start(state, start)
    while position(task_field(state, "cdc_checkpoint")) < position(end):
        time.sleep(0.02)
    elapsed = time.monotonic() - began
    variant.stop(state, process)
    files = sum(1 for p in bucket.rglob("*.parquet"))
    shutil.rmtree(state.parent)
    return {"seconds": elapsed, "changes_per_s": args.changes / elapsed, "files": files}


def latency(variant: Variant, sandbox: Sandbox, db: str, args: argparse.Namespace) -> dict[str, Any]:
    state, bucket = variant.prepare(db, args.interval, args.min_file_kb, None)
    process = variant.start(state, None)
    while not task_field(state, "cdc_read_position"):
        time.sleep(0.05)
    halt = threading.Event()
    latencies: list[float] = []

    def writer() -> None:
        conn = sandbox.root_connection()
        cur = conn.cursor()
        next_id, tick = args.next_id, 0.01
        per_tick = max(1, int(args.rate * tick))
        while not halt.is_set():
            now = time.time()
            values = ", ".join(f"({next_id + i}, 0, 'x', {now:.6f})" for i in range(per_tick))
            cur.execute(f"INSERT INTO `{db}`.t (id, v, pad, written_at) VALUES {values}")
            next_id += per_tick
            time.sleep(max(0.0, tick - (time.time() - now)))
        args.next_id = next_id  # the next run's writer goes on from here
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    seen: set[Path] = set()
    deadline = time.monotonic() + args.latency_seconds
    while time.monotonic() < deadline:
        for path in bucket.rglob("*.parquet"):
            if path not in seen:
                listed = time.time()
                seen.add(path)
                latencies += [listed - w for w in pq.read_table(path, columns=["written_at"]).column(0).to_pylist()]
        time.sleep(0.01)
    halt.set()
    thread.join()
    variant.stop(state, process)
    shutil.rmtree(state.parent)
    latencies.sort()
    return {
        "rows": len(latencies),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "files": len(seen),
    }


def barrier_cost(work: Path, flushes: int = 100, tables: int = 2, kb: int = 200) -> dict[str, float]:
    """(c) The barrier alone: ``tables`` files of ``kb`` KB published per flush, then ``Bucket.sync``."""
    import pyarrow as pa

    from binlake.config.endpoint import S3Settings
    from binlake.target.store import Bucket
    from binlake.target.writer import write_file

    root = work / "barrier"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    settings = S3Settings(BucketName=str(root))
    bucket = Bucket.open(settings)
    batch = pa.record_batch({"pad": pa.array([os.urandom(kb * 1024 // 100).hex()[:100] for _ in range(1024)])})
    publish_ms, sync_ms = [], []
    for flush in range(flushes):
        began = time.perf_counter()
        for table in range(tables):
            write_file(bucket, f"hub/db/t{table}/{flush:08d}.parquet", settings, batch)
        published = time.perf_counter()
        bucket.sync()
        sync_ms.append(1000 * (time.perf_counter() - published))
        publish_ms.append(1000 * (published - began))
    shutil.rmtree(root)
    sync_ms.sort()
    return {
        "publish_ms_median": statistics.median(publish_ms),
        "sync_ms_median": statistics.median(sync_ms),
        "sync_ms_p99": sync_ms[int(len(sync_ms) * 0.99)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="git revision without durable publish")
    parser.add_argument("--changes", type=int, default=200_000)
    parser.add_argument("--txn-rows", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.1, help="CdcMaxBatchInterval (s)")
    parser.add_argument("--min-file-kb", type=int, default=256, help="CdcMinFileSize (KB)")
    parser.add_argument("--rate", type=int, default=2000, help="rows/s of the latency writer")
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=ROOT / "bench" / "data" / "durability")
    args = parser.parse_args()
    args.next_id = 10_000_000

    args.work_dir.mkdir(parents=True, exist_ok=True)
    variants = [
        Variant("before", source_tree(args.before, args.work_dir), None, args.work_dir),  # type: ignore[arg-type]
        Variant("after", ROOT / "src", None, args.work_dir),  # type: ignore[arg-type]
    ]
    sandbox = Sandbox(args.work_dir / "mariadb", port=free_port())
    sandbox.start()
    try:
        for variant in variants:
            variant.sandbox = sandbox
        conn = sandbox.root_connection()
        db = "durability"
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {db}")
        conn.cursor().execute(f"CREATE DATABASE {db}")
        conn.cursor().execute(
            f"CREATE TABLE {db}.t (id BIGINT PRIMARY KEY, v INT, pad VARCHAR(200), written_at DOUBLE)"
        )
        start = master_position(conn)
        write_changes(conn, db, args.changes, args.txn_rows)
        end = master_position(conn)
        results: dict[str, dict[str, list[dict[str, Any]]]] = {v.name: {"a": [], "b": []} for v in variants}
        for round_ in range(args.repeat):
            for variant in variants if round_ % 2 == 0 else variants[::-1]:
                results[variant.name]["a"].append(throughput(variant, db, start, end, args))
                results[variant.name]["b"].append(latency(variant, sandbox, db, args))
                print(variant.name, results[variant.name]["a"][-1], results[variant.name]["b"][-1], flush=True)
        conn.close()
    finally:
        sandbox.destroy()
    print("\n| variant | changes/s (median) | files | latency p50 ms | latency p99 ms |")
    print("|---|---|---|---|---|")
    for name, parts in results.items():
        a = statistics.median(r["changes_per_s"] for r in parts["a"])
        files = statistics.median(r["files"] for r in parts["a"])
        p50 = statistics.median(r["p50_ms"] for r in parts["b"])
        p99 = statistics.median(r["p99_ms"] for r in parts["b"])
        print(f"| {name} | {a:,.0f} | {files:.0f} | {p50:.0f} | {p99:.0f} |")
    barrier = barrier_cost(args.work_dir)
    print(f"\nbarrier per flush of 2 files: publish {barrier['publish_ms_median']:.1f} ms (median), sync "
          f"{barrier['sync_ms_median']:.1f} ms (median), {barrier['sync_ms_p99']:.1f} ms (p99)")  # fmt: skip
    (args.work_dir / "results.json").write_text(json.dumps({**results, "barrier": barrier}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
