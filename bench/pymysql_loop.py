"""Baseline contender: the plain PyMySQL server-side cursor → pyarrow → Parquet loop.

What one writes by hand without a tool: ``SSCursor`` + ``fetchmany``, rows turned into columns, values
exactly as PyMySQL returns them (``Decimal``, ``datetime``, ``str``, ``int``), ``pa.Table.from_pydict``
and one ``pq.ParquetWriter`` per table (Snappy, pyarrow's default). The Arrow schema is inferred from
the first batch; decimals are widened to precision 38 there, so that a later batch with a wider value
still fits the file's schema. Tables load one after the other, on one connection each.

``--driver mysqlclient`` runs the same loop on mysqlclient's (MySQLdb's) SSCursor.

Run by bench/run.py in a child process:
``python bench/pymysql_loop.py --host H --port P --user U --password-file F --database D --out DIR t1 t2``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pymysql
import pymysql.cursors

import child_args  # bench/child_args.py: the script's own directory is on sys.path


def widen(schema: pa.Schema) -> pa.Schema:
    """The first batch's inferred schema, with decimals widened so any later batch fits."""
    fields = []
    for f in schema:
        if pa.types.is_decimal(f.type):
            fields.append(pa.field(f.name, pa.decimal128(38, f.type.scale)))
        elif pa.types.is_null(f.type):
            fields.append(pa.field(f.name, pa.string()))
        else:
            fields.append(f)
    return pa.schema(fields)


def load_table(conn: Any, table: str, out_dir: Path, batch_rows: int, cursor_class: Any) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{table}.parquet"
    rows_total = 0
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    with conn.cursor(cursor_class) as cur:
        cur.execute(f"SELECT * FROM `{table}`")
        names = [d[0] for d in cur.description]
        while True:
            rows = cur.fetchmany(batch_rows)
            if not rows:
                break
            columns = dict(zip(names, (list(c) for c in zip(*rows, strict=True)), strict=True))
            if schema is None:
                schema = widen(pa.Table.from_pydict(columns).schema)
                writer = pq.ParquetWriter(path, schema)
            assert writer is not None
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))
            rows_total += len(rows)
    if writer is not None:
        writer.close()
    return {"rows": rows_total, "bytes": path.stat().st_size if path.exists() else 0}


def main(argv: list[str] | None = None) -> int:
    parser = child_args.parser(__doc__ or "")
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument("--driver", default="pymysql", choices=("pymysql", "mysqlclient"))
    args = parser.parse_args(argv)
    password = child_args.password(args)
    started = time.monotonic()
    result: dict[str, dict[str, int]] = {}
    for table in args.tables:
        if args.driver == "mysqlclient":
            import MySQLdb
            import MySQLdb.cursors

            connect, cursor_class = MySQLdb.connect, MySQLdb.cursors.SSCursor
        else:
            connect, cursor_class = pymysql.connect, pymysql.cursors.SSCursor
        conn = connect(
            host=args.host, port=args.port, user=args.user, password=password, database=args.database, charset="utf8mb4"
        )
        try:
            result[table] = load_table(conn, table, args.out / table, args.batch_rows, cursor_class)
        finally:
            conn.close()
    json.dump({"tables": result, "seconds": time.monotonic() - started}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
