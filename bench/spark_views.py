"""The current-state view in Spark next to DuckDB's, over one lake, same run, interleaved.

The lake is written in binlake's layout by this script (pyarrow, Snappy, row groups of 131,072 rows): the
guide's ``orders`` table (12 columns) as LOAD files of ``--orders`` rows, then ``--changes`` changes in CDC
files of ``--file-changes`` rows (80 % updates of quantity/status/total_amount, some keys several times, 10 %
deletes, 10 % inserts; transactions of 10 rows), each row with the commit-order column
(``CdcCommitOrderColumnName``). The views are the ones ``crawl --dialect spark|duckdb`` prints
(``binlake.catalog.dialects``), so this measures exactly what a user runs.

Per round, for each engine in turn (order alternating between rounds):

* first result: ``SELECT * FROM orders LIMIT 10`` (the window over every change runs before any row is out);
* total: ``SELECT count(*), sum(quantity), sum(total_amount), count(DISTINCT status) FROM orders``.

Both engines must give the same totals, and the count must be the expected one. Spark runs ``local[N]``
(``--cores``, default 2) in one session started once (its start-up is reported apart); DuckDB gets the same
number of threads and a fresh connection per round. Medians of ``--repeat`` rounds go to ``--out`` (JSON) and
are printed as a markdown table.

Usage: ``.venv/bin/python bench/spark_views.py [--orders 2000000] [--changes 1000000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from binlake.catalog.dialects import TableView, duckdb_views, spark_views

ORDER = "binlake_commit_order"
STATUSES = ["pending", "processing", "shipped", "delivered", "cancelled"]
TOTALS = "SELECT count(*), sum(quantity), sum(total_amount), count(DISTINCT status) FROM {t}"
FIRST = "SELECT * FROM {t} LIMIT 10"


def order_ids(keys: list[int]) -> pa.Array:
    return pa.array([f"{k:08x}-0000-4000-8000-{k:012x}" for k in keys], pa.string())


def rows(keys: list[int], rng: random.Random, moment: int) -> dict[str, pa.Array]:
    n = len(keys)
    quantity = [rng.randrange(1, 10) for _ in range(n)]
    cents = [rng.randrange(100, 100_000) for _ in range(n)]
    micros = pa.array([moment + rng.randrange(10**12) for _ in range(n)], pa.int64()).cast(pa.timestamp("us"))
    return {
        "order_id": order_ids(keys),
        "customer_id": order_ids([k % 50_000 for k in keys]),
        "product_id": order_ids([k % 5_000 for k in keys]),
        "quantity": pa.array(quantity, pa.int32()),
        "unit_price": pa.array([Decimal(c).scaleb(-2) for c in cents], pa.decimal128(10, 2)),
        "total_amount": pa.array([Decimal(q * c).scaleb(-2) for q, c in zip(quantity, cents, strict=True)],
                                 pa.decimal128(12, 2)),
        "status": pa.array([rng.choice(STATUSES) for _ in range(n)], pa.string()),
        "order_date": micros,
        "shipping_address": pa.array([f"{k} Main St" for k in keys], pa.string()),
        "payment_method": pa.array([rng.choice(("card", "paypal", "bank")) for _ in range(n)], pa.string()),
        "notes": pa.nulls(n, pa.string()),
        "updated_at": micros,
    }  # fmt: skip


def write_lake(folder: Path, orders: int, changes: int, file_changes: int, seed: int = 7) -> int:
    """LOAD files and CDC files of ``orders``; returns the expected row count of the current state."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    start = 1_768_000_000_000_000
    for number, first in enumerate(range(0, orders, 1_000_000), 1):
        keys = list(range(first, min(orders, first + 1_000_000)))
        pq.write_table(pa.table(rows(keys, rng, start)), folder / f"LOAD{number:08d}.parquet", row_group_size=131_072)
    deletes, inserts = changes // 10, changes // 10
    updates = changes - deletes - inserts
    permutation = list(range(orders))
    rng.shuffle(permutation)
    deleted = permutation[:deletes]
    kept = permutation[deletes:]
    updated = [rng.choice(kept) for _ in range(updates)]  # with replacement: some keys change several times
    new = list(range(orders, orders + inserts))
    changed = [("U", k) for k in updated] + [("D", k) for k in deleted] + [("I", k) for k in new]
    rng.shuffle(changed)
    for number, first in enumerate(range(0, changes, file_changes)):
        part = changed[first : first + file_changes]
        table = rows([k for _, k in part], rng, start + 10**12)
        order = [f"{1:010d}:{4 + (i // 10) * 997:010d}:{i % 10:010d}" for i in range(first, first + len(part))]
        columns = {"Op": pa.array([op for op, _ in part], pa.string()), ORDER: pa.array(order, pa.string()), **table}
        name = f"20260116-{12 + number // 3600:02d}{number // 60 % 60:02d}{number % 60:02d}000.parquet"
        pq.write_table(pa.table(columns), folder / name, row_group_size=131_072)
    return orders - deletes + inserts


def view(folder: Path) -> TableView:
    schema = pq.read_schema(next(folder.glob("LOAD*.parquet")))
    return TableView("bench_db", "orders", str(folder), list(schema), ["order_id"], ORDER)


def statements(sql: list[str]) -> list[str]:
    return [s.rstrip(";") for s in sql if not s.startswith("--")]


def run_duckdb(folder: Path, cores: int) -> dict[str, Any]:
    conn = duckdb.connect()
    conn.execute(f"SET threads = {cores}")
    for statement in statements(duckdb_views(view(folder))):
        conn.execute(statement)
    started = time.perf_counter()
    conn.execute(FIRST.format(t="bench_db.orders")).fetchall()
    first = time.perf_counter() - started
    started = time.perf_counter()
    totals = conn.execute(TOTALS.format(t="bench_db.orders")).fetchone()
    total = time.perf_counter() - started
    conn.close()
    return {"first": first, "total": total, "totals": [str(v) for v in totals]}


def run_spark(spark: Any, folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    spark.sql(FIRST.format(t="bench_db.orders")).collect()
    first = time.perf_counter() - started
    started = time.perf_counter()
    totals = spark.sql(TOTALS.format(t="bench_db.orders")).collect()[0]
    total = time.perf_counter() - started
    return {"first": first, "total": total, "totals": [str(v) for v in totals]}


def start_spark(cores: int, memory: str, work: Path) -> tuple[Any, float]:
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.warehouse.dir", str(work / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Djava.io.tmpdir={work}")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sql("SELECT 1").collect()
    return spark, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--file-changes", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--spark-memory", default="2g")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench-spark-views.json"))
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="binlake-spark-bench-"))
    folder = work / "lake" / "hub" / "ecommerce_platform" / "orders"
    started = time.perf_counter()
    expected = write_lake(folder, args.orders, args.changes, args.file_changes)
    print(f"lake written in {time.perf_counter() - started:.1f}s: {folder}")
    spark, startup = start_spark(args.cores, args.spark_memory, work)
    for statement in statements(spark_views(view(folder))):
        spark.sql(statement)
    results: dict[str, list[dict[str, Any]]] = {"spark": [], "duckdb": []}
    load = []
    for round_ in range(args.repeat):
        order = ["spark", "duckdb"] if round_ % 2 == 0 else ["duckdb", "spark"]
        for engine in order:
            result = run_spark(spark, folder) if engine == "spark" else run_duckdb(folder, args.cores)
            results[engine].append(result)
            print(engine, f"first {result['first']:.2f}s total {result['total']:.2f}s", result["totals"])
        load.append(os.getloadavg()[0])
    spark.stop()
    for engine, runs in results.items():
        for result in runs:
            assert result["totals"] == results["duckdb"][0]["totals"], (engine, result)
            assert int(result["totals"][0]) == expected, (engine, result, expected)
    summary = {
        engine: {key: statistics.median(r[key] for r in runs) for key in ("first", "total")}
        for engine, runs in results.items()
    }
    report = {
        "orders": args.orders,
        "changes": args.changes,
        "cores": args.cores,
        "spark_startup_s": startup,
        "load_average": load,
        "machine": platform.platform(),
        "results": results,
        "median": summary,
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nSpark start-up: {startup:.1f}s; load average during rounds: {', '.join(f'{x:.1f}' for x in load)}")
    print("| engine | first result (s) | total (s) | total vs DuckDB |")
    print("|---|--:|--:|--:|")
    for engine in ("duckdb", "spark"):
        ratio = summary[engine]["total"] / summary["duckdb"]["total"]
        print(f"| {engine} | {summary[engine]['first']:.2f} | {summary[engine]['total']:.2f} | {ratio:.1f}× |")


if __name__ == "__main__":
    main()
