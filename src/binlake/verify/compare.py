"""Exact comparison of a source table with its merged target, both as of one binlog position.

The source is read inside a consistent snapshot, whose binlog position P is known (MariaDB's
binlog_snapshot_position). The target is cut at the same P: LOAD files, then each CDC file up to its last
transaction committed at or before P (CDC files carry their commit positions in the Parquet metadata
``binlake.commits``), and merged to its current state in DuckDB. So the answer is exact while the source keeps
changing.

The source side is computed by the source server, not by binlake's decoder: inside the snapshot, MariaDB
checksums buckets of rows over a canonical text of each value (``canonical.py``, ``checksum.py``), and DuckDB
computes the same checksums over the lake's current state. Only the buckets that differ are read again, as
canonical text with a plain cursor, and compared row by row and column by column. A value the full load
decoded wrongly therefore shows up as a difference, with its key and column. A table without a primary key
is compared as a multiset of whole rows (duplicates count).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from binlake.capture.snapshot import start_consistent_snapshot
from binlake.catalog.lake import Lake, LakeTable, list_files
from binlake.catalog.sql import changes_sql, current_sql, ident, literal, multiset_sql
from binlake.changes import COMMITS_METADATA
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress, connect
from binlake.source.plan import TablePlan
from binlake.verify.canonical import Form, form
from binlake.verify.checksum import Buckets, differing, plan_buckets, source_rows, source_sums, target_sums_sql
from binlake.verify.wide_decimals import wide_decimal_columns, wide_decimal_texts

SHOWN_DIFFERENCES = 5


@dataclass
class TableComparison:
    table: str
    position: BinlogPosition | None
    source_rows: int = 0
    target_rows: int = 0
    differing_keys: int = 0
    buckets: int = 0  # buckets of rows checksummed on both sides
    differing_buckets: int = 0  # buckets whose checksums differ: their rows were read again and compared
    examples: list[dict[str, Any]] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return self.differing_keys == 0 and not self.missing_columns


def cut_file_rows(lake: Lake, table: LakeTable, position: BinlogPosition) -> list[tuple[str, int]]:
    """(path, rows to keep) for each CDC file: the rows of transactions committed at or before ``position``.

    A transaction too large for one batch is written across several files: the rows after a file's last
    commit belong to the next commit recorded in a later file of the table.
    """
    kept: list[tuple[str, int]] = []
    waiting: list[tuple[int, int]] = []  # (index in kept, all its rows): files whose last rows wait for a commit
    for info in table.cdc_files:
        path = lake.path(info)
        with lake.bucket.fs.open_input_file(path) as handle:
            metadata = pq.read_metadata(handle)
        raw = (metadata.metadata or {}).get(COMMITS_METADATA.encode())
        if raw is None:
            raise BinlakeError(f"{info.path} has no commit positions", fix="reload the table (reload-target)")
        commits = [(end, BinlogPosition(binlog_file, log_pos)) for end, binlog_file, log_pos in json.loads(raw)]
        if commits and waiting:
            if commits[0][1] <= position:
                for index, all_rows in waiting:
                    kept[index] = (kept[index][0], all_rows)
            waiting = []
        kept.append((lake.duckdb_path(info.path), max((end for end, at in commits if at <= position), default=0)))
        last_end = commits[-1][0] if commits else 0
        if last_end < metadata.num_rows and (not commits or commits[-1][1] <= position):
            waiting.append((len(kept) - 1, metadata.num_rows))
    return [(path, rows) for path, rows in kept if rows]


def compare_table(
    lake: Lake,
    table: LakeTable,
    plan: TablePlan,
    address: SourceAddress,
    wait_for_checkpoint: Callable[[BinlogPosition], None],
) -> TableComparison:
    raw = connect(address, raw=True)
    db = duckdb.connect()
    lake.bucket.register_with_duckdb(db)
    try:
        position = start_consistent_snapshot(raw)
        if position is None:
            raise BinlakeError(f"{address.host}:{address.port} has no binlog position", fix="set log_bin=ON")
        result = TableComparison(table.label, position)
        wait_for_checkpoint(position)
        list_files(lake.bucket, table)  # files published while we waited belong to the comparison
        # A table with no files left compares as an empty table with the source's columns.
        target_columns = [f.name for f in lake.schema(table)] if table.files else list(plan.target_names)
        names = [n for n in plan.target_names if n in target_columns]
        result.missing_columns = [n for n in plan.target_names if n not in target_columns]
        columns = {n: c for c, n in zip(plan.columns, plan.target_names, strict=True) if n in target_columns}
        forms = [form(columns[n], n) for n in names]
        key = [k for k in table.key if k in names]
        by_name = {f.name: f for f in forms}
        key_forms = [(columns[k], by_name[k]) for k in key]
        source_table = plan.source.qualified

        # The target is merged by DuckDB's own threads while the source server checksums its side.
        target_cursor = db.cursor()
        loading: list[BaseException] = []
        loader = threading.Thread(
            target=_load_target_into, args=(target_cursor, lake, table, position, target_columns, names, loading)
        )
        loader.start()
        try:
            buckets = plan_buckets(raw, source_table, key_forms, forms)
            source = source_sums(raw, source_table, forms, buckets)
        finally:
            loader.join()
            target_cursor.close()
        if loading:
            raise loading[0]
        target = {
            int(b): (int(n), int(s or 0))
            for b, n, s in db.execute(target_sums_sql("target", forms, buckets)).fetchall()
        }
        result.source_rows = sum(n for n, _ in source.values())
        result.target_rows = sum(n for n, _ in target.values())
        chosen = differing(source, target)
        result.buckets, result.differing_buckets = len(source.keys() | target.keys()), len(chosen)
        if chosen:
            _drill_down(db, raw, result, source_table, forms, key, buckets, chosen)
        return result
    finally:
        db.close()
        raw.close()


def _drill_down(
    db: duckdb.DuckDBPyConnection,
    raw: Any,
    result: TableComparison,
    source_table: str,
    forms: list[Form],
    key: list[str],
    buckets: Buckets,
    chosen: list[int],
) -> None:
    """The rows of the differing buckets, source (canonical text from the server) against target."""
    schema = pa.schema([pa.field(f.name, pa.string()) for f in forms])
    reader = pa.RecordBatchReader.from_batches(schema, source_rows(raw, source_table, forms, buckets, chosen))
    db.register("source_stream", reader)
    db.execute("CREATE TABLE source AS SELECT * FROM source_stream")
    db.unregister("source_stream")
    db.execute(f"CREATE TABLE chosen AS SELECT unnest({[int(b) for b in chosen]}::HUGEINT[]) AS _binlake_b")
    texts = ", ".join(f"{f.target} AS {ident(f.name)}" for f in forms)
    db.execute(
        f"CREATE TABLE target_rows AS SELECT {texts} FROM target "
        f"WHERE ({buckets.target}) IN (SELECT _binlake_b FROM chosen)"
    )
    _compare(db, result, forms, key)


def _load_target_into(
    db: duckdb.DuckDBPyConnection,
    lake: Lake,
    table: LakeTable,
    position: BinlogPosition,
    columns: list[str],
    names: list[str],
    errors: list[BaseException],
) -> None:
    try:
        _load_target(db, lake, table, position, columns, names)
    except BaseException as exc:  # handed to the comparing thread
        errors.append(exc)


def _load_target(
    db: duckdb.DuckDBPyConnection,
    lake: Lake,
    table: LakeTable,
    position: BinlogPosition,
    columns: list[str],
    names: list[str],
) -> None:
    data_columns = [c for c in columns if c != "Op"]
    paths = [lake.duckdb_path(info.path) for info in table.load_files]
    cuts = cut_file_rows(lake, table, position)
    paths += [path for path, _ in cuts]
    if not paths:
        # No files: an empty table with the compared columns (typed by the NULLs' comparison with source later).
        selected = ", ".join(f"NULL AS {ident(n)}" for n in names)
        db.execute(f"CREATE TABLE target AS SELECT {selected} LIMIT 0")
        return
    changes = changes_sql(paths, data_columns)
    limits = " UNION ALL ".join(f"SELECT {literal(p.rpartition('/')[2])} AS _file, {n} AS _limit" for p, n in cuts)
    if limits:
        changes = (
            f"SELECT c.* FROM ({changes}) c LEFT JOIN ({limits}) l USING (_file) "
            "WHERE NOT c._is_cdc OR c._row < l._limit"
        )
    wide = wide_decimal_columns(lake.schema(table), names)
    if wide:  # DuckDB would read them as rounded doubles: their exact text instead
        db.register("wide_decimals", wide_decimal_texts(lake, table, wide))
        replaced = ", ".join(f"w.{ident(n)} AS {ident(n)}" for n in wide)
        changes = f"SELECT c.* REPLACE ({replaced}) FROM ({changes}) c LEFT JOIN wide_decimals w USING (_file, _row)"
    key = [k for k in table.key if k in data_columns]
    current = current_sql(f"({changes})", key) if key else multiset_sql(f"({changes})")
    db.execute(f"CREATE TABLE target AS {current}")


def _compare(db: duckdb.DuckDBPyConnection, result: TableComparison, forms: list[Form], key: list[str]) -> None:
    names = [f.name for f in forms]
    by_name = {f.name: f for f in forms}
    selected = ", ".join(ident(n) for n in names)
    if not key:
        # No key: compare as multisets of whole rows.
        diff = (
            f"(SELECT {selected} FROM source EXCEPT ALL SELECT {selected} FROM target_rows) UNION ALL "
            f"(SELECT {selected} FROM target_rows EXCEPT ALL SELECT {selected} FROM source)"
        )
        ((result.differing_keys,),) = db.execute(f"SELECT count(*) FROM ({diff})").fetchall()
        rows = db.execute(f"SELECT * FROM ({diff}) LIMIT {SHOWN_DIFFERENCES}").fetchall()
        result.examples = [{"row": {n: by_name[n].show(v) for n, v in zip(names, r, strict=True)}} for r in rows]
        return
    keys = ", ".join(ident(k) for k in key)
    others = [n for n in names if n not in key]
    picked = ", ".join(
        [f"{ident(k)}" for k in key]
        + [f"s.{ident(n)} AS {ident('s_' + n)}, t.{ident(n)} AS {ident('t_' + n)}" for n in others]
        + ["s._binlake_in", "t._binlake_in"]
    )
    differs = " OR ".join(f"s.{ident(n)} IS DISTINCT FROM t.{ident(n)}" for n in others) or "false"
    order = ", ".join(f"TRY_CAST({ident(k)} AS HUGEINT)" if by_name[k].kind == "integer" else ident(k) for k in key)
    db.execute(
        f"CREATE TEMP TABLE differences AS SELECT {picked} FROM "
        "(SELECT *, true AS _binlake_in FROM source) s FULL OUTER JOIN "
        "(SELECT *, true AS _binlake_in FROM target_rows) t "
        f"USING ({keys}) WHERE s._binlake_in IS NULL OR t._binlake_in IS NULL OR {differs}"
    )
    ((result.differing_keys,),) = db.execute("SELECT count(*) FROM differences").fetchall()
    rows = db.execute(f"SELECT * FROM differences ORDER BY {order} LIMIT {SHOWN_DIFFERENCES}").fetchall()
    for row in rows:
        values = dict(zip([*key, *(f"{side}_{n}" for n in others for side in ("s", "t"))], row, strict=False))
        in_source, in_target = row[-2] is not None, row[-1] is not None
        example: dict[str, Any] = {"key": {k: by_name[k].show(values[k]) for k in key}}
        if not in_target:
            example["problem"] = "missing in target"
        elif not in_source:
            example["problem"] = "not in source"
        else:
            example["problem"] = "values differ"
            example["columns"] = {
                n: {"source": by_name[n].show(values[f"s_{n}"]), "target": by_name[n].show(values[f"t_{n}"])}
                for n in others
                if values[f"s_{n}"] != values[f"t_{n}"]
            }
        result.examples.append(example)


def wait_until(check: Callable[[], bool], deadline_seconds: float) -> bool:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()
