"""The compiled CDC decoder (binlake.native._rows) against the pure-Python one, its oracle: the same rows events,
through both paths' pending changes (changes.TableChanges and ArrowTableChanges), must give identical Arrow record
batches (values, types, nulls, Op, commit times, commit metadata), under every CDC filter setting.

Events come from the sandbox: a type matrix (tables of random columns of every type the compiled decoder reads,
with extremes, NULLs, zero and invalid dates, primary-key changes) and the oracle harness's random schemas and
transactional workloads, whose tables the compiled decoder partly leaves to Python (other character sets,
COMPRESSED, UUID/INET, DECIMAL above 38 digits, old temporal formats); both are checked.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

from binlake import changes, native
from binlake.capture.binlog.builder import arrow_rows
from binlake.capture.binlog.reader import RowChanges
from binlake.capture.binlog.rows import RowDecoder
from binlake.changes import ArrowTableChanges, Route, TableChanges
from binlake.errors import BinlakeError
from binlake.sandbox import SandboxInfo
from tests.oracle.columns import Column, random_column
from tests.oracle.source import binlog_position, connect, read_binlake
from tests.oracle.workload import Options, Table, Workload

# (CdcInsertsOnly, CdcInsertsAndUpdates): the three ways the CDC loop filters changes
FILTERS = [(False, False), (True, False), (False, True)]


def compiled_kind(column: Column) -> bool:
    """Whether the compiled decoder reads the column (else its table's layouts stay on the Python decoder)."""
    if column.compressed or column.kind in ("uuid", "inet4", "inet6"):
        return False
    if column.kind == "decimal" and column.precision > 38:
        return False
    if column.kind == "text":
        return column.charset in ("utf8mb3", "utf8mb4")
    return True


def type_matrix_columns(rng: random.Random, count: int) -> list[Column]:
    columns: list[Column] = []
    while len(columns) < count:
        column = random_column(rng, f"c{len(columns)}")
        if compiled_kind(column):
            columns.append(column)
    return columns


def routes(decoder: RowDecoder) -> Iterator[Route]:
    """Every column kept, and every other column removed (the key always kept, as a rule can leave it)."""
    table_map = decoder.table_map
    count = table_map.column_count
    for keep in (tuple(range(count)), tuple(i for i in range(count) if i % 2 == 0 or i in table_map.primary_key)):
        yield Route(
            table_map.schema,
            table_map.table,
            table_map.schema,
            table_map.table,
            keep,
            tuple(table_map.column_names[i] for i in keep),
            tuple(decoder.specs[i] for i in keep),
            tuple(table_map.primary_key),
        )


def compare(changes: list[RowChanges]) -> tuple[int, int, int]:
    """Feeds the events of each layout through both paths, cutting a batch every few events; returns (layouts
    compared, layouts left to Python, rows compared). Fails on the first difference."""
    by_layout: dict[int, list[RowChanges]] = {}
    for change in changes:
        by_layout.setdefault(id(change.decoder), []).append(change)
    compared = python_only = rows = 0
    for events in by_layout.values():
        decoder = events[0].decoder
        if arrow_rows(decoder, (), ()) is None:
            python_only += 1
            continue
        compared += 1
        for route in routes(decoder):
            for inserts_only, no_deletes in FILTERS:
                rows += _compare_layout(route, decoder, events, inserts_only, no_deletes)
    return compared, python_only, rows


def _compare_layout(
    route: Route, decoder: RowDecoder, events: list[RowChanges], inserts_only: bool, no_deletes: bool
) -> int:
    builder = arrow_rows(decoder, route.keep, route.primary_key)
    assert builder is not None
    ours, theirs = ArrowTableChanges(route, builder), TableChanges(route)
    rows = 0
    for start in range(0, len(events), 7):  # batches of 7 events: finish() must leave a builder ready to reuse
        for number, change in enumerate(events[start : start + 7]):
            decoder.take_zero_dates()
            timestamp = 1_700_000_000 + start + number
            images = theirs.add_changes(change, timestamp, inserts_only, no_deletes)
            python_zero_dates = decoder.take_zero_dates()
            assert ours.add_changes(change, timestamp, inserts_only, no_deletes) == images
            compiled_zero_dates = decoder.take_zero_dates()
            assert compiled_zero_dates == python_zero_dates, f"zero dates counted differently at {change.position}"
            ours.end_transaction(change.position)
            theirs.end_transaction(change.position)
        assert len(ours) == len(theirs)
        rows += len(theirs)
        if not len(theirs):  # everything filtered out: nothing is written (cdc.py skips the table)
            ours.builder.finish()
            continue
        for kind in ("string", "timestamp"):
            if kind == "timestamp":  # the second format reads the same batch again: build it again
                ours, theirs = _refill(route, decoder, events[start : start + 7], inserts_only, no_deletes)
            expected = theirs.record_batch(True, "ts", kind)
            actual = ours.record_batch(True, "ts", kind)
            _assert_same(
                expected, actual, f"{route.label} events {start}..{start + 6} ({inserts_only=}, {no_deletes=})"
            )
        ours, theirs = ArrowTableChanges(route, builder), TableChanges(route)
    return rows


def _refill(
    route: Route, decoder: RowDecoder, events: list[RowChanges], inserts_only: bool, no_deletes: bool
) -> tuple[ArrowTableChanges, TableChanges]:
    builder = arrow_rows(decoder, route.keep, route.primary_key)
    assert builder is not None
    ours, theirs = ArrowTableChanges(route, builder), TableChanges(route)
    for number, change in enumerate(events):
        for pending in (ours, theirs):
            pending.add_changes(change, 1_700_000_000 + number, inserts_only, no_deletes)
            pending.end_transaction(change.position)
    return ours, theirs


def _assert_same(expected: pa.RecordBatch, actual: pa.RecordBatch, where: str) -> None:
    assert actual.schema == expected.schema, where
    assert actual.schema.metadata == expected.schema.metadata, where
    actual.validate(full=True)
    for name, a, b in zip(expected.schema.names, actual.columns, expected.columns, strict=True):
        if not a.equals(b):
            diff = [(i, x, y) for i, (x, y) in enumerate(zip(a.to_pylist(), b.to_pylist(), strict=True)) if x != y]
            pytest.fail(f"{where}: column {name} differs, first (row, compiled, python): {diff[:3]}")


@pytest.fixture(autouse=True)
def _compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    assert native.extension("_rows") is not None, "binlake.native._rows is not built: run bash scripts/install.sh"
    # The Python path seals its tuples into Arrow every few rows here (every 4,096 in a task), so the comparison
    # covers rows sealed in several parts, and rows still held as tuples at the flush.
    monkeypatch.setattr(changes, "SEAL_ROWS", 5)


def _changes(info: SandboxInfo, start: Any, schemas: set[str]) -> list[RowChanges]:
    return [item for item in read_binlake(info, start, schemas) if isinstance(item, RowChanges)]


@pytest.mark.parametrize("seed", [1, 2])
def test_compiled_decoder_matches_python_over_the_type_matrix(sandbox_info: SandboxInfo, seed: int) -> None:
    conn = connect(sandbox_info)
    schema = f"native_{seed}_{int(time.time() * 1000) % 100_000_000}"
    rng = random.Random(seed)
    workload = Workload(conn, seed, schema, Options(tables=0, old_temporal_tables=0, wide_table=False, alter=0))
    try:
        workload.create_schema()
        for number in range(4):
            columns = [Column("id", "int", "BIGINT", nullable=False, bits=64), *type_matrix_columns(rng, 14)]
            table = Table(schema, f"m{number}", "InnoDB", columns)
            ddl = ", ".join(c.definition() for c in columns)
            conn.cursor().execute(f"CREATE TABLE {table.qualified} ({ddl}, PRIMARY KEY (id)) ENGINE=InnoDB")
            workload.tables.append(table)
        start = binlog_position(conn)
        workload.run(150)
        changes = _changes(sandbox_info, start, {schema})
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{schema}`")
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{workload.old_schema}`")
        conn.close()
    compared, python_only, rows = compare(changes)
    assert python_only == 0  # every type of the matrix is read by the compiled decoder
    assert compared >= 4 and rows > 500
    kinds = {change.kind for change in changes}
    assert kinds == {"I", "U", "D"}


@pytest.mark.parametrize("seed", [31, 32])
def test_compiled_decoder_matches_python_over_random_workloads(sandbox_info: SandboxInfo, seed: int) -> None:
    conn = connect(sandbox_info)
    schema = f"native_w{seed}_{int(time.time() * 1000) % 100_000_000}"
    workload = Workload(conn, seed, schema, Options(tables=6))
    try:
        workload.create_schema()
        start = binlog_position(conn)
        workload.run(200)
        changes = _changes(sandbox_info, start, {schema, workload.old_schema})
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{schema}`")
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{workload.old_schema}`")
        conn.close()
    compared, python_only, rows = compare(changes)
    assert compared >= 1 and python_only >= 1  # both kinds of layout occur in a random schema
    assert rows > 100


def test_rows_that_do_not_fit_their_table_map_stop_with_the_table_and_position(sandbox_info: SandboxInfo) -> None:
    conn = connect(sandbox_info)
    schema = f"native_bad_{int(time.time() * 1000) % 100_000_000}"
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE DATABASE `{schema}`")
        cur.execute(f"CREATE TABLE `{schema}`.t (id INT PRIMARY KEY, name VARCHAR(20), d DATE)")
        start = binlog_position(conn)
        cur.execute(f"INSERT INTO `{schema}`.t VALUES (1, 'one', '2024-01-02'), (2, NULL, NULL)")
        changes = _changes(sandbox_info, start, {schema})
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{schema}`")
        conn.close()
    (change,) = changes
    for cut in (1, 3, len(change.data) - 1):  # a row image cut short, anywhere
        broken = RowChanges(change.decoder, change.kind, change.data[:cut], change.position)
        route = next(routes(change.decoder))
        builder = arrow_rows(change.decoder, route.keep, route.primary_key)
        assert builder is not None
        pending = ArrowTableChanges(route, builder)
        with pytest.raises(BinlakeError) as compiled:
            pending.add_changes(broken, 0, False, False)
        assert f"{schema}.t at binlog position {change.position}" in str(compiled.value)
        assert len(pending) == 0  # nothing of the broken event is held
        with pytest.raises(BinlakeError) as python:
            TableChanges(route).add_changes(broken, 0, False, False)
        assert f"{schema}.t" in str(python.value) and f"binlog position {change.position}" in str(python.value)


def test_a_traceback_through_the_generated_decoder_shows_its_lines(sandbox_info: SandboxInfo) -> None:
    """The generated Python decoder keeps its source (linecache): a failure inside it shows the generated line."""
    conn = connect(sandbox_info)
    schema = f"native_tb_{int(time.time() * 1000) % 100_000_000}"
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE DATABASE `{schema}`")
        cur.execute(f"CREATE TABLE `{schema}`.t (id INT PRIMARY KEY, amount BIGINT)")
        start = binlog_position(conn)
        cur.execute(f"INSERT INTO `{schema}`.t VALUES (1, 2)")
        (change,) = _changes(sandbox_info, start, {schema})
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{schema}`")
        conn.close()
    decoder = change.decoder
    assert f"<binlog decoder {schema}.t #" in decoder.filename
    with pytest.raises(Exception) as failure:
        decoder.decode_image(change.data[:3], 0)  # the null bitmap, then 2 of the id's 4 bytes
    text = "".join(traceback.format_exception(failure.value))
    assert f'File "{decoder.filename}", line ' in text
    assert "v = s0.unpack_from(b, p)[0]" in text  # the generated line itself, not just its number
