"""Exact comparison of a source table with its merged target, both as of one binlog position.

The source is read inside a consistent snapshot, whose binlog position P is known (MariaDB's
binlog_snapshot_position). The target is cut at the same P: LOAD files, then each CDC file up to its last
transaction committed at or before P (CDC files carry their commit positions in the Parquet metadata
``binlake.commits``), and merged to its current state in DuckDB. So the answer is exact while the source keeps
changing.

The source side is computed by the source server, not by binlake's decoder: inside the snapshot, MariaDB
hashes every row over a canonical text of each value (``canonical.py``, ``checksum.py``) and sends the key and
the hash; DuckDB computes the same over the lake's current state; the two are joined by key. Only the first
differing rows are read again, as canonical text with a plain cursor, to name their differing columns. A value
the full load decoded wrongly therefore shows up as a difference, with its key and column. A table without a
primary key is compared as a multiset of whole rows (duplicates count).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from binlake.catalog.lake import Lake, LakeTable, list_files
from binlake.catalog.sql import Bookkeeping, bookkeeping, changes_sql, current_sql, ident, literal, multiset_sql
from binlake.errors import BinlakeError
from binlake.position import COMMITS_METADATA, BinlogPosition
from binlake.source.connection import SourceAddress
from binlake.source.plan import TablePlan
from binlake.source.server import Source
from binlake.source.types import Column
from binlake.verify.canonical import Form, form, row_text_duckdb
from binlake.verify.checksum import (
    hash_schema,
    source_hash_filter,
    source_hashes,
    source_key_filter,
    source_rows,
    target_hashes_sql,
)
from binlake.verify.wide_decimals import wide_decimal_columns, wide_decimal_texts

SHOWN_DIFFERENCES = 5


@dataclass
class TableComparison:
    table: str
    position: BinlogPosition | None
    source_rows: int = 0
    target_rows: int = 0
    differing_keys: int = 0
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
    source = Source(address)
    raw = source.connect(raw=True)
    db = duckdb.connect()
    lake.bucket.register_with_duckdb(db)
    try:
        position = source.start_snapshot(raw)
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
        hidden = bookkeeping([*target_columns, *plan.target_names])

        # The target is merged and hashed by DuckDB's own threads while the source server hashes its rows.
        key_only = [f for _, f in key_forms]
        target_cursor = db.cursor()
        loading: list[BaseException] = []
        loader = threading.Thread(
            target=_load_target_into,
            args=(target_cursor, lake, table, position, target_columns, names, key_only, forms, hidden, loading),
        )
        loader.start()
        try:
            hashes = source_hashes(raw, source_table, key_only, forms, hidden.hash)
            schema = hash_schema(key_only, hidden.hash)
            db.register("source_stream", pa.RecordBatchReader.from_batches(schema, hashes))
            db.execute("CREATE TABLE source_hashes AS SELECT * FROM source_stream")
            db.unregister("source_stream")
        finally:
            loader.join()
            target_cursor.close()
        if loading:
            raise loading[0]
        ((result.source_rows,),) = db.execute("SELECT count(*) FROM source_hashes").fetchall()
        ((result.target_rows,),) = db.execute("SELECT count(*) FROM target_hashes").fetchall()
        if key_forms:
            _compare_by_key(db, raw, result, source_table, forms, key_forms, hidden)
        else:
            _compare_multisets(db, raw, result, source_table, forms, hidden)
        return result
    finally:
        db.close()
        raw.close()


def _load_target_into(
    db: duckdb.DuckDBPyConnection,
    lake: Lake,
    table: LakeTable,
    position: BinlogPosition,
    columns: list[str],
    names: list[str],
    key: list[Form],
    forms: list[Form],
    hidden: Bookkeeping,
    errors: list[BaseException],
) -> None:
    try:
        _load_target(db, lake, table, position, columns, names, hidden)
        db.execute(f"CREATE TABLE target_hashes AS {target_hashes_sql('target', key, forms, hidden.hash)}")
    except BaseException as exc:  # handed to the comparing thread
        errors.append(exc)


def _load_target(
    db: duckdb.DuckDBPyConnection,
    lake: Lake,
    table: LakeTable,
    position: BinlogPosition,
    columns: list[str],
    names: list[str],
    hidden: Bookkeeping,
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
    changes = changes_sql(paths, hidden, data_columns)
    file, row = ident(hidden.file), ident(hidden.row)
    limits = " UNION ALL ".join(f"SELECT {literal(p.rpartition('/')[2])} AS {file}, {n} AS _limit" for p, n in cuts)
    if limits:
        changes = (
            f"SELECT c.* FROM ({changes}) c LEFT JOIN ({limits}) l USING ({file}) "
            f"WHERE NOT c.{ident(hidden.is_cdc)} OR c.{row} < l._limit"
        )
    wide = wide_decimal_columns(lake.schema(table), names)
    if wide:  # DuckDB would read them as rounded doubles: their exact text instead
        db.register("wide_decimals", wide_decimal_texts(lake, table, wide, hidden))
        replaced = ", ".join(f"w.{ident(n)} AS {ident(n)}" for n in wide)
        changes = f"SELECT c.* REPLACE ({replaced}) FROM ({changes}) c LEFT JOIN wide_decimals w USING ({file}, {row})"
    key = [k for k in table.key if k in data_columns]
    # The commit-order column differs between a row's insert and its delete: a table without a key must
    # not be grouped by it.
    order = lake.settings.CdcCommitOrderColumnName if lake.settings.CdcCommitOrderColumnName in data_columns else ""
    if key:
        current = current_sql(f"({changes})", key, hidden, order_column=order)
    else:
        current = multiset_sql(f"({changes})", hidden, order)
    db.execute(f"CREATE TABLE target AS {current}")


def _compare_by_key(
    db: duckdb.DuckDBPyConnection,
    raw: Any,
    result: TableComparison,
    source_table: str,
    forms: list[Form],
    key_forms: list[tuple[Column, Form]],
    hidden: Bookkeeping,
) -> None:
    """Rows joined by key; the first differing ones read again from both sides, column by column."""
    key = [f for _, f in key_forms]
    keys = ", ".join(ident(f.name) for f in key)
    h, in_source, in_target = (ident(n) for n in (hidden.hash, hidden.in_source, hidden.in_target))
    db.execute(
        f"CREATE TEMP TABLE differences AS SELECT {keys}, s.{h} AS {in_source}, t.{h} AS {in_target} "
        f"FROM source_hashes s FULL OUTER JOIN target_hashes t USING ({keys}) WHERE s.{h} IS DISTINCT FROM t.{h}"
    )
    ((result.differing_keys,),) = db.execute("SELECT count(*) FROM differences").fetchall()
    order = ", ".join(f"TRY_CAST({ident(f.name)} AS HUGEINT)" if f.kind == "integer" else ident(f.name) for f in key)
    first = db.execute(f"SELECT * FROM differences ORDER BY {order} LIMIT {SHOWN_DIFFERENCES}").fetchall()
    if not first:
        return
    values = [row[: len(key)] for row in first]
    source = {row[: len(key)]: row for row in _source_rows_by_key(raw, source_table, forms, key_forms, values)}
    where = " OR ".join("(" + " AND ".join(f"{f.target} IS NOT DISTINCT FROM ?" for f in key) + ")" for _ in values)
    texts = ", ".join(f.target for f in [*key, *(f for f in forms if f not in key)])
    target = {
        row[: len(key)]: row
        for row in db.execute(
            f"SELECT {texts} FROM target WHERE {where}", [v for row in values for v in row]
        ).fetchall()
    }
    others = [f for f in forms if f not in key]
    for row in first:
        key_values = row[: len(key)]
        example: dict[str, Any] = {"key": {f.name: f.show(v) for f, v in zip(key, key_values, strict=True)}}
        found_in_source, found_in_target = row[len(key)] is not None, row[len(key) + 1] is not None
        if not found_in_target:
            example["problem"] = "missing in target"
        elif not found_in_source:
            example["problem"] = "not in source"
        else:
            example["problem"] = "values differ"
            s_row, t_row = source.get(key_values), target.get(key_values)
            if s_row is not None and t_row is not None:
                example["columns"] = {
                    f.name: {"source": f.show(s), "target": f.show(t)}
                    for f, s, t in zip(others, s_row[len(key) :], t_row[len(key) :], strict=True)
                    if s != t
                }
        result.examples.append(example)


def _source_rows_by_key(
    raw: Any,
    source_table: str,
    forms: list[Form],
    key_forms: list[tuple[Column, Form]],
    values: list[tuple[str | None, ...]],
) -> list[tuple[str | None, ...]]:
    key = [f for _, f in key_forms]
    ordered = [*key, *(f for f in forms if f not in key)]
    return source_rows(raw, source_table, ordered, source_key_filter(key_forms, values))


def _compare_multisets(
    db: duckdb.DuckDBPyConnection,
    raw: Any,
    result: TableComparison,
    source_table: str,
    forms: list[Form],
    hidden: Bookkeeping,
) -> None:
    """No key: the multisets of row hashes; the first differing rows read again from the side that has them."""
    h = ident(hidden.hash)
    diff = (
        f"(SELECT {h}, 'source' AS side FROM (SELECT {h} FROM source_hashes EXCEPT ALL "
        f"SELECT {h} FROM target_hashes)) UNION ALL "
        f"(SELECT {h}, 'target' AS side FROM (SELECT {h} FROM target_hashes EXCEPT ALL "
        f"SELECT {h} FROM source_hashes))"
    )
    db.execute(f"CREATE TEMP TABLE differences AS {diff}")
    ((result.differing_keys,),) = db.execute("SELECT count(*) FROM differences").fetchall()
    first = db.execute(f"SELECT {h}, side FROM differences ORDER BY side, {h} LIMIT {SHOWN_DIFFERENCES}").fetchall()
    wanted = [value for value, _ in first]
    if not wanted:
        return

    def row_hash(row: tuple[str | None, ...]) -> str:
        return hashlib.md5(_row_text(forms, row).encode()).hexdigest()[:16]

    from_source = {
        row_hash(row): row for row in source_rows(raw, source_table, forms, source_hash_filter(forms, wanted))
    }
    texts = ", ".join(f.target for f in forms)
    hashed = f"substr(md5({row_text_duckdb(forms)}), 1, 16)"
    placeholders = ", ".join("?" for _ in wanted)
    from_target = {
        r[-1]: r[:-1]
        for r in db.execute(
            f"SELECT {texts}, {hashed} FROM target WHERE {hashed} IN ({placeholders})", wanted
        ).fetchall()
    }

    for value, side in first:
        row = (from_source if side == "source" else from_target).get(value)
        if row is not None:
            result.examples.append({"row": {f.name: f.show(v) for f, v in zip(forms, row, strict=True)}})


def _row_text(forms: list[Form], row: tuple[str | None, ...]) -> str:
    """The row text ``canonical.row_text_*`` builds in SQL, built here from the canonical texts."""
    cells = []
    for f, value in zip(forms, row, strict=True):
        if value is None:
            cells.append("N")
        elif f.digest:
            cells.append(hashlib.md5(value.encode() if f.is_text else bytes.fromhex(value)).hexdigest())
        elif f.is_text:
            cells.append(f"{len(value.encode())}:{value}")
        else:
            cells.append(value)
    return "|".join(cells)


def wait_until(check: Callable[[], bool], deadline_seconds: float) -> bool:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()
