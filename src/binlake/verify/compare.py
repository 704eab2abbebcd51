"""Exact comparison of a source table with its merged target, both as of one binlog position.

The source is read inside a consistent snapshot, whose binlog position P is known (MariaDB's
binlog_snapshot_position). The target is cut at the same P: LOAD files, then each CDC file up to its last
transaction committed at or before P (CDC files carry their commit positions in the Parquet metadata
``binlake.commits``). Both sides are decoded to the same Arrow types by the same code as the full load, loaded
into DuckDB, and compared by key with a hash of every compared column; the first differing keys are then
compared column by column. So the answer is exact while the source keeps changing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from binlake.capture.snapshot import read_batches, start_consistent_snapshot
from binlake.catalog.lake import Lake, LakeTable, list_files
from binlake.catalog.sql import changes_sql, current_sql, ident, literal, multiset_sql
from binlake.changes import COMMITS_METADATA
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress, connect
from binlake.source.plan import TablePlan
from binlake.source.types import DecodeCounters

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


def _normalise(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Durations as int64 microseconds: Parquet stores them so, and DuckDB then reads both sides alike."""
    arrays = [c.cast(pa.int64()) if pa.types.is_duration(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def compare_table(
    lake: Lake,
    table: LakeTable,
    plan: TablePlan,
    address: SourceAddress,
    wait_for_checkpoint: Callable[[BinlogPosition], None],
    batch_rows: int = 50_000,
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
        columns = [c for c, n in zip(plan.columns, plan.target_names, strict=True) if n in target_columns]
        arrow = plan.arrow_schema()
        source_schema = pa.schema(
            [
                pa.field(n, pa.int64() if pa.types.is_duration(arrow.field(n).type) else arrow.field(n).type)
                for n in names
            ]
        )

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in read_batches(raw, plan.source, columns, batch_rows, DecodeCounters()):
                yield _normalise(pa.RecordBatch.from_arrays(batch.columns, names=names))

        # The target is merged by DuckDB's own threads while this one decodes the source.
        target_cursor = db.cursor()
        loading: list[BaseException] = []
        loader = threading.Thread(
            target=_load_target_into, args=(target_cursor, lake, table, position, target_columns, names, loading)
        )
        loader.start()
        try:
            db.register("source_stream", pa.RecordBatchReader.from_batches(source_schema, batches()))
            db.execute("CREATE TABLE source AS SELECT * FROM source_stream")
            db.unregister("source_stream")
        finally:
            loader.join()
            target_cursor.close()
        if loading:
            raise loading[0]
        key = [k for k in table.key if k in names]
        _compare(db, result, names, key)
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
    key = [k for k in table.key if k in data_columns]
    current = current_sql(f"({changes})", key) if key else multiset_sql(f"({changes})")
    db.execute(f"CREATE TABLE target AS {current}")


def _compare(db: duckdb.DuckDBPyConnection, result: TableComparison, names: list[str], key: list[str]) -> None:
    ((result.source_rows,),) = db.execute("SELECT count(*) FROM source").fetchall()
    ((result.target_rows,),) = db.execute("SELECT count(*) FROM target").fetchall()
    selected = ", ".join(ident(n) for n in names)
    if not key:
        # No key: compare as multisets of whole rows.
        diff = (
            f"(SELECT {selected} FROM source EXCEPT ALL SELECT {selected} FROM target) UNION ALL "
            f"(SELECT {selected} FROM target EXCEPT ALL SELECT {selected} FROM source)"
        )
        ((result.differing_keys,),) = db.execute(f"SELECT count(*) FROM ({diff})").fetchall()
        rows = db.execute(f"SELECT * FROM ({diff}) LIMIT {SHOWN_DIFFERENCES}").fetchall()
        result.examples = [{"row": dict(zip(names, r, strict=True))} for r in rows]
        return
    keys = ", ".join(ident(k) for k in key)
    hashed = f"hash(struct_pack({', '.join(f'{ident(n)} := {ident(n)}' for n in names)}))"
    diff = (
        f"SELECT {keys}, s._h AS _source_hash, t._h AS _target_hash FROM "
        f"(SELECT {keys}, {hashed} AS _h FROM source) s FULL OUTER JOIN "
        f"(SELECT {keys}, {hashed} AS _h FROM target) t USING ({keys}) "
        "WHERE s._h IS DISTINCT FROM t._h"
    )
    db.execute(f"CREATE TEMP TABLE differences AS {diff}")
    ((result.differing_keys,),) = db.execute("SELECT count(*) FROM differences").fetchall()
    for row in db.execute(f"SELECT * FROM differences ORDER BY {keys} LIMIT {SHOWN_DIFFERENCES}").fetchall():
        key_values = dict(zip(key, row[: len(key)], strict=True))
        in_source, in_target = row[len(key)] is not None, row[len(key) + 1] is not None
        example: dict[str, Any] = {"key": key_values}
        if not in_target:
            example["problem"] = "missing in target"
        elif not in_source:
            example["problem"] = "not in source"
        else:
            where = " AND ".join(f"{ident(k)} IS NOT DISTINCT FROM ?" for k in key)
            source_row = db.execute(
                f"SELECT {selected} FROM source WHERE {where}", list(key_values.values())
            ).fetchone()
            target_row = db.execute(
                f"SELECT {selected} FROM target WHERE {where}", list(key_values.values())
            ).fetchone()
            example["problem"] = "values differ"
            example["columns"] = {
                name: {"source": _show(s), "target": _show(t)}
                for name, s, t in zip(names, source_row or (), target_row or (), strict=True)
                if s != t
            }
        result.examples.append(example)


def _show(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return str(value)


def wait_until(check: Callable[[], bool], deadline_seconds: float) -> bool:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()
