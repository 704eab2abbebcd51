"""Where a full-load task's wall time goes: a timeline of one ``start-replication-task`` process, next to the C client.

Per round, interleaved: ``mariadb --quick --batch -e 'SELECT * FROM orders' > /dev/null`` and binlake's full-load
task (bench/run.py's set-up), the task run by this script in ``--child`` mode, which wraps the task's steps (an
in-process trace, no change to binlake) and records wall clock and CPU at: process start (spawn) → interpreter
ready → binlake's imports done → connected → first batch → last batch → files written → files durable → command
returned → process exit (as ``python -m binlake`` exits, through cli/entry.py where the tree has it). It also sums,
on the task's loop thread, the time spent waiting for the reader's next batch, the time spent in the target writer
(the encoding, on whichever thread runs it) and the time spent handing batches to the writer thread.

Usage: ``.venv/bin/python bench/full_load_timeline.py --orders 1000000 --rounds 3``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_SPAWNED = time.time()  # --child: the interpreter is up (site imports done)
BENCH_DIR = Path(__file__).resolve().parent


def child(events_path: str, argv: list[str]) -> int:
    """Run ``binlake argv`` in this process with the full load's steps traced into ``events_path``."""
    events: list[dict[str, Any]] = [{"event": "interpreter ready", "wall": _SPAWNED, "cpu": time.process_time()}]

    def mark(event: str, **extra: Any) -> None:
        events.append({"event": event, "wall": time.time(), "cpu": time.process_time(), **extra})

    try:  # the command line as `python -m binlake` runs it, where the tree has cli/entry.py's main
        from binlake.cli.entry import main as run_command
    except ImportError:
        from binlake.cli.main import main as run_command
    from binlake.engine import full_load
    from binlake.source.server import Source
    from binlake.target.store import Bucket
    from binlake.target.writer import RollingFileWriter

    mark("imports done")
    # reader_wait: the loop waiting for the reader's next batch; writer_write: in RollingFileWriter.write (the
    # encoding, on whichever thread runs it); loop_write: the loop handing a batch to the writer thread.
    totals = {"reader_wait": 0.0, "writer_write": 0.0, "loop_write": 0.0, "batches": 0}

    connect = Source.connect

    def traced_connect(self: Source, *args: Any, **kwargs: Any) -> Any:
        conn = connect(self, *args, **kwargs)
        mark("connected")
        return conn

    read_batches = full_load.read_batches

    def traced_read_batches(*args: Any, **kwargs: Any) -> Any:
        batches = iter(read_batches(*args, **kwargs))
        while True:
            started = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                mark("last batch read")
                return
            totals["reader_wait"] += time.perf_counter() - started
            totals["batches"] += 1
            if totals["batches"] == 1:
                mark("first batch")
            yield batch

    write = RollingFileWriter.write

    def traced_write(self: RollingFileWriter, batch: Any) -> None:
        started = time.perf_counter()
        write(self, batch)
        totals["writer_write"] += time.perf_counter() - started

    close = RollingFileWriter.close

    def traced_close(self: RollingFileWriter) -> list[str]:
        published = close(self)
        mark("files written")
        return published

    sync = Bucket.sync

    def traced_sync(self: Bucket) -> None:
        sync(self)
        mark("files durable")

    try:
        from binlake.target.background import BackgroundWriter
    except ImportError:  # before the writer thread
        BackgroundWriter = None  # type: ignore[assignment,misc]
    if BackgroundWriter is not None:
        handover = BackgroundWriter.write

        def traced_handover(self: Any, batch: Any) -> None:
            started = time.perf_counter()
            handover(self, batch)
            totals["loop_write"] += time.perf_counter() - started

        BackgroundWriter.write = traced_handover  # type: ignore[method-assign]
    Source.connect = traced_connect  # type: ignore[method-assign]
    full_load.read_batches = traced_read_batches  # type: ignore[assignment]
    RollingFileWriter.write = traced_write  # type: ignore[method-assign]
    RollingFileWriter.close = traced_close  # type: ignore[method-assign]
    Bucket.sync = traced_sync  # type: ignore[method-assign]
    profile_path = os.environ.get("TIMELINE_PROFILE")
    try:
        if profile_path:  # the loop thread's profile (cProfile), for pstats
            import cProfile

            profiler = cProfile.Profile()
            code = profiler.runcall(run_command, argv)
            profiler.dump_stats(profile_path)
        else:
            code = run_command(argv)
    finally:
        mark("command returned", **{k: round(v, 3) for k, v in totals.items()})
        Path(events_path).write_text(json.dumps(events))
    try:  # end as `python -m binlake` ends this command (cli/entry.py), where that exists
        from binlake.cli.entry import EXIT_WITHOUT_TEARDOWN, command_word, exit_now
    except ImportError:
        return code
    if command_word(argv) in EXIT_WITHOUT_TEARDOWN:
        exit_now(code)
    return code


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(BENCH_DIR))
    import run as bench_run
    from harness import SandboxServer, measure

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / "data" / "timeline")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for binlake's process")
    parser.add_argument(
        "--before-src", type=Path, help="also run 'binlake-before': binlake from this src directory (PYTHONPATH)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile binlake's loop thread (WORK_DIR-ROUND.profile)"
    )
    args = parser.parse_args(argv)
    args.work_dir = args.work_dir.absolute()
    # An installed binlake has bytecode for its modules (pip compiles them); an editable one under
    # PYTHONDONTWRITEBYTECODE would compile them again in every run.
    for src in [BENCH_DIR.parent / "src", *([args.before_src] if args.before_src else [])]:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True, capture_output=True)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))  # so the sandbox is destroyed
    server = SandboxServer(args.work_dir)
    server.start()
    try:
        bench = bench_run.FullLoad(
            argparse.Namespace(work_dir=args.work_dir, quiet_cores=0.5, quiet_timeout=30, timeout=3600), server
        )
        rows = bench.create(bench_run.DATABASE, args.orders)
        for round_ in range(1, args.rounds + 1):
            contenders = ["mariadb-client", "binlake"] + (["binlake-before"] if args.before_src else [])
            shift = (round_ - 1) % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                run_dir = args.work_dir / "runs" / f"{round_}-{contender}"
                (run_dir / "lake").mkdir(parents=True)
                cmd = bench.command(contender.removesuffix("-before"), bench_run.DATABASE, run_dir, run_dir / "lake")
                events_path = run_dir / "events.json"
                if contender.startswith("binlake"):
                    assert isinstance(cmd, list) and cmd[1:3] == ["-m", "binlake"]
                    cmd = [sys.executable, __file__, "--child", str(events_path), *cmd[3:]]
                env = dict(os.environ, **dict(e.split("=", 1) for e in args.env))
                if contender == "binlake-before":
                    env["PYTHONPATH"] = str(args.before_src)
                if args.profile:
                    env["TIMELINE_PROFILE"] = f"{args.work_dir}-{round_}.profile"  # the work dir goes at the end
                spawned = time.time()
                measured = measure(cmd, run_dir / "output.log", server.pid, env, shell=isinstance(cmd, str))
                line = (
                    f"round {round_} {contender:15} {measured.seconds:5.2f} s wall, {measured.cpu_seconds:5.2f} s CPU, "
                    f"server {measured.server_cpu_seconds:.2f} s, peak RSS {measured.peak_rss_bytes / 2**20:.0f} MiB, "
                    f"others {measured.other_cores:.2f} cores, rc {measured.returncode}"
                )
                print(line, flush=True)
                if contender.startswith("binlake") and events_path.exists():
                    for event in json.loads(events_path.read_text()):
                        extra = {k: v for k, v in event.items() if k not in ("event", "wall", "cpu")}
                        print(
                            f"    {event['wall'] - spawned:6.2f} s  cpu {event['cpu']:5.2f} s  {event['event']}"
                            f"{'  ' + json.dumps(extra) if extra else ''}",
                            flush=True,
                        )
                    print(f"    {measured.seconds:6.2f} s  process exit", flush=True)
                rows_written = sum(
                    bench_run.pq.ParquetFile(p).metadata.num_rows for p in (run_dir / "lake").rglob("*.parquet")
                )
                if contender.startswith("binlake") and rows_written != rows:
                    print(f"    wrote {rows_written} rows of {rows}", flush=True)
    finally:
        server.destroy()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        raise SystemExit(child(sys.argv[2], sys.argv[3:]))
    raise SystemExit(main())
