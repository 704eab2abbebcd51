"""Contender: connectorx (Rust) reads a table into Arrow, pyarrow writes it as one Parquet file.

connectorx builds the whole result in memory before returning it (no streaming interface), which is what its
peak RSS shows. Run by bench/run.py in a child process:
``python bench/connectorx_load.py --host H --port P --user U --password-file F --database D --out DIR t1``.
"""

from __future__ import annotations

import json
import sys
import time
from urllib.parse import quote

import connectorx as cx
import pyarrow.parquet as pq

import child_args  # bench/child_args.py: the script's own directory is on sys.path


def main(argv: list[str] | None = None) -> int:
    parser = child_args.parser(__doc__ or "")
    args = parser.parse_args(argv)
    password = quote(child_args.password(args), safe="")
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
