"""verify's exact compare does not trust binlake's decoder: the source side is hashed by the source server.

Every type of the type matrix (tests/test_types.py) loads and compares equal; one changed cell per type in the
lake file (written with pyarrow) is reported with exactly its key and column; a fault injected into the full
load's decoder, which the load and the old compare shared, is reported too; and differences spread over many
rows, integer and composite keys, are all found.
"""

from __future__ import annotations

import math
import struct
from datetime import date, datetime, timedelta
from decimal import Context, Decimal, localcontext
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from binlake.catalog.lake import open_lake
from binlake.state.store import StateStore
from binlake.verify.checks import Verifier, VerifyOptions
from tests.conftest import Binlake
from tests.type_cases import (
    BINARIES,
    BITS,
    DATES,
    DATETIMES,
    DECIMALS,
    FLOATS,
    INSERT_TIME_ZONE,
    INTEGERS,
    STRINGS,
    TASK,
    TIMES,
    TIMESTAMPS,
    YEARS,
    Case,
    load_file,
    run_full_load,
)

TABLE = "t"
CASES: list[Case] = [
    p.values[0]
    for p in [
        *INTEGERS,
        *DECIMALS,
        *FLOATS,
        *DATES,
        *DATETIMES,
        *TIMESTAMPS,
        *TIMES,
        *YEARS,
        *STRINGS,
        *BINARIES,
        *BITS,
    ]
]
# Zero dates and days past the month's end: NULL in the lake (as DMS), so equal to the source's NULL form.
ZERO_DATES = [
    Case("DATE", pa.date32(), (("'0000-00-00'", None), ("'2024-02-30'", None), ("'2024-02-29'", date(2024, 2, 29)))),
    Case("DATETIME(6)", pa.timestamp("us"), (("'0000-00-00 00:00:00'", None), ("'2023-00-10 10:00:00'", None))),
]


def exact_compare(binlake: Binlake, task: str = TASK) -> dict[str, dict[str, Any]]:
    """verify's criterion 4 (the exact compare) for every table of ``task``: its details by table."""
    store = StateStore(binlake.state_dir)
    verifier = Verifier(store, task, VerifyOptions(catalog=binlake.state_dir / "catalog.duckdb", probe=False))
    return verifier.rows_match(open_lake(store, task)).details


def create_matrix(admin, database: str) -> tuple[list[str], int]:
    """One table with a column per type of the matrix, row i holding each type's i-th value (NULL past its
    last), and a last row of NULLs only. Returns the column names and the row count."""
    cases = [*CASES, *ZERO_DATES]
    names = [f"c{i}" for i in range(len(cases))]
    cur = admin.cursor()
    columns = ", ".join(f"{n} {c.column}" for n, c in zip(names, cases, strict=True))
    cur.execute(f"CREATE TABLE `{database}`.`{TABLE}` (id INT PRIMARY KEY, {columns})")
    cur.execute(f"SET SESSION time_zone = '{INSERT_TIME_ZONE}', sql_mode = 'ALLOW_INVALID_DATES'")
    rows = max(len(c.values) for c in cases) + 1
    for i in range(rows):
        values = [c.values[i][0] if i < len(c.values) else "NULL" for c in cases]
        cur.execute(f"INSERT INTO `{database}`.`{TABLE}` VALUES ({i}, {', '.join(values)})")
    cur.execute("SET SESSION time_zone = DEFAULT, sql_mode = DEFAULT")
    return names, rows


def tweak(value: Any, kind: pa.DataType) -> Any:
    """The smallest change of ``value`` that stays a valid value of ``kind``."""
    if pa.types.is_integer(kind):
        return (
            value - 1
            if value == (2 ** (kind.bit_width - (0 if pa.types.is_unsigned_integer(kind) else 1)) - 1)
            else value + 1
        )
    if pa.types.is_decimal(kind):
        step = Decimal(1).scaleb(-kind.scale)
        with localcontext(Context(prec=100)):  # the default context rounds at 28 digits
            return value - step if value > 0 else value + step
    if pa.types.is_float32(kind):
        bits = struct.unpack("<i", struct.pack("<f", value))[0]
        return struct.unpack("<f", struct.pack("<i", bits - 1 if bits > 0 else bits + 1))[0]
    if pa.types.is_floating(kind):
        return math.nextafter(value, 0.0) if value != 0 else 5e-324
    if pa.types.is_date(kind):
        return value - timedelta(days=1)
    if isinstance(value, (datetime, timedelta)):
        return value - timedelta(microseconds=1)
    if isinstance(value, str):
        return value[:-1] + chr(ord(value[-1]) ^ 1) if value else "x"
    if isinstance(value, bytes):
        return value[:-1] + bytes([value[-1] ^ 1]) if value else b"\x00"
    raise AssertionError(kind)


def rewrite_cell(path: Path, column: str, row_id: int, change: Any = None) -> tuple[Any, Any]:
    """Change one cell of a LOAD file with pyarrow (the row whose id is ``row_id``): (old value, new value)."""
    table = pq.read_table(path)
    ids = table.column("id").to_pylist()
    index = ids.index(row_id)
    values = table.column(column).to_pylist()
    kind = table.schema.field(column).type
    old = values[index]
    values[index] = change if change is not None else tweak(old, kind)
    new = values[index]
    table = table.set_column(table.schema.get_field_index(column), table.schema.field(column), pa.array(values, kind))
    pq.write_table(table, path)
    return old, new


def test_every_type_compares_equal_and_one_changed_cell_is_found(
    binlake: Binlake, admin, database: str, endpoints, bucket: Path
) -> None:
    names, rows = create_matrix(admin, database)
    run_full_load(binlake, database, rows)
    label = f"{database}.{TABLE}"
    equal = exact_compare(binlake)[label]
    assert (equal["DifferingKeys"], equal["SourceRows"], equal["TargetRows"]) == (0, rows, rows), equal["Examples"]
    path = load_file(bucket, database)
    original = path.read_bytes()
    lake = pq.read_table(path)
    wrong: list[str] = []
    for name, case in zip(names, [*CASES, *ZERO_DATES], strict=True):
        values = lake.column(name).to_pylist()
        row_id = next((lake.column("id")[i].as_py() for i, v in enumerate(values) if v is not None), None)
        if row_id is None:
            continue
        old, new = rewrite_cell(path, name, row_id)
        try:
            found = exact_compare(binlake)[label]
        finally:
            path.write_bytes(original)
        example = found["Examples"][0] if found["Examples"] else {}
        if (found["DifferingKeys"], example.get("key"), set(example.get("columns", {}))) != (1, {"id": row_id}, {name}):
            wrong.append(f"{case.column}: {str(old)[:40]} -> {str(new)[:40]}: {str(found)[:300]}")
    assert wrong == []
    # The empty string, 'N' (NULL's form) and NULL are three values.
    empty = next(n for n, c in zip(names, CASES, strict=False) if c.column == "VARCHAR(255)")
    empty_row = lake.column("id")[lake.column(empty).to_pylist().index("")].as_py()
    rewrite_cell(path, empty, empty_row, change="N")
    rewrite_cell(path, empty, rows - 1, change="")
    found = exact_compare(binlake)[label]
    assert found["DifferingKeys"] == 2, found
    assert [(e["key"], e["columns"]) for e in found["Examples"]] == [
        ({"id": empty_row}, {empty: {"source": "", "target": "N"}}),
        ({"id": rows - 1}, {empty: {"source": None, "target": ""}}),
    ]


def test_a_fault_in_the_full_load_decoder_is_found(
    binlake: Binlake, admin, database: str, endpoints, bucket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full load's decoder writes one wrong TIME (one microsecond off) and one wrong DECIMAL; the old
    compare decoded the source with the same code and saw nothing. Both are reported, key and column."""
    from binlake.capture import snapshot
    from binlake.source import types

    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.`{TABLE}` (id INT PRIMARY KEY, span TIME(6), price DECIMAL(10,2))")
    cur.execute(
        f"INSERT INTO `{database}`.`{TABLE}` VALUES (1, '10:00:00', 1.50), (2, '-01:00:00.5', 2.25), (3, NULL, 3)"
    )
    real_parse_time, real_decode = types.parse_time, snapshot.decode_text_column

    def parse_time(value: bytes | str) -> int:
        micros = real_parse_time(value)
        return micros + 1 if micros < 0 else micros

    def decode(values, column, counters):
        if column.name == "price":
            values = [b"3.01" if v == b"3.00" else v for v in values]
        return real_decode(values, column, counters)

    monkeypatch.setenv("BINLAKE_PURE_PYTHON", "1")  # the fault is in the pure-Python decoder
    monkeypatch.setattr(types, "parse_time", parse_time)
    monkeypatch.setattr(snapshot, "decode_text_column", decode)
    run_full_load(binlake, database, 3)
    found = exact_compare(binlake)[f"{database}.{TABLE}"]
    assert found["DifferingKeys"] == 2
    assert found["Examples"] == [
        {
            "key": {"id": 2},
            "problem": "values differ",
            "columns": {"span": {"source": -3600500000, "target": -3600499999}},
        },
        {"key": {"id": 3}, "problem": "values differ", "columns": {"price": {"source": "3.00", "target": "3.01"}}},
    ]


@pytest.mark.parametrize("key", ["id BIGINT", "a VARCHAR(10), b INT"])
def test_differences_spread_over_the_table_are_all_found(
    binlake: Binlake, admin, database: str, endpoints, bucket: Path, key: str
) -> None:
    """5,000 rows (an integer key; a composite key); changed, missing and extra rows all over the table are
    each found, and nothing else."""
    composite = "," in key
    cur = admin.cursor()
    columns = "a VARCHAR(10), b INT" if composite else "id BIGINT"
    primary = "a, b" if composite else "id"
    cur.execute(f"CREATE TABLE `{database}`.`{TABLE}` ({columns}, v VARCHAR(20), n DOUBLE, PRIMARY KEY ({primary}))")
    keys = [(f"k{i % 7}", i) if composite else (i * 3 - 7000,) for i in range(5000)]
    values = ", ".join(
        f"({', '.join(repr(k) for k in key_values)}, 'v{i}', {i / 7})" for i, key_values in enumerate(keys)
    )
    cur.execute(f"INSERT INTO `{database}`.`{TABLE}` VALUES {values}")
    run_full_load(binlake, database, 5000)
    label = f"{database}.{TABLE}"
    assert exact_compare(binlake)[label]["DifferingKeys"] == 0
    path = load_file(bucket, database)
    lake = pq.read_table(path)
    key_names = ["a", "b"] if composite else ["id"]
    rows = lake.to_pylist()
    changed = [rows[i] for i in (5, 1200, 2500, 4999)]
    for row in changed:
        row["v"] = row["v"] + "!"
    rows[3000]["n"] = math.nextafter(rows[3000]["n"], 1.0)
    missing = rows.pop(4000)
    extra = dict(rows[0], **({"b": 99999} if composite else {"id": 99999}))
    rows.append(extra)
    pq.write_table(pa.Table.from_pylist(rows, lake.schema), path)
    found = exact_compare(binlake)[label]
    assert found["DifferingKeys"] == 7, found
    assert (found["SourceRows"], found["TargetRows"]) == (5000, 5000)
    assert found["Examples"]  # the first five in key order
    problems = {tuple(e["key"][k] for k in key_names): e["problem"] for e in found["Examples"]}
    assert len(problems) == 5 and set(problems.values()) <= {"values differ", "missing in target", "not in source"}
    if not composite:  # integer keys sort as numbers: the first five are known
        assert list(problems) == [(rows[5]["id"],), (changed[1]["id"],), (changed[2]["id"],), (rows[3000]["id"],),
                                  (missing["id"],)]  # fmt: skip
