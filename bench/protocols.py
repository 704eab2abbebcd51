"""Text or binary protocol for the full load: what each costs the server and the client, next to the C client.

binlake's full load reads ``SELECT *`` through the text protocol (mysql_use_result). The binary protocol (a
server-side prepared statement) sends integers, floats and temporal values in binary rather than as text, so it
could cost the server less per row, and the server is the limit of a full load here (one core of it, busy for
most of the C client's time). This measures both, with a probe in C (bench/protocol_probe.c, compiled here with
the MariaDB C client library) that reads every row and converts nothing, interleaved with
``mariadb --quick --batch > /dev/null`` on the same orders table (bench/workload.py) in a private sandbox server.

Usage: ``.venv/bin/python bench/protocols.py [--orders 1000000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))  # sibling modules: harness, workload, contenders

import contenders  # noqa: E402
import workload  # noqa: E402
from harness import SandboxServer, interleaved, measure, wait_quiet  # noqa: E402

DATABASE = "bench"
CONTENDERS = ("mariadb-client", "probe-text", "probe-binary")


def compile_probe(work: Path) -> Path:
    flags = subprocess.run(["mariadb_config", "--cflags", "--libs"], capture_output=True, text=True, check=True)
    binary = work / "protocol_probe"
    subprocess.run(
        ["gcc", "-O2", "-o", str(binary), str(BENCH_DIR / "protocol_probe.c"), *shlex.split(flags.stdout)],
        check=True,
    )
    return binary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / "data" / "protocols")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--quiet-cores", type=float, default=0.5)
    parser.add_argument("--quiet-timeout", type=float, default=30)
    args = parser.parse_args(argv)
    server = SandboxServer(args.work_dir.absolute())
    info = server.start()
    try:
        rows = workload.create_orders(server, DATABASE, args.orders)
        probe = compile_probe(server.work)
        password = Path(info.password_file).read_text().strip()
        env = dict(os.environ, MYSQL_PWD=password)

        def run(contender: str, round_number: int) -> dict[str, Any]:
            run_dir = server.work / "runs" / f"{round_number}-{contender}"
            run_dir.mkdir(parents=True, exist_ok=True)
            if contender == "mariadb-client":
                cmd: list[str] | str = contenders.full_load_command(
                    contender, server, DATABASE, "orders", run_dir, run_dir
                )
            else:
                protocol = contender.removeprefix("probe-")
                cmd = [str(probe), info.host, str(info.port), info.user, DATABASE, "orders", protocol]
            quiet = wait_quiet(server.pid, args.quiet_cores, args.quiet_timeout)
            measured = measure(cmd, run_dir / "output.log", server.pid, env, shell=isinstance(cmd, str))
            output = (run_dir / "output.log").read_text().strip()
            if measured.returncode != 0 or (contender != "mariadb-client" and not output.startswith(f"{rows} rows")):
                raise SystemExit(f"{contender} failed: {output}")
            result = {"contender": contender, "round": round_number, **measured.as_dict(), **quiet}
            print(
                f"  {contender:15} {measured.seconds:5.2f} s, client CPU {measured.cpu_seconds:.2f} s, "
                f"server CPU {measured.server_cpu_seconds:.2f} s, others {measured.other_cores:.2f} cores",
                flush=True,
            )
            return result

        runs = interleaved(CONTENDERS, args.rounds, run)
    finally:
        server.destroy()
    limit = statistics.median(r["seconds"] for r in runs["mariadb-client"])
    summary = {
        name: {
            "seconds": statistics.median(r["seconds"] for r in results),
            "client_cpu_seconds": statistics.median(r["cpu_seconds"] for r in results),
            "server_cpu_seconds": statistics.median(r["server_cpu_seconds"] for r in results),
            "x_c_client": round(limit / statistics.median(r["seconds"] for r in results), 2),
        }
        for name, results in runs.items()
    }
    print(f"\n{rows:,} rows, medians of {args.rounds} rounds")
    print("| contender | wall s | × the C client | client CPU s | server CPU s |\n|---|--:|--:|--:|--:|")
    for name, row in summary.items():
        print(
            f"| {name} | {row['seconds']:.2f} | {row['x_c_client']:.2f}× | {row['client_cpu_seconds']:.2f} "
            f"| {row['server_cpu_seconds']:.2f} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": "protocols", "time": datetime.now(UTC).isoformat(timespec="seconds"), "rows": rows,
              "runs": runs, "summary": summary}  # fmt: skip
    (args.out / "protocols.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
