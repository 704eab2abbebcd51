"""Verify benchmark: binlake's exact source-to-target comparison against a naive fetch-and-compare.

The script starts its own sandbox MariaDB (``binlake.sandbox``, under ``--work-dir``; never the system
server), creates the guide's sample data (``--orders`` orders), and replicates ``ecommerce_platform.orders``
with a ``full-load-and-cdc`` task driven through the CLI (endpoints, task, ``start-replication-task --detach``).
Once CDC runs (``describe-replication-tasks`` shows ``CdcState``) a child process applies ``--changes`` row
changes to orders in transactions of ``--txn-rows`` (80 % updates of quantity/status/total_amount, 10 %
deletes, 10 % inserts); the script waits until the task's checkpoint reaches the source's
``SHOW MASTER STATUS`` and stops the task. The target then holds LOAD files plus CDC files on top.

Then, each in a child process of its own, one after the other (``--repeat`` rounds, median kept):

* ``binlake``: ``binlake.verify.compare.compare_table`` on orders, wired as ``binlake verify`` does
  (checks.py ``rows_match``), ``wait_for_checkpoint`` a no-op since the task is stopped. The child times
  its phases (setup, snapshot, the server's row hashes of the source, target cut and merge, target hashes,
  join and examples) by wrapping the module's functions; the target merge overlaps the source side (a thread).
* ``binlake-old``: the same child on src/binlake as of ``--old-commit`` (by default the commit before the source
  server computed the source side: the source decoded by the full load's own code into DuckDB, both sides hashed
  there), taken with ``git archive``, so the two compares run in the same rounds, interleaved.
* ``binlake-cli``: ``binlake verify --replication-task-arn T --no-probe --output json`` end to end (all
  eight checks; the lake was crawled first, so checks 7 and 8 do their work; check 1 fails: stopped).
* ``naive``: PyMySQL fetches every source row into a dict by key; pyarrow reads the LOAD files, then the
  CDC files in name order, applying each change by key (deletes drop); the two dicts are compared row by
  row, every column (values are normalised only when a raw comparison differs).

In the equal scenario an extra contender runs in the same rounds: ``naive-mysqldb``, the naive compare with
mysqlclient's C driver instead of pure-Python PyMySQL. ``--contenders`` can add ``binlake-gc-off``: the
binlake child with Python's cyclic GC disabled for the whole compare (it sized the change made in 0626f3d,
since which ``read_batches`` pauses the GC itself). A diagnostic child then times the source side alone:
the driver's fetch, and fetch + decode to Arrow (``read_batches``), each with the GC on and off.

Both must find 0 differences. Then one cell is changed, and every contender must report exactly that key
and column: (1) ``quantity`` of one row in one target CDC file, the row being its key's last change (the
file is rewritten with pyarrow, its ``binlake.commits`` metadata kept; restored afterwards); (2) ``notes``
of one row in the source while the task is stopped (``updated_at`` kept).

For every child: wall seconds, peak RSS (the child's own VmHWM where it reports one, and the process
tree's RSS sampled every 20 ms), CPU seconds of the child and of the MariaDB server, and the CPU everything
else on the machine took meanwhile (other benchmarks share the 2 cores): a run during which others took more
than ``--max-other-cores`` is run again (at most ``--retries`` times; the discarded runs stay in the JSON).
Children run on a copy of src/binlake taken at start, so concurrent edits of src/ do not mix versions.
Results go to ``--out`` as JSON and are printed as a markdown table.

Usage: ``.venv/bin/python bench/verify.py [--orders 1000000] [--changes 100000]`` (``--profile`` adds a
py-spy profile of one binlake compare).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/harness.py, imported as a sibling module
import harness
from harness import SandboxServer, environment, wait_quiet

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DATABASE = "ecommerce_platform"
TABLE = "orders"
KEY = "order_id"
TASK = "verify-bench"
MIB = 1024 * 1024
CONTENDERS = ("binlake", "binlake-old", "binlake-cli", "naive")
# Extra contenders, in the equal scenario only: what-ifs that size a possible src change, and a faster naive.
EXTRAS = ("naive-mysqldb", "binlake-gc-off")
DEFAULT_CONTENDERS = ("binlake", "binlake-old", "binlake-cli", "naive", "naive-mysqldb")
STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled")
PAYMENTS = ("credit_card", "debit_card", "paypal", "gift_card", "bank_transfer")
NOTES = (None, None, "Leave at the front door", "Gift wrap please 🎁", "配達前に電話してください")


# -- measuring a child -----------------------------------------------------------------------------------------------
def measure(
    cmd: list[str], log_path: Path, server_pid: int, timeout: float = 1800.0, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """bench/harness.py's measure, in the keys this script's results have always had."""
    m = harness.measure(cmd, log_path, server_pid, env, timeout)
    return {
        "seconds": round(m.seconds, 3),
        "returncode": m.returncode,
        "sampled_peak_rss_bytes": m.peak_rss_bytes,
        "cpu_seconds": m.cpu_seconds,
        "server_cpu_seconds": m.server_cpu_seconds,
        "other_cpu_seconds": m.other_cpu_seconds,
        "load_average": m.load_before,
    }


def vm_hwm() -> int:
    """This process's peak RSS in bytes (VmHWM: of its own address space, unlike ru_maxrss after exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def read_password(path: str) -> str:
    return Path(path).read_text().strip()


# -- the lake on disk ------------------------------------------------------------------------------------------------
def table_folder(bucket: Path) -> Path:
    return bucket / "hub" / DATABASE / TABLE


def lake_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(LOAD files, CDC files), each in the order the merge applies them (by name)."""
    from binlake.target.naming import CDC_FILE, LOAD_FILE

    files = [p for p in folder.rglob("*") if p.is_file()]
    load = sorted((p for p in files if LOAD_FILE.match(p.name)), key=lambda p: p.name)
    cdc = sorted((p for p in files if CDC_FILE.match(p.name)), key=lambda p: p.name)
    return load, cdc


# -- children --------------------------------------------------------------------------------------------------------
def child_changes(args: argparse.Namespace) -> dict[str, Any]:
    """Apply ``--changes`` row changes to orders in transactions of ``--txn-rows``; counted by affected rows."""
    import MySQLdb

    from binlake.sandbox import Sandbox

    conn = Sandbox(Path(args.sandbox_dir)).root_connection()
    cur = conn.cursor()
    cur.execute(f"SELECT {KEY}, customer_id, product_id FROM `{DATABASE}`.`{TABLE}`")
    rows = cur.fetchall()
    live = [r[0] for r in rows]
    customers = [r[1] for r in rows[:: max(1, len(rows) // 5000)]]
    products = [r[2] for r in rows[:: max(1, len(rows) // 5000)]]
    del rows
    rng = random.Random(args.seed)
    counts = {"updates": 0, "deletes": 0, "inserts": 0, "transactions": 0}
    started = time.monotonic()
    remaining = args.changes
    conn.autocommit(False)
    now = datetime(2026, 1, 1)
    try:
        while remaining > 0:
            size = min(args.txn_rows, remaining)
            n_delete = size // 10
            n_insert = size // 10
            n_update = size - n_delete - n_insert
            cur.execute("BEGIN")
            if n_update:
                keys = [live[i] for i in rng.sample(range(len(live)), n_update)]
                cur.execute(
                    f"UPDATE `{DATABASE}`.`{TABLE}` SET quantity = 1 + quantity %% 5, "
                    "status = ELT(1 + (quantity + %s) %% 5, 'pending', 'processing', 'shipped', 'delivered', "
                    f"'cancelled'), total_amount = quantity * unit_price WHERE {KEY} IN %s",
                    (rng.randrange(5), keys),
                )
                counts["updates"] += cur.rowcount
            if n_delete:
                doomed = []
                for _ in range(n_delete):
                    i = rng.randrange(len(live))
                    live[i], live[-1] = live[-1], live[i]
                    doomed.append(live.pop())
                cur.execute(f"DELETE FROM `{DATABASE}`.`{TABLE}` WHERE {KEY} IN %s", (doomed,))
                counts["deletes"] += cur.rowcount
            if n_insert:
                values = []
                for _ in range(n_insert):
                    key = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    quantity = 1 + rng.randrange(5)
                    price = Decimal(rng.randrange(500, 50000)) / 100
                    values.append(
                        (
                            key,
                            rng.choice(customers),
                            rng.choice(products),
                            quantity,
                            price,
                            price * quantity,
                            rng.choice(STATUSES),
                            now + timedelta(microseconds=rng.randrange(10**12)),
                            f"{rng.randrange(1, 9999)} Hauptstraße, Zürich, ZH, CH",
                            rng.choice(PAYMENTS),
                            rng.choice(NOTES),
                        )
                    )
                    live.append(key)
                cur.executemany(
                    f"INSERT INTO `{DATABASE}`.`{TABLE}` (order_id, customer_id, product_id, quantity, unit_price, "
                    "total_amount, status, order_date, shipping_address, payment_method, notes) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    values,
                )
                counts["inserts"] += cur.rowcount
            conn.commit()
            counts["transactions"] += 1
            remaining -= size
    except MySQLdb.Error:
        conn.rollback()
        raise
    finally:
        conn.close()
    return {**counts, "changes": counts["updates"] + counts["deletes"] + counts["inserts"],
            "seconds": round(time.monotonic() - started, 2), "rows_after": len(live)}  # fmt: skip


def child_binlake(args: argparse.Namespace) -> dict[str, Any]:
    """binlake's exact comparison of orders, wired as checks.py rows_match does, with its phases timed."""
    started = time.perf_counter()
    from binlake.catalog.lake import open_lake
    from binlake.config.mappings import TableMappings
    from binlake.source.connection import connect, endpoint_address
    from binlake.source.plan import plan_table
    from binlake.source.schema import describe_table
    from binlake.state import endpoints, tasks
    from binlake.state.store import StateStore
    from binlake.verify import compare as compare_module
    from binlake.verify.compare import compare_table

    marks: dict[str, float] = {"imported": time.perf_counter()}
    if args.gc_off:  # the what-if: Python's cyclic GC off while the rows stream (no cycles are made)
        gc.disable()

    def wrap(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*a: Any, **k: Any) -> Any:
            marks[f"{name}_start"] = time.perf_counter()
            try:
                return function(*a, **k)
            finally:
                marks[f"{name}_end"] = time.perf_counter()

        return timed

    def wrap_stream(function: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        """``function``'s iterator, marking when the source starts and ends streaming."""

        def timed(*a: Any, **k: Any) -> Iterator[Any]:
            marks["source_start"] = time.perf_counter()
            yield from function(*a, **k)
            marks["source_end"] = time.perf_counter()

        return timed

    store = StateStore(Path(args.state_dir), create=False)
    task = tasks.get(store, args.task)
    source = endpoints.get(store, task.source_endpoint)
    mappings = TableMappings.parse(task.table_mappings)
    lake = open_lake(store, args.task)
    table = next(t for t in lake.tables if t.source_table == TABLE)
    address = endpoint_address(source)
    conn = connect(address)
    try:
        plan = plan_table(describe_table(conn, table.source_schema, table.source_table), mappings)
    finally:
        conn.close()
    marks["setup"] = time.perf_counter()
    if hasattr(compare_module, "start_consistent_snapshot"):  # a tree from before verify went through Source
        compare_module.start_consistent_snapshot = wrap("snapshot", compare_module.start_consistent_snapshot)
    else:
        from binlake.source.server import Source

        Source.start_snapshot = wrap("snapshot", Source.start_snapshot)  # type: ignore[method-assign]
    compare_module._load_target = wrap("target", compare_module._load_target)
    if hasattr(compare_module, "source_hashes"):  # the source server hashes its rows (since issue 11)
        compare_module.source_hashes = wrap_stream(compare_module.source_hashes)
        compare_module._compare_by_key = wrap("compare", compare_module._compare_by_key)
        compare_module._compare_multisets = wrap("compare", compare_module._compare_multisets)
        result = compare_table(lake, table, plan, address, lambda position: None)
        finished = time.perf_counter()
        phases = {
            "imports": marks["imported"] - started,
            "setup (state, lake, describe)": marks["setup"] - marks["imported"],
            "snapshot": marks["snapshot_end"] - marks["setup"],
            "file listing + footers": marks["source_start"] - marks["snapshot_end"],
            "source: row hashes by the server → DuckDB": marks["source_end"] - marks["source_start"],
            "target cut + merge (concurrent)": marks["target_end"] - marks["target_start"],
            "after the source: rest of the target": max(0.0, marks["target_end"] - marks["source_end"]),
            "counts (and the target's hashes before 2026-11-30)": marks["compare_start"]
            - max(marks["target_end"], marks["source_end"]),
            "join by key + examples": marks["compare_end"] - marks["compare_start"],
            "close": finished - marks["compare_end"],
        }
    else:  # the compare before issue 11: the source decoded by the full load's code, hashed in DuckDB
        compare_module.read_batches = wrap_stream(compare_module.read_batches)
        compare_module._compare = wrap("compare", compare_module._compare)
        result = compare_table(lake, table, plan, address, lambda position: None)
        finished = time.perf_counter()
        # The target is merged in a thread while the source streams: only what is left of it after the source
        # is on the critical path.
        phases = {
            "imports": marks["imported"] - started,
            "setup (state, lake, describe)": marks["setup"] - marks["imported"],
            "snapshot": marks["snapshot_end"] - marks["setup"],
            "file listing + footers": marks["source_start"] - marks["snapshot_end"],
            "source read → DuckDB": marks["source_end"] - marks["source_start"],
            "target cut + merge (concurrent)": marks["target_end"] - marks["target_start"],
            "after the source: rest of the target": max(0.0, marks["compare_start"] - marks["source_end"]),
            "hash compare + examples": marks["compare_end"] - marks["compare_start"],
            "close": finished - marks["compare_end"],
        }
    return {
        "seconds_inside": round(finished - started, 3),
        "phases": {k: round(v, 3) for k, v in phases.items()},
        "position": str(result.position),
        "source_rows": result.source_rows,
        "target_rows": result.target_rows,
        "differing_keys": result.differing_keys,
        "examples": result.examples,
        "missing_columns": result.missing_columns,
        "cdc_files": len(table.cdc_files),
        "load_files": len(table.load_files),
        "vm_hwm_bytes": vm_hwm(),
    }


def _normalise(value: Any) -> Any:
    """One representation per value, for values whose raw comparison differs: Decimal scale, tz, bytes."""
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return value


def child_naive(args: argparse.Namespace) -> dict[str, Any]:
    """Fetch both sides whole into Python dicts by key; merge the CDC files by key; compare row by row."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    marks: dict[str, float] = {}
    login = {"host": args.host, "port": args.port, "user": args.user, "password": read_password(args.password_file),
             "database": DATABASE, "charset": "utf8mb4"}  # fmt: skip
    conn: Any
    if args.driver == "mysqldb":
        import MySQLdb
        import MySQLdb.cursors

        conn = MySQLdb.connect(**login, cursorclass=MySQLdb.cursors.SSCursor)
    else:
        import pymysql
        import pymysql.cursors

        conn = pymysql.connect(**login, cursorclass=pymysql.cursors.SSCursor)
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT * FROM `{TABLE}`")
        names = [d[0] for d in cur.description]
        key_index = names.index(KEY)
        source: dict[Any, tuple[Any, ...]] = {}
        while rows := cur.fetchmany(10_000):
            for row in rows:
                source[row[key_index]] = row
    finally:
        conn.close()
    marks["source"] = time.perf_counter()

    load, cdc = lake_files(Path(args.folder))
    target: dict[Any, tuple[Any, ...]] = {}
    for path in load:
        table = pq.read_table(path, columns=names)
        for row in zip(*(column.to_pylist() for column in table.columns), strict=True):
            target[row[key_index]] = row
    marks["load"] = time.perf_counter()
    changes = 0
    for path in cdc:
        table = pq.read_table(path, columns=["Op", *names])
        columns = [column.to_pylist() for column in table.columns]
        for op, *values in zip(*columns, strict=True):
            row = tuple(values)
            if op == "D":
                target.pop(row[key_index], None)
            else:
                target[row[key_index]] = row
            changes += 1
    marks["cdc"] = time.perf_counter()

    differing = 0
    examples: list[dict[str, Any]] = []
    for key in sorted(source.keys() | target.keys()):
        s, t = source.get(key), target.get(key)
        if s == t:
            continue
        if s is None or t is None:
            differing += 1
            problem = "missing in target" if t is None else "not in source"
            if len(examples) < 5:
                examples.append({"key": {KEY: key}, "problem": problem})
            continue
        columns = {
            name: {"source": str(a), "target": str(b)}
            for name, a, b in zip(names, s, t, strict=True)
            if a != b and _normalise(a) != _normalise(b)
        }
        if columns:
            differing += 1
            if len(examples) < 5:
                examples.append({"key": {KEY: key}, "problem": "values differ", "columns": columns})
    finished = time.perf_counter()
    return {
        "seconds_inside": round(finished - started, 3),
        "phases": {
            f"source fetch ({args.driver} → dict)": round(marks["source"] - started, 3),
            "target LOAD files (pyarrow → dict)": round(marks["load"] - marks["source"], 3),
            "target CDC files applied by key": round(marks["cdc"] - marks["load"], 3),
            "row-by-row compare": round(finished - marks["cdc"], 3),
        },
        "source_rows": len(source),
        "target_rows": len(target),
        "cdc_changes": changes,
        "differing_keys": differing,
        "examples": examples,
        "vm_hwm_bytes": vm_hwm(),
    }


def child_tamper(args: argparse.Namespace) -> dict[str, Any]:
    """Change ``quantity`` of one row in one CDC file: a row that is its key's last change and not a delete."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from binlake.changes import COMMITS_METADATA

    _, cdc = lake_files(Path(args.folder))
    last: dict[str, tuple[int, int, str]] = {}
    for file_index, path in enumerate(cdc):
        table = pq.read_table(path, columns=["Op", KEY])
        for row_index, (op, key) in enumerate(zip(*(c.to_pylist() for c in table.columns), strict=True)):
            last[key] = (file_index, row_index, op)
    chosen_file = len(cdc) // 2
    candidates = sorted(
        (row, key) for key, (file_index, row, op) in last.items() if file_index == chosen_file and op != "D"
    )
    if not candidates:
        raise SystemExit(f"no row in {cdc[chosen_file]} is its key's last change")
    row, key = candidates[len(candidates) // 2]
    path = cdc[chosen_file]
    shutil.copy2(path, args.backup)
    table = pq.read_table(path)
    index = table.schema.get_field_index("quantity")
    values = table.column(index).to_pylist()
    old = values[row]
    values[row] = old + 100
    table = table.set_column(
        index, table.schema.field(index), pa.chunked_array([values], table.schema.field(index).type)
    )
    pq.write_table(table, path)
    kept = (pq.read_schema(path).metadata or {}).get(COMMITS_METADATA.encode()) is not None
    return {"file": str(path), "row": row, "key": key, "column": "quantity", "old": old, "new": old + 100,
            "op": last[key][2], "commits_metadata_kept": kept, "cdc_files": len(cdc)}  # fmt: skip


def child_source_read(args: argparse.Namespace) -> dict[str, Any]:
    """Where the source side's time goes: the driver's fetch alone, then fetch + decode to Arrow (as the compare
    reads), each with the cyclic GC on and off; no DuckDB."""
    from binlake.capture.snapshot import read_batches
    from binlake.config.mappings import TableMappings
    from binlake.source.connection import connect, endpoint_address
    from binlake.source.plan import plan_table
    from binlake.source.schema import describe_table
    from binlake.source.types import DecodeCounters, select_expression
    from binlake.state import endpoints, tasks
    from binlake.state.store import StateStore

    store = StateStore(Path(args.state_dir), create=False)
    task = tasks.get(store, args.task)
    address = endpoint_address(endpoints.get(store, task.source_endpoint))
    conn = connect(address)
    try:
        plan = plan_table(describe_table(conn, DATABASE, TABLE), TableMappings.parse(task.table_mappings))
    finally:
        conn.close()
    select = ", ".join(select_expression(c) for c in plan.columns)

    def fetch_only() -> int:
        raw = connect(address, raw=True)
        try:
            raw.query(f"SELECT {select} FROM {plan.source.qualified}")
            result = raw.use_result()
            rows = 0
            while batch := result.fetch_row(maxrows=50_000, how=0):
                rows += len(batch)
            return rows
        finally:
            raw.close()

    def fetch_and_decode() -> int:
        raw = connect(address, raw=True)
        try:
            return sum(b.num_rows for b in read_batches(raw, plan.source, plan.columns, 50_000, DecodeCounters()))
        finally:
            raw.close()

    timings = {}
    for gc_on in (True, False):
        for name, function in (("fetch rows (MySQLdb)", fetch_only), ("fetch + decode to Arrow", fetch_and_decode)):
            if gc_on:
                gc.enable()
            else:
                gc.disable()
            started = time.perf_counter()
            rows = function()
            timings[f"{name}, GC {'on' if gc_on else 'off'}"] = round(time.perf_counter() - started, 3)
    gc.enable()
    from binlake.capture import snapshot

    # Since 0626f3d read_batches pauses the GC itself: then "GC on" is on only around it.
    pauses = hasattr(snapshot, "_cyclic_gc_paused")
    return {"rows": rows, "seconds": timings, "read_batches_pauses_gc": pauses, "differing_keys": None,
            "vm_hwm_bytes": vm_hwm()}  # fmt: skip


CHILDREN: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "changes": child_changes,
    "binlake": child_binlake,
    "naive": child_naive,
    "tamper": child_tamper,
    "source-read": child_source_read,
}


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/verify.py --child")
    parser.add_argument("mode", choices=sorted(CHILDREN))
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--sandbox-dir")
    parser.add_argument("--state-dir")
    parser.add_argument("--task", default=TASK)
    parser.add_argument("--folder")
    parser.add_argument("--backup")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--user")
    parser.add_argument("--password-file")
    parser.add_argument("--changes", type=int, default=0)
    parser.add_argument("--txn-rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--gc-off", action="store_true")
    parser.add_argument("--driver", choices=("pymysql", "mysqldb"), default="pymysql")
    args = parser.parse_args(argv)
    result = CHILDREN[args.mode](args)
    args.result.write_text(json.dumps(result, indent=2, default=str))
    return 0


# -- the benchmark ---------------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work_dir.absolute()
        self.server = SandboxServer(self.work)
        self.sandbox = self.server.sandbox
        self.state = self.work / "state"
        self.bucket = self.work / "bucket"
        self.runs_dir = self.work / "runs"
        self.setup: dict[str, Any] = {}
        self.runs: list[dict[str, Any]] = []
        self.discarded: list[dict[str, Any]] = []
        self.source_digest = ""
        self._count = 0

    # -- setup ---------------------------------------------------------------------------------------------------
    def start(self) -> None:
        started = time.monotonic()
        self.info = self.server.start()  # a fresh work directory
        self.setup["sandbox_start_seconds"] = round(time.monotonic() - started, 1)
        self.bucket.mkdir()
        self.runs_dir.mkdir()
        self.snapshot_source()
        if "binlake-old" in self.args.contenders:
            self.snapshot_old_source()

    def snapshot_source(self) -> None:
        """Copy src/binlake once; children import the copy (PYTHONPATH wins over the editable install)."""
        import binlake

        source = Path(binlake.__file__).resolve().parent
        target = self.work / "src" / "binlake"
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        digest = hashlib.sha256()
        for path in sorted(target.rglob("*.py")):
            digest.update(path.relative_to(target).as_posix().encode() + b"\0" + path.read_bytes())
        self.source_digest = digest.hexdigest()[:16]
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target.parent), os.environ.get("PYTHONPATH")]))

    def snapshot_old_source(self) -> None:
        """src/binlake as of ``--old-commit`` (git archive: read-only on the repository), for ``binlake-old``."""
        commit = self.args.old_commit or old_commit()
        target = self.work / "old-src"
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO_DIR), "archive", commit, "src/binlake"],
                                 capture_output=True, check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        self.old_source = target / "src" / "binlake"
        resolved = subprocess.run(["git", "-C", str(REPO_DIR), "rev-parse", commit], capture_output=True, text=True,
                                  check=True)  # fmt: skip
        self.setup["old_commit"] = resolved.stdout.strip()

    @property
    def server_pid(self) -> int:
        return self.server.pid

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.server.query(sql, params)

    def master_position(self) -> str:
        row = self.query("SHOW MASTER STATUS")[0]
        return f"{row[0]}:{int(row[1])}"

    def create_data(self) -> None:
        from binlake.sample import create_sample

        conn = self.sandbox.root_connection()
        try:
            started = time.monotonic()
            counts = create_sample(conn, database=DATABASE, customers=self.args.customers,
                                   products=self.args.products, orders=self.args.orders)  # fmt: skip
            self.setup["create_sample_seconds"] = round(time.monotonic() - started, 1)
            self.setup["sample_rows"] = counts
        finally:
            conn.close()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "binlake", "--state-dir", str(self.state), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if check and result.returncode != 0:
            raise SystemExit(f"binlake {args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")
        return result

    def describe_task(self) -> dict[str, Any]:
        shapes = json.loads(self.cli("describe-replication-tasks", "--output", "json").stdout)["ReplicationTasks"]
        return next(s for s in shapes if s["ReplicationTaskIdentifier"] == TASK)

    def wait_task(self, what: str, done: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shape = self.describe_task()
            if shape["Status"] == "failed":
                raise SystemExit(f"task failed: {shape.get('LastFailureMessage')}")
            if done(shape):
                return shape
            time.sleep(1.0)
        raise SystemExit(f"{what} not reached within {timeout:.0f}s")

    def replicate(self) -> None:
        """Endpoints, a full-load-and-cdc task on orders, the load, the changes, catch-up, stop."""
        assert self.info is not None
        info = self.info
        mappings = {"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "orders",
                               "object-locator": {"schema-name": DATABASE, "table-name": TABLE},
                               "rule-action": "include"}]}  # fmt: skip
        s3 = {"BucketName": str(self.bucket), "BucketFolder": "hub", "CdcMaxBatchInterval": 1}
        self.cli("create-endpoint", "--endpoint-identifier", "src", "--endpoint-type", "source",
                 "--engine-name", "mariadb", "--server-name", info.host, "--port", str(info.port),
                 "--username", info.user, "--password-file", info.password_file)  # fmt: skip
        self.cli("create-endpoint", "--endpoint-identifier", "lake", "--endpoint-type", "target",
                 "--engine-name", "s3", "--s3-settings", json.dumps(s3))  # fmt: skip
        self.cli("create-replication-task", "--replication-task-identifier", TASK, "--source-endpoint-arn", "src",
                 "--target-endpoint-arn", "lake", "--migration-type", "full-load-and-cdc",
                 "--table-mappings", json.dumps(mappings))  # fmt: skip
        started = time.monotonic()
        self.cli("start-replication-task", "--replication-task-arn", TASK,
                 "--start-replication-task-type", "start-replication", "--detach")  # fmt: skip
        self.wait_task("CDC running", lambda s: "CdcState" in s, 1800)
        self.setup["full_load_seconds"] = round(time.monotonic() - started, 1)
        log(f"full load done in {self.setup['full_load_seconds']} s; applying {self.args.changes} changes")

        result = self.run_child("changes", "changes", "--sandbox-dir", str(self.sandbox.base_dir),
                                "--changes", str(self.args.changes), "--txn-rows", str(self.args.txn_rows))  # fmt: skip
        self.setup["changes"] = result["result"]
        target = self.master_position()
        started = time.monotonic()

        def caught_up(shape: dict[str, Any]) -> bool:
            checkpoint = shape.get("CdcState", {}).get("CheckpointPosition")
            return bool(checkpoint) and position_key(checkpoint) >= position_key(target)

        shape = self.wait_task(f"checkpoint at {target}", caught_up, 1800)
        self.setup["catch_up_seconds_after_changes"] = round(time.monotonic() - started, 1)
        self.setup["checkpoint"] = shape["CdcState"]["CheckpointPosition"]
        self.cli("stop-replication-task", "--replication-task-arn", TASK)
        self.wait_task("stopped", lambda s: s["Status"] == "stopped", 120)
        self.cli("crawl", "--replication-task-arn", TASK)
        load, cdc = lake_files(table_folder(self.bucket))
        self.setup["lake"] = {
            "load_files": len(load),
            "cdc_files": len(cdc),
            "load_bytes": sum(p.stat().st_size for p in load),
            "cdc_bytes": sum(p.stat().st_size for p in cdc),
        }
        self.setup["source_rows"] = self.query(f"SELECT COUNT(*) FROM `{DATABASE}`.`{TABLE}`")[0][0]
        log(f"caught up at {self.setup['checkpoint']}, stopped; lake {self.setup['lake']}")

    def wait_idle(self) -> dict[str, Any]:
        """Until the server is idle and everything else uses < ``--quiet-cores`` for 3 s (≤ ``--quiet-timeout``)."""
        return wait_quiet(self.server_pid, self.args.quiet_cores, self.args.quiet_timeout)

    # -- contenders ----------------------------------------------------------------------------------------------
    def run_child(
        self, name: str, mode: str, *extra: str, prefix: list[str] | None = None, env: dict[str, str] | None = None
    ) -> dict[str, Any]:
        self._count += 1
        run_dir = self.runs_dir / f"{self._count:02d}-{name}"
        run_dir.mkdir()
        result_path = run_dir / "result.json"
        cmd = [*(prefix or []), sys.executable, str(Path(__file__).resolve()), "--child", mode,
               "--result", str(result_path), *extra]  # fmt: skip
        measured = measure(cmd, run_dir / "log.txt", self.server_pid, env=env)
        if measured["returncode"] != 0 or not result_path.exists():
            tail = (run_dir / "log.txt").read_text(errors="replace")[-3000:]
            raise SystemExit(f"child {name} failed ({measured['returncode']}):\n{tail}")
        return {**measured, "result": json.loads(result_path.read_text()), "log": str(run_dir / "log.txt")}

    def contender(self, contender: str, scenario: str, profile: bool = False) -> dict[str, Any]:
        """One measured run; run again (at most ``--retries`` times) while other jobs took more than
        ``--max-other-cores`` of a core during it. Discarded runs are kept in the JSON."""
        for attempt in range(self.args.retries + 1):
            run = self.attempt(contender, scenario, profile)
            run["disturbed"] = run["other_cpu_seconds"] / run["seconds"] > self.args.max_other_cores
            if not run["disturbed"] or profile or attempt == self.args.retries:
                break
            self.discarded.append(run)
            log(f"  disturbed ({run['other_cpu_seconds'] / run['seconds']:.2f} of a core taken by others): again")
        if not profile and contender != "source-read":
            self.runs.append(run)
        return run

    def attempt(self, contender: str, scenario: str, profile: bool) -> dict[str, Any]:
        assert self.info is not None
        quiet = self.wait_idle()
        if contender in ("binlake", "binlake-gc-off"):
            out = self.runs_dir / f"profile-{self._count + 1:02d}.txt"
            py_spy = [str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw", "--rate", "200",
                      "--native", "-o", str(out), "--"]  # fmt: skip
            extra = ["--gc-off"] if contender == "binlake-gc-off" else []
            run = self.run_child(contender, "binlake", "--state-dir", str(self.state), "--task", TASK, *extra,
                                 prefix=py_spy if profile else None)  # fmt: skip
            if profile:
                run["profile"] = str(out)
        elif contender == "binlake-old":
            env = {**os.environ, "PYTHONPATH": str(self.old_source.parent)}
            run = self.run_child(contender, "binlake", "--state-dir", str(self.state), "--task", TASK, env=env)
        elif contender in ("naive", "naive-mysqldb"):
            driver = "mysqldb" if contender == "naive-mysqldb" else "pymysql"
            run = self.run_child(contender, "naive", "--host", self.info.host, "--port", str(self.info.port),
                                 "--user", self.info.user, "--password-file", self.info.password_file,
                                 "--folder", str(table_folder(self.bucket)), "--driver", driver)  # fmt: skip
        elif contender == "source-read":
            run = self.run_child(contender, "source-read", "--state-dir", str(self.state), "--task", TASK)
        else:
            run = self.run_cli_verify()
        run.update(contender=contender, scenario=scenario, quiet=quiet, profile_run=profile)
        found = run["result"]
        peak = max(run["sampled_peak_rss_bytes"], found.get("vm_hwm_bytes", 0))
        run["peak_rss_bytes"] = peak
        log(f"{scenario:<14} {contender:<14} {run['seconds']:7.2f} s  peak {peak / MIB:7.0f} MiB  "
            f"differing keys {found['differing_keys']}  other CPU {run['other_cpu_seconds']} s")  # fmt: skip
        return run

    def run_cli_verify(self) -> dict[str, Any]:
        self._count += 1
        run_dir = self.runs_dir / f"{self._count:02d}-binlake-cli"
        run_dir.mkdir()
        cmd = [sys.executable, "-m", "binlake", "--state-dir", str(self.state), "verify",
               "--replication-task-arn", TASK, "--no-probe", "--output", "json"]  # fmt: skip
        measured = measure(cmd, run_dir / "log.txt", self.server_pid)
        text = (run_dir / "log.txt").read_text(errors="replace")
        try:
            report = json.loads(text[text.index("{") :])
        except ValueError as exc:
            raise SystemExit(f"binlake verify gave no JSON ({measured['returncode']}):\n{text[-3000:]}") from exc
        checks = report["Checks"]
        rows = checks[3]
        detail = rows.get("Details", {}).get(f"{DATABASE}.{TABLE}", {})
        return {**measured, "log": str(run_dir / "log.txt"), "result": {
            "passed": report["Passed"],
            "checks": {c["Name"]: c["Passed"] for c in checks},
            "rows_check_evidence": rows["Evidence"],
            "differing_keys": detail.get("DifferingKeys"),
            "source_rows": detail.get("SourceRows"),
            "target_rows": detail.get("TargetRows"),
            "examples": detail.get("Examples", []),
        }}  # fmt: skip

    def round_of(self, scenario: str, contenders: list[str]) -> None:
        for _ in range(self.args.repeat if scenario == "equal" else 1):
            for contender in contenders:
                self.contender(contender, scenario)

    def scenarios(self) -> None:
        contenders = [c for c in CONTENDERS if c in self.args.contenders]
        extras = [c for c in EXTRAS if c in self.args.contenders]
        self.round_of("equal", contenders + extras)
        if self.args.diagnose:
            self.setup["source_read"] = self.contender("source-read", "diagnose")["result"]["seconds"]
        if self.args.profile:
            self.setup["profile"] = self.contender("binlake", "profile", profile=True).get("profile")
        folder = table_folder(self.bucket)
        backup = self.work / "tampered-original.parquet"
        tamper = self.run_child("tamper", "tamper", "--folder", str(folder), "--backup", str(backup))["result"]
        self.setup["tamper_target"] = tamper
        log(f"tampered {tamper['column']} of {tamper['key']} in {Path(tamper['file']).name}: "
            f"{tamper['old']} → {tamper['new']}")  # fmt: skip
        self.round_of("target cell", contenders)
        shutil.copy2(backup, tamper["file"])

        victim = self.query(f"SELECT {KEY}, notes FROM `{DATABASE}`.`{TABLE}` ORDER BY {KEY} LIMIT 1 OFFSET %s",
                            (self.setup["source_rows"] // 3,))[0]  # fmt: skip
        self.query(f"UPDATE `{DATABASE}`.`{TABLE}` SET notes = 'tampered', updated_at = updated_at WHERE {KEY} = %s",
                   (victim[0],))  # fmt: skip
        self.setup["tamper_source"] = {"key": victim[0], "column": "notes", "old": victim[1], "new": "tampered"}
        log(f"tampered notes of {victim[0]} in the source: {victim[1]!r} → 'tampered'")
        self.round_of("source cell", contenders)

    # -- results -------------------------------------------------------------------------------------------------
    def checks(self) -> dict[str, Any]:
        """Did every contender find exactly what it should in each scenario?"""
        expected = {
            "equal": (0, None, None),
            "target cell": (1, self.setup["tamper_target"]["key"], "quantity"),
            "source cell": (1, self.setup["tamper_source"]["key"], "notes"),
        }
        verdicts = {}
        for run in self.runs:
            if run["scenario"] not in expected:
                continue
            count, key, column = expected[run["scenario"]]
            found = run["result"]
            ok = found["differing_keys"] == count
            if key is not None:
                example = (found.get("examples") or [{}])[0]
                ok = ok and example.get("key") == {KEY: key} and set(example.get("columns", {})) == {column}
            verdicts[f"{run['scenario']} / {run['contender']}"] = ok
        return verdicts

    def summary(self) -> dict[str, Any]:
        table: dict[str, dict[str, Any]] = {}
        for scenario in ("equal", "target cell", "source cell"):
            for contender in CONTENDERS + EXTRAS:
                runs = [r for r in self.runs if r["scenario"] == scenario and r["contender"] == contender]
                if not runs:
                    continue
                table[f"{scenario} / {contender}"] = {
                    "runs": len(runs),
                    "seconds": round(statistics.median(r["seconds"] for r in runs), 2),
                    "peak_rss_mib": round(statistics.median(r["peak_rss_bytes"] for r in runs) / MIB),
                    "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in runs), 1),
                    "server_cpu_seconds": round(statistics.median(r["server_cpu_seconds"] for r in runs), 1),
                    "other_cpu_seconds": round(statistics.median(r["other_cpu_seconds"] for r in runs), 1),
                    "differing_keys": runs[0]["result"]["differing_keys"],
                }
        for scenario in ("equal", "target cell", "source cell"):
            old = table.get(f"{scenario} / binlake-old")
            for contender in ("binlake", "binlake-cli"):
                row = table.get(f"{scenario} / {contender}")
                if row and old:
                    row["old_over_this"] = round(old["seconds"] / row["seconds"], 2)
            naive = table.get(f"{scenario} / naive")
            for contender in ("binlake", "binlake-gc-off", "naive-mysqldb"):
                row = table.get(f"{scenario} / {contender}")
                if row and naive:
                    row["naive_over_this"] = round(naive["seconds"] / row["seconds"], 2)
        return table

    def environment(self) -> dict[str, Any]:
        packages = ("binlake", "duckdb", "pyarrow", "mysqlclient", "PyMySQL", "psutil")
        done = subprocess.run(["git", "-C", str(REPO_DIR), "status", "--porcelain", "--", "src"],
                              capture_output=True, text=True)  # fmt: skip
        return {
            **environment(self.server, packages),
            "src_changed_files": len(done.stdout.splitlines()),
            "src_sha256": self.source_digest,
            "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
        }


def old_commit() -> str:
    """The commit before the source server computed verify's source side: the parent of the commit that added
    src/binlake/verify/canonical.py."""
    added = subprocess.run(["git", "-C", str(REPO_DIR), "log", "--diff-filter=A", "--format=%H", "--",
                            "src/binlake/verify/canonical.py"], capture_output=True, text=True, check=True)  # fmt: skip
    first = added.stdout.split()[-1]
    return f"{first}^"


def position_key(text: str) -> tuple[str, int]:
    name, _, pos = text.rpartition(":")
    return name, int(pos)


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def markdown(summary: dict[str, Any], verdicts: dict[str, bool]) -> str:
    lines = [
        "| scenario / contender | runs | seconds | peak RSS MiB | CPU s | server CPU s | other CPU s | "
        "differing keys | binlake-old ÷ this | naive (PyMySQL) ÷ this | correct |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in summary.items():
        ratio = row.get("naive_over_this", "")
        old = row.get("old_over_this", "")
        lines.append(
            f"| {name} | {row['runs']} | {row['seconds']} | {row['peak_rss_mib']} | {row['cpu_seconds']} | "
            f"{row['server_cpu_seconds']} | {row['other_cpu_seconds']} | {row['differing_keys']} | {old} | {ratio} | "
            f"{'✓' if verdicts.get(name) else '✗'} |"
        )
    return "\n".join(lines)


def phases_markdown(runs: list[dict[str, Any]]) -> str:
    lines = []
    for run in runs:
        phases = run["result"].get("phases")
        if phases:
            body = ", ".join(f"{k} {v:.2f}" for k, v in phases.items())
            lines.append(f"- {run['scenario']} / {run['contender']} ({run['seconds']:.2f} s wall): {body}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--txn-rows", type=int, default=1000, help="Row changes per transaction.")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="Rounds of the equal scenario (median kept).")
    parser.add_argument("--contenders", default=",".join(DEFAULT_CONTENDERS), type=lambda s: s.split(","))
    parser.add_argument("--no-diagnose", dest="diagnose", action="store_false",
                        help="Skip timing the source read alone (driver fetch, decode, GC on/off).")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="Also record a py-spy profile of one compare.")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / "data" / "verify")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--quiet-timeout", type=float, default=120.0)
    parser.add_argument("--quiet-cores", type=float, default=0.3)
    parser.add_argument("--max-other-cores", type=float, default=0.25,
                        help="A run during which other jobs took more than this many cores is run again.")  # fmt: skip
    parser.add_argument("--retries", type=int, default=3, help="At most this many reruns of a disturbed run.")
    parser.add_argument("--keep", action="store_true", help="Keep the sandbox and lake afterwards.")
    parser.add_argument("--old-commit", help="The commit whose compare runs as binlake-old (default: the one "
                        "before the source server computed the source side).")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    args = parse_args(argv)
    bench = Bench(args)
    started = time.monotonic()
    try:
        bench.start()
        log(f"sandbox on port {bench.info.port}; creating {args.orders} orders")
        bench.create_data()
        bench.replicate()
        uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        bench.scenarios()
        summary = bench.summary()
        verdicts = bench.checks()
        report = {
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "environment": bench.environment(),
            "uptime_before_runs": uptime_before,
            "setup": bench.setup,
            "summary": summary,
            "correct": verdicts,
            "runs": bench.runs,
            "discarded_disturbed_runs": bench.discarded,
            "total_seconds": round(time.monotonic() - started, 1),
        }
    finally:
        if not args.keep:
            bench.sandbox.destroy()
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2, default=str)
    (args.out / f"verify-{stamp}.json").write_text(text)
    (args.out / "verify-latest.json").write_text(text)
    print(markdown(summary, verdicts))
    print()
    print(phases_markdown(bench.runs))
    print(f"\nresults: {args.out / f'verify-{stamp}.json'}")
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
