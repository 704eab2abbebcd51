"""Contender: connectorx (Rust) reads a table into Arrow, pyarrow writes it as one Parquet file.

connectorx builds the whole result in memory before returning it (no streaming interface), which is what its
peak RSS shows. Run by bench/run.py in a child process:
``python bench/connectorx_load.py --host H --port P --user U --password-file F --database D --out DIR t1``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from urllib.parse import quote

import connectorx as cx
import pyarrow.parquet as pq


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("tables", nargs="+")
    args = parser.parse_args(argv)
    password = quote(Path(args.password_file).read_text().strip(), safe="")
    uri = f"mysql://{quote(args.user, safe='')}:{password}@{args.host}:{args.port}/{args.database}"
    started = time.monotonic()
    result = {}
    for table in args.tables:
        data = cx.read_sql(uri, f"SELECT * FROM `{table}`", return_type="arrow")
        (args.out / table).mkdir(parents=True, exist_ok=True)
        pq.write_table(data, args.out / table / f"{table}.parquet")
        result[table] = {"rows": data.num_rows}
    json.dump({"tables": result, "seconds": time.monotonic() - started}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
