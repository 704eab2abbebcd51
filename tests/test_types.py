"""Every MySQL column type through a full load, read back with pyarrow: the type mapping table of docs/contract.md.

One test per row of the table, parametrized by the MySQL types of that row. Each case loads one column
with the type's extremes, multibyte text or odd bytes, and a NULL; the Arrow type and every value must come
back exactly. Zero dates, and a NULL in every column at once, have their own tests.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import MySQLdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from binlake.state.store import StateStore
from tests.conftest import Binlake
from tests.type_cases import (  # noqa: F401
    ALL_BYTES,
    BINARIES,
    BITS,
    DATES,
    DATETIMES,
    DECIMALS,
    FLOATS,
    INSERT_TIME_ZONE,
    INTEGERS,
    JSON_TEXT,
    MAX_DECIMAL_65_30,
    MULTIBYTE,
    STRINGS,
    TABLE,
    TASK,
    TIMES,
    TIMESTAMPS,
    YEARS,
    Case,
    case,
    f32,
    load_file,
    point_wkb,
    run_full_load,
    short,
    sql_string,
    ts_utc,
)


def load_case(
    admin: MySQLdb.connections.Connection,
    binlake: Binlake,
    bucket: Path,
    database: str,
    type_case: Case,
    session: str | None = None,
) -> pa.Table:
    """Load one column of ``type_case`` (its values, then a NULL) and return the LOAD file read back."""
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.`{TABLE}` (id INT PRIMARY KEY, v {type_case.column})")
    if session:
        cur.execute(session)
    literals = [literal for literal, _ in type_case.values] + ["NULL"]
    rows = ", ".join(f"({i}, {literal})" for i, literal in enumerate(literals))
    cur.execute(f"INSERT INTO `{database}`.`{TABLE}` (id, v) VALUES {rows}")
    run_full_load(binlake, database, len(literals))
    return pq.read_table(load_file(bucket, database))


def check_case(table: pa.Table, type_case: Case) -> None:
    assert table.schema == pa.schema([pa.field("id", pa.int32()), pa.field("v", type_case.arrow)])
    table = table.sort_by("id")
    assert table.column("id").to_pylist() == list(range(len(type_case.values) + 1))
    values = table.column("v").to_pylist()
    expected = [value for _, value in type_case.values] + [None]
    for got, want, (literal, _) in zip(values, expected, [*type_case.values, ("NULL", None)], strict=True):
        literal = short(literal)
        assert type(got) is type(want), f"{literal}: {short(got)} is not a {type(want).__name__}"
        assert got == want, f"{literal}: {short(got)} != {short(want)}"
        if isinstance(want, Decimal):
            # Decimals compare by value; the scale must be the column's too.
            assert got.as_tuple().exponent == -type_case.arrow.scale, f"{literal}: {got!r} has the wrong scale"
        if isinstance(want, datetime):
            assert got.utcoffset() == want.utcoffset(), f"{literal}: {got!r} is in the wrong zone"


@pytest.mark.parametrize("type_case", INTEGERS)
def test_integer_types_keep_their_width_and_sign(admin, binlake, bucket, database, endpoints, type_case):
    check_case(load_case(admin, binlake, bucket, database, type_case), type_case)


@pytest.mark.parametrize("type_case", DECIMALS)
def test_decimal_is_exact_with_the_columns_precision_and_scale(admin, binlake, bucket, database, endpoints, type_case):
    check_case(load_case(admin, binlake, bucket, database, type_case), type_case)


@pytest.mark.parametrize("type_case", FLOATS)
def test_float_and_double_round_trip_bit_for_bit(admin, binlake, bucket, database, endpoints, type_case):
    check_case(load_case(admin, binlake, bucket, database, type_case), type_case)


@pytest.mark.parametrize("type_case", DATES)
def test_date_is_date32(admin, binlake, bucket, database, endpoints, type_case):
    check_case(load_case(admin, binlake, bucket, database, type_case), type_case)


@pytest.mark.parametrize("type_case", DATETIMES)
def test_datetime_is_timestamp_without_zone(admin, binlake, bucket, database, endpoints, type_case):
    check_case(load_case(admin, binlake, bucket, database, type_case), type_case)


@pytest.mark.parametrize("type_case", TIMESTAMPS)
def test_timestamp_is_utc_whatever_the_writers_time_zone(admin, binlake, bucket, database, endpoints, type_case):
    session = f"SET SESSION time_zone = '{INSERT_TIME_ZONE}'"
    check_case(load_case(admin, binlake, bucket, database, type_case, session), type_case)


@pytest.mark.parametrize("type_case", TIMES)
def test_time_is_a_duration_keeping_negative_and_long_values(admin, binlake, bucket, database, endpoints, type_case):
    check_case(load_case(admin, binlake, bucket, database, type_case), type_case)


@pytest.mark.parametrize("type_case", YEARS)
def test_year_is_int16(admin, binlake, bucket, database, endpoints, type_case):
    check_case(load_case(admin, binlake, bucket, database, type_case), type_case)


@pytest.mark.parametrize("type_case", STRINGS)
def test_text_types_are_utf8_strings(admin, binlake, bucket, database, endpoints, type_case):
    check_case(load_case(admin, binlake, bucket, database, type_case), type_case)


@pytest.mark.parametrize("type_case", BINARIES)
def test_binary_types_keep_every_byte(admin, binlake, bucket, database, endpoints, type_case):
    check_case(load_case(admin, binlake, bucket, database, type_case), type_case)


@pytest.mark.parametrize("type_case", BITS)
def test_bit_is_an_unsigned_integer(admin, binlake, bucket, database, endpoints, type_case):
    check_case(load_case(admin, binlake, bucket, database, type_case), type_case)


ALL_CASES: list[Case] = [
    param.values[0]
    for group in (INTEGERS, DECIMALS, FLOATS, DATES, DATETIMES, TIMESTAMPS, TIMES, YEARS, STRINGS, BINARIES, BITS)
    for param in group
]


def test_a_null_in_every_column(admin, binlake, bucket, database, endpoints):
    """One wide table of every type: a row of NULLs, then a row of each type's first value, one row per batch
    (so a batch can hold nothing but NULLs)."""
    columns = ", ".join(f"c{i} {c.column}" for i, c in enumerate(ALL_CASES))
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.`{TABLE}` (id INT PRIMARY KEY, {columns})")
    cur.execute(f"SET SESSION time_zone = '{INSERT_TIME_ZONE}'")
    nulls = ", ".join("NULL" for _ in ALL_CASES)
    firsts = ", ".join(c.values[0][0] for c in ALL_CASES)
    cur.execute(f"INSERT INTO `{database}`.`{TABLE}` VALUES (0, {nulls}), (1, {firsts})")
    run_full_load(binlake, database, 2, {"FullLoadSettings": {"CommitRate": 1}})

    table = pq.read_table(load_file(bucket, database)).sort_by("id")
    expected_schema = [pa.field("id", pa.int32())] + [pa.field(f"c{i}", c.arrow) for i, c in enumerate(ALL_CASES)]
    assert table.schema == pa.schema(expected_schema)
    for i, type_case in enumerate(ALL_CASES):
        null, first = table.column(f"c{i}").to_pylist()
        assert null is None, f"{type_case.column}: {short(null)} is not NULL"
        assert first == type_case.values[0][1], f"{type_case.column}: {short(first)}"


def test_zero_dates_become_null_and_are_counted(admin, binlake, bucket, database, endpoints):
    """DMS writes zero and invalid dates as NULL; binlake does too, and says how many in the statistics,
    the task log and the task's events."""
    cur = admin.cursor()
    cur.execute(
        f"CREATE TABLE `{database}`.`{TABLE}` (id INT PRIMARY KEY, d DATE, dt DATETIME, dt6 DATETIME(6), "
        "ts TIMESTAMP(6) NULL)"
    )
    cur.execute("SET SESSION sql_mode = ''")  # the default sql_mode refuses zero dates
    cur.execute(
        f"INSERT INTO `{database}`.`{TABLE}` VALUES "
        "(1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00'), "
        # zero month or day (allowed without NO_ZERO_IN_DATE); year 0, which no Python datetime can hold
        "(2, '2020-00-15', '2020-05-00 10:00:00', '0000-01-01 00:00:00.5', 0), "
        "(3, '2024-02-29', '2024-02-29 12:00:00', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999'), "
        "(4, NULL, NULL, NULL, NULL)"
    )
    cur.execute("SET SESSION sql_mode = DEFAULT")
    run_full_load(binlake, database, 4)

    table = pq.read_table(load_file(bucket, database))
    assert table.schema == pa.schema(
        [
            pa.field("id", pa.int32()),
            pa.field("d", pa.date32()),
            pa.field("dt", pa.timestamp("us")),
            pa.field("dt6", pa.timestamp("us")),
            pa.field("ts", pa.timestamp("us", tz="UTC")),
        ]
    )
    rows = table.sort_by("id").to_pylist()
    assert rows == [
        {"id": 1, "d": None, "dt": None, "dt6": None, "ts": None},
        {"id": 2, "d": None, "dt": None, "dt6": None, "ts": None},
        {
            "id": 3,
            "d": date(2024, 2, 29),
            "dt": datetime(2024, 2, 29, 12),
            "dt6": datetime(9999, 12, 31, 23, 59, 59, 999999),
            "ts": ts_utc(2038, 1, 19, 3, 14, 7, 999999),
        },
        {"id": 4, "d": None, "dt": None, "dt6": None, "ts": None},
    ]

    zero_dates = 8
    store = StateStore(binlake.state_dir, create=False)
    try:
        [stats] = store.query("SELECT zero_dates FROM table_statistics WHERE task = ?", (TASK,))
        assert stats["zero_dates"] == zero_dates
        events = [row["message"] for row in store.query("SELECT message FROM events WHERE task = ?", (TASK,))]
    finally:
        store.close()
    assert f"{zero_dates} zero dates in {database}.{TABLE} written as NULL" in events
    log = (binlake.state_dir / "tasks" / TASK / "task.log").read_text()
    assert f"Table {database}.{TABLE}: {zero_dates} zero or invalid dates written as NULL" in log
