"""The differential ("oracle") harness, long run: random schemas and ``--transactions`` random transactions per
seed against a private sandbox MariaDB, the binlog read by binlake's reader and by MariaDB's own decoder
(``mariadb-binlog -vv --base64-output=DECODE-ROWS``), compared statement by statement, image by image, value
by value, and binlake's images replayed against the source's committed tables.

The harness is tests/oracle/ (the same code as the quick variant in tests/test_binlog_oracle.py). The sandbox
(never the system server) is removed afterwards unless ``--keep``.

The sandbox and its temporary files live under ``--work-dir`` (default: a new directory in bench/out/).

Usage: ``.venv/bin/python bench/binlog_oracle.py --seed 7 --transactions 10000`` (``--seeds 5`` runs seeds
7..11; ``--switch-checksum 0.02`` switches binlog_checksum NONE↔CRC32 between binlog files). Exit code 1 when a
difference is found; each is printed with its seed, table, column and binlog position, and the command that
reproduces it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))  # tests.oracle, the harness shared with the test suite

from tests.oracle.harness import reproduce_command, run_oracle  # noqa: E402
from tests.oracle.workload import Options  # noqa: E402

from binlake.sandbox import Sandbox, free_port  # noqa: E402

# Transactions per round: one schema per round keeps each table's history (and mariadb-binlog's output) small.
ROUND = 2_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1, help="run this many seeds from --seed on")
    parser.add_argument("--transactions", type=int, default=10_000, help="per seed")
    parser.add_argument("--switch-checksum", type=float, default=0.0, help="probability after each transaction")
    parser.add_argument("--tables", type=int, default=4)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the sandbox (and its binlogs) afterwards")
    parser.add_argument("--round-seed", type=int, default=None, help="run the one round of this seed (a reproduction)")
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="oracle-", dir=REPO_DIR / "bench" / "out"))
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    # The server's temporary files under the work directory too: /tmp is shared with whatever else runs.
    sandbox = Sandbox(work / "sandbox", port=free_port(), extra_settings={"tmpdir": str(work / "tmp")})
    info = sandbox.start()
    failed = False
    started = time.monotonic()
    totals = [0, 0, 0]
    try:
        for seed in range(args.seed, args.seed + args.seeds):
            left, part = args.transactions, 0
            while left > 0:
                count = left if args.round_seed is not None else min(ROUND, left)
                # A round is reproducible on its own: --round-seed R --transactions COUNT.
                round_seed = args.round_seed if args.round_seed is not None else seed * 1000 + part
                options = Options(tables=args.tables, switch_checksum=args.switch_checksum)
                command = reproduce_command(round_seed, count, options)
                try:
                    report = run_oracle(info, round_seed, count, options)
                except Exception as exc:
                    print(f"seed {round_seed}: the round failed: {type(exc).__name__}: {exc}\nreproduce: {command}")
                    failed = True
                    break
                print(report.summary(), flush=True)
                totals[0] += report.rows_events
                totals[1] += report.images
                totals[2] += report.values
                failed = failed or bool(report.differences)
                left -= count
                part += 1
            if args.round_seed is not None:
                break
    finally:
        log = work / "sandbox" / "mariadb.err"
        if failed and log.exists():
            print("the sandbox's error log ends with:\n" + "\n".join(log.read_text().splitlines()[-15:]))
        if not args.keep:
            sandbox.destroy()
    print(
        f"{'DIFFERENCES FOUND' if failed else 'no difference'}: {args.seeds} seed(s) × {args.transactions} "
        f"transactions, {totals[0]} rows events, {totals[1]} images, {totals[2]} values in "
        f"{time.monotonic() - started:.0f}s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
