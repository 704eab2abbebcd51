"""Every column type of the full-load type matrix through CDC: the CDC files carry the LOAD files' types and
the exact values (docs/contract.md: "LOAD and CDC files of one table carry the same types for the same columns").

One task runs for the whole module (a task per type would take minutes): one table per group of the matrix
(tests/test_types.py's INTEGERS, DECIMALS, ...), one column per case. Each table holds, before the task starts,
one row per value of the longest case (a case's k-th value in row k, NULL past its last value) and a row of
NULLs, which the full load writes. While the task is in CDC the same rows are inserted again under new ids, one
row is updated (every column to its case's last value) and one deleted. Then each group's test checks the CDC
files against the LOAD file and the expected values.

Besides the matrix, EDGES holds cases only the binlog decoder can get wrong (fractional precisions 1-5, negative
TIME fractions, DECIMAL digit groups, CHAR lengths past 255 bytes, BINARY padding, ENUM/SET widths and character
sets, latin1 bytes outside cp1252, other character sets), and ZERO_DATES zero and invalid dates, which become
NULL through CDC as in the load.
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from binlake.capture.binlog.rows import inet6_text
from binlake.sandbox import Sandbox, SandboxInfo
from tests.conftest import Binlake, Result, mappings
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
    TIMES,
    TIMESTAMPS,
    YEARS,
    Case,
    case,
    short,
    ts_utc,
)

TASK = "cdc-types"
CDC_FILE = re.compile(r"^\d{8}-\d{9}\.parquet$")
CDC_ID_OFFSET = 1000  # CDC inserts the pre-loaded rows again with ids shifted by this
UPDATED_ID = CDC_ID_OFFSET  # a CDC-inserted row, updated to every case's last value
DELETED_ID = 0  # a row of the full load, deleted during CDC
WAIT_SECONDS = 20.0

ENUM_300 = ", ".join(f"'v{i}'" for i in range(300))
SET_64 = ", ".join(f"'m{i}'" for i in range(64))

# Cases only the binlog decoder can get wrong; the full load must agree with them too.
EDGES = [
    case(
        "DATETIME(1)",
        pa.timestamp("us"),
        ("'2024-02-29 12:34:56.1'", datetime(2024, 2, 29, 12, 34, 56, 100000)),
        ("'9999-12-31 23:59:59.9'", datetime(9999, 12, 31, 23, 59, 59, 900000)),
    ),
    case("DATETIME(2)", pa.timestamp("us"), ("'2024-02-29 12:34:56.99'", datetime(2024, 2, 29, 12, 34, 56, 990000))),
    case("DATETIME(4)", pa.timestamp("us"), ("'2024-02-29 12:34:56.1234'", datetime(2024, 2, 29, 12, 34, 56, 123400))),
    case("DATETIME(5)", pa.timestamp("us"), ("'2024-02-29 12:34:56.12345'", datetime(2024, 2, 29, 12, 34, 56, 123450))),
    case(
        "TIMESTAMP(1) NULL",
        pa.timestamp("us", tz="UTC"),
        ("'2024-07-01 05:30:00.1'", ts_utc(2024, 7, 1, 0, 0, 0, 100000)),
    ),
    case(
        "TIMESTAMP(2) NULL",
        pa.timestamp("us", tz="UTC"),
        ("'2024-07-01 05:30:00.01'", ts_utc(2024, 7, 1, 0, 0, 0, 10000)),
    ),
    case(
        "TIMESTAMP(3) NULL",
        pa.timestamp("us", tz="UTC"),
        ("'2024-07-01 05:30:00.999'", ts_utc(2024, 7, 1, 0, 0, 0, 999000)),
    ),
    case(
        "TIMESTAMP(4) NULL",
        pa.timestamp("us", tz="UTC"),
        ("'2024-07-01 05:30:00.0001'", ts_utc(2024, 7, 1, 0, 0, 0, 100)),
    ),
    case(
        "TIMESTAMP(5) NULL",
        pa.timestamp("us", tz="UTC"),
        ("'2024-07-01 05:30:00.12345'", ts_utc(2024, 7, 1, 0, 0, 0, 123450)),
    ),
    case(
        "TIME(1)",
        pa.duration("us"),
        ("'-00:00:00.1'", timedelta(microseconds=-100000)),
        ("'-838:59:58.9'", -timedelta(hours=838, minutes=59, seconds=58, microseconds=900000)),
        ("'12:00:00.5'", timedelta(hours=12, microseconds=500000)),
    ),
    case(
        "TIME(2)",
        pa.duration("us"),
        ("'-00:00:00.01'", timedelta(microseconds=-10000)),
        ("'-01:00:00.99'", -timedelta(hours=1, microseconds=990000)),
        ("'-01:00:00'", -timedelta(hours=1)),
    ),
    case(
        "TIME(3)",
        pa.duration("us"),
        ("'-00:00:00.001'", timedelta(microseconds=-1000)),
        ("'-12:34:56.789'", -timedelta(hours=12, minutes=34, seconds=56, microseconds=789000)),
    ),
    case(
        "TIME(4)",
        pa.duration("us"),
        ("'-00:00:00.0001'", timedelta(microseconds=-100)),
        ("'-01:02:03.4567'", -timedelta(hours=1, minutes=2, seconds=3, microseconds=456700)),
        ("'-01:02:03'", -timedelta(hours=1, minutes=2, seconds=3)),
    ),
    case(
        "TIME(5)",
        pa.duration("us"),
        ("'-00:00:00.00001'", timedelta(microseconds=-10)),
        ("'-01:02:03.45678'", -timedelta(hours=1, minutes=2, seconds=3, microseconds=456780)),
    ),
    case(
        "TIME(6)",
        pa.duration("us"),
        ("'-00:00:01.000001'", -timedelta(seconds=1, microseconds=1)),
        ("'-12:34:56.789012'", -timedelta(hours=12, minutes=34, seconds=56, microseconds=789012)),
    ),
    case(
        "DECIMAL(20,0)",
        pa.decimal128(20, 0),
        ("-1", Decimal("-1")),
        ("-1000000000", Decimal("-1000000000")),
        ("99999999999999999999", Decimal("99999999999999999999")),
        ("-10000000000000000000", Decimal("-10000000000000000000")),
    ),
    case(
        "DECIMAL(30,10)",
        pa.decimal128(30, 10),
        ("-0.0000000001", Decimal("-0.0000000001")),
        ("-1000000000.000000001", Decimal("-1000000000.0000000010")),
        ("123.45", Decimal("123.4500000000")),
        ("-99999999999999999999.9999999999", Decimal("-99999999999999999999.9999999999")),
    ),
    case(
        "DECIMAL(18,9)",
        pa.decimal128(18, 9),
        ("-0.000000001", Decimal("-0.000000001")),
        ("-999999999.999999999", Decimal("-999999999.999999999")),
        ("0", Decimal("0E-9")),
    ),
    case("DECIMAL(1,0)", pa.decimal128(1, 0), ("-9", Decimal("-9")), ("0", Decimal("0")), ("9", Decimal("9"))),
    case(
        "DECIMAL(65,0)",
        pa.decimal256(65, 0),
        ("-" + "9" * 65, Decimal("-" + "9" * 65)),
        ("-1" + "0" * 64, Decimal("-1" + "0" * 64)),
    ),
    case("DECIMAL(10,4) UNSIGNED", pa.decimal128(10, 4), ("999999.9999", Decimal("999999.9999"))),
    case("FLOAT UNSIGNED", pa.float32(), ("0.5", 0.5)),
    case("DOUBLE UNSIGNED", pa.float64(), ("1e308", 1e308)),
    case("TINYINT(1)", pa.int8(), ("-1", -1), ("1", 1)),
    case(
        "CHAR(255)",
        pa.string(),
        ("REPEAT('😀', 255)", "😀" * 255),
        ("'  lead'", "  lead"),
        ("'trail  '", "trail"),
        ("'x'", "x"),
    ),
    case("CHAR(5) CHARACTER SET latin1", pa.string(), ("'ab  '", "ab"), ("'€'", "€"), ("'ÿ'", "ÿ")),
    # Bytes that Windows-1252 leaves undefined: MySQL's latin1 maps them to the C1 controls.
    case("VARCHAR(10) CHARACTER SET latin1", pa.string(), ("X'80818D8F909D'", "€\x81\x8d\x8f\x90\x9d")),
    case("CHAR(3) CHARACTER SET ascii", pa.string(), ("'abc'", "abc")),
    case(
        "BINARY(4)",
        pa.binary(),
        ("X'00000000'", b"\x00" * 4),
        ("X'0000FF'", b"\x00\x00\xff\x00"),
        ("''", b"\x00" * 4),
        ("X'20'", b"\x20\x00\x00\x00"),
    ),
    case("BINARY(255)", pa.binary(), ("X'FF'", b"\xff" + b"\x00" * 254), (f"X'{'AB' * 255}'", b"\xab" * 255)),
    case("VARBINARY(10)", pa.binary(), ("X'FF0000'", b"\xff\x00\x00"), ("X'2020'", b"  ")),
    case("BIT(10)", pa.uint64(), ("b'1111111111'", 1023), ("b'1000000000'", 512)),
    case("BIT(63)", pa.uint64(), ("b'" + "1" * 63 + "'", 2**63 - 1)),
    case(
        "SET('a','b','c','d','e','f','g','h','東京')",
        pa.string(),
        ("'a,東京'", "a,東京"),
        ("'h'", "h"),
        ("'a,b,c,d,e,f,g,h,東京'", "a,b,c,d,e,f,g,h,東京"),
    ),
    case(f"ENUM({ENUM_300})", pa.string(), ("'v299'", "v299"), ("'v0'", "v0")),
    case("ENUM('x','é','€') CHARACTER SET latin1", pa.string(), ("'é'", "é"), ("'€'", "€"), ("'x'", "x")),
    case("SET('x','é','€') CHARACTER SET latin1", pa.string(), ("'é,€'", "é,€"), ("'x'", "x")),
    case("ENUM('Привет','мир') CHARACTER SET cp1251", pa.string(), ("'мир'", "мир")),
    case("ENUM('a','b') CHARACTER SET binary", pa.binary(), ("'b'", b"b")),
    case("SET('a','b') CHARACTER SET binary", pa.binary(), ("'a,b'", b"a,b")),
    case(f"SET({SET_64})", pa.string(), ("'m63,m0'", "m0,m63"), ("'m31,m32'", "m31,m32")),
    case("VARCHAR(10) CHARACTER SET utf16", pa.string(), ("'東京😀'", "東京😀"), ("''", "")),
    case("CHAR(4) CHARACTER SET ucs2", pa.string(), ("'ab  '", "ab"), ("'東'", "東")),
    case("TEXT CHARACTER SET cp1251", pa.string(), ("'Привет'", "Привет")),
    case("VARCHAR(10) CHARACTER SET sjis", pa.string(), ("'東京'", "東京")),
    case(
        "UUID",
        pa.string(),
        # A time-based (version 1) UUID, which MariaDB stores with its time fields swapped.
        ("'6ccd780c-baba-1026-9564-5b8c656024db'", "6ccd780c-baba-1026-9564-5b8c656024db"),
        ("'00000000-0000-0000-0000-000000000000'", "00000000-0000-0000-0000-000000000000"),
    ),
    case("INET6", pa.string(), ("'::ffff:192.0.2.1'", "::ffff:192.0.2.1"), ("'::'", "::")),
    case("INET4", pa.string(), ("'0.0.0.0'", "0.0.0.0"), ("'255.255.255.255'", "255.255.255.255")),
]

# Zero and invalid dates (written with sql_mode ''): NULL through CDC as through the load.
ZERO_DATES = [
    case("DATE", pa.date32(), ("'0000-00-00'", None), ("'2020-00-15'", None), ("'2024-02-29'", date(2024, 2, 29))),
    case(
        "DATETIME",
        pa.timestamp("us"),
        ("'0000-00-00 00:00:00'", None),
        ("'2020-05-00 10:00:00'", None),
        ("'2024-02-29 12:00:00'", datetime(2024, 2, 29, 12)),
    ),
    case(
        "DATETIME(6)",
        pa.timestamp("us"),
        ("'0000-00-00 00:00:00.000000'", None),
        ("'0000-01-01 00:00:00.5'", None),
        ("'9999-12-31 23:59:59.999999'", datetime(9999, 12, 31, 23, 59, 59, 999999)),
    ),
    case(
        "TIMESTAMP(6) NULL",
        pa.timestamp("us", tz="UTC"),
        ("'0000-00-00 00:00:00'", None),
        ("0", None),
        ("'2038-01-19 08:44:07.999999'", ts_utc(2038, 1, 19, 3, 14, 7, 999999)),
    ),
]
ZERO_DATES_PER_ROW_SET = 8  # zero or invalid dates in the rows ZERO_DATES writes once


@dataclass(frozen=True)
class Group:
    name: str  # also the table's name
    cases: tuple[Case, ...]
    sql_mode: str | None = None  # the session's sql_mode while writing, when not the default

    @property
    def columns(self) -> list[str]:
        """One column per case, named after its type: c3_decimal_10_2."""
        names = []
        for i, type_case in enumerate(self.cases):
            slug = re.sub(r"[^a-z0-9]+", "_", type_case.column.lower()).strip("_")
            names.append(f"c{i}_{slug}"[:40].rstrip("_"))
        return names

    @property
    def row_count(self) -> int:
        """Rows written by the full load, and inserted again by CDC: one per value of the longest case, and a
        row of NULLs."""
        return max(len(c.values) for c in self.cases) + 1

    def literal(self, row: int, column: int) -> str:
        values = self.cases[column].values
        return values[row][0] if row < len(values) else "NULL"

    def expected(self, row: int, column: int) -> Any:
        values = self.cases[column].values
        return values[row][1] if row < len(values) else None


def cases_of(params: list[Any]) -> tuple[Case, ...]:
    return tuple(param.values[0] for param in params)


GROUPS = [
    Group("integers", cases_of(INTEGERS)),
    Group("decimals", cases_of(DECIMALS)),
    Group("floats", cases_of(FLOATS)),
    Group("dates", cases_of(DATES)),
    Group("datetimes", cases_of(DATETIMES)),
    Group("timestamps", cases_of(TIMESTAMPS)),
    Group("times", cases_of(TIMES)),
    Group("years", cases_of(YEARS)),
    Group("strings", cases_of(STRINGS)),
    Group("binaries", cases_of(BINARIES)),
    Group("bits", cases_of(BITS)),
    Group("edges", cases_of(EDGES)),
    Group("zero_dates", cases_of(ZERO_DATES), sql_mode=""),
]


# -- the run ---------------------------------------------------------------------------------------------------
@dataclass
class Run:
    database: str
    bucket: Path
    statistics: list[dict]
    task_log: str

    def table_dir(self, group: Group) -> Path:
        return self.bucket / "hub" / self.database / group.name


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.stderr + result.stdout
    return result


def write_rows(cur: Any, database: str, group: Group, first_id: int) -> None:
    columns = ", ".join(f"`{name}`" for name in group.columns)
    rows = ", ".join(
        "(" + ", ".join([str(first_id + row)] + [group.literal(row, c) for c in range(len(group.cases))]) + ")"
        for row in range(group.row_count)
    )
    cur.execute(f"INSERT INTO `{database}`.`{group.name}` (id, {columns}) VALUES {rows}")


def read_state(state_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    path = state_dir / "state.db"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def wait_for(what: str, predicate: Any, timeout: float = WAIT_SECONDS, explain: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not reached in {timeout:.0f} s" + (f"; {explain()}" if explain else ""))


def task_failure(binlake: Binlake) -> str:
    rows = read_state(binlake.state_dir, "SELECT status, last_failure_message FROM tasks WHERE identifier = ?", (TASK,))
    log = binlake.state_dir / "tasks" / TASK / "task.log"
    tail = "\n".join(log.read_text().splitlines()[-30:]) if log.exists() else ""
    return f"task state {rows}; task.log:\n{tail}"


def check_not_failed(binlake: Binlake) -> None:
    if any(status == "failed" for (status,) in read_state(binlake.state_dir, "SELECT status FROM tasks")):
        raise AssertionError(f"the task failed: {task_failure(binlake)}")


def following_the_binlog(binlake: Binlake) -> bool:
    check_not_failed(binlake)
    rows = read_state(binlake.state_dir, "SELECT cdc_read_position FROM tasks WHERE identifier = ?", (TASK,))
    return bool(rows and rows[0][0])


def cdc_counts_reached(binlake: Binlake) -> bool:
    check_not_failed(binlake)
    rows = read_state(
        binlake.state_dir,
        "SELECT table_name, inserts, updates, deletes FROM table_statistics WHERE task = ?",
        (TASK,),
    )
    counts = {name: (i, u, d) for name, i, u, d in rows}
    return all(counts.get(group.name) == (group.row_count, 1, 1) for group in GROUPS)


def run_cdc(binlake: Binlake, sandbox_info: SandboxInfo, conn: Any, database: str, bucket: Path) -> list[dict]:
    """Create the endpoints and a full-load-and-cdc task, start it detached, write the CDC changes once it
    follows the binlog, wait until they are all counted, stop it; returns the table statistics."""
    ok(binlake.run_process("create-endpoint", "--endpoint-identifier", "src", "--endpoint-type", "source",
                           "--engine-name", "mariadb", "--server-name", sandbox_info.host,
                           "--port", str(sandbox_info.port), "--username", sandbox_info.user,
                           "--password-file", sandbox_info.password_file))  # fmt: skip
    settings = {"BucketName": str(bucket), "BucketFolder": "hub", "CdcMaxBatchInterval": 0.2}
    ok(binlake.run_process("create-endpoint", "--endpoint-identifier", "lake", "--endpoint-type", "target",
                           "--engine-name", "s3", "--s3-settings", json.dumps(settings)))  # fmt: skip
    ok(binlake.run_process("create-replication-task", "--replication-task-identifier", TASK,
                           "--source-endpoint-arn", "src", "--target-endpoint-arn", "lake", "--migration-type",
                           "full-load-and-cdc", "--table-mappings", mappings(database)))  # fmt: skip
    ok(binlake.run_process("start-replication-task", "--replication-task-arn", TASK, "--detach"))
    try:
        wait_for("the task following the binlog", lambda: following_the_binlog(binlake), timeout=60)
        cur = conn.cursor()
        for group in GROUPS:
            assigned = ", ".join(f"`{name}` = {group.cases[c].values[-1][0]}" for c, name in enumerate(group.columns))
            if group.sql_mode is not None:
                cur.execute(f"SET SESSION sql_mode = '{group.sql_mode}'")
            try:
                write_rows(cur, database, group, CDC_ID_OFFSET)
                cur.execute(f"UPDATE `{database}`.`{group.name}` SET {assigned} WHERE id = {UPDATED_ID}")
                cur.execute(f"DELETE FROM `{database}`.`{group.name}` WHERE id = {DELETED_ID}")
            finally:
                if group.sql_mode is not None:
                    cur.execute("SET SESSION sql_mode = DEFAULT")
        wait_for("the CDC statistics", lambda: cdc_counts_reached(binlake), explain=lambda: task_failure(binlake))
    finally:
        stopped = binlake.run_process("stop-replication-task", "--replication-task-arn", TASK, "--output", "json")
    ok(stopped)
    assert json.loads(stopped.stdout)["ReplicationTask"]["Status"] == "stopped", stopped.stdout
    stats = ok(binlake.run_process("describe-table-statistics", "--replication-task-arn", TASK, "--output", "json"))
    return json.loads(stats.stdout)["TableStatistics"]


@pytest.fixture(scope="module", params=["compiled", "pure-python"])
def cdc(
    sandbox: Sandbox,
    sandbox_info: SandboxInfo,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Run]:
    """The matrix through a CDC task, once with each row decoder (BINLAKE_PURE_PYTHON=1 for the Python one)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BINLAKE_PURE_PYTHON", "1" if request.param == "pure-python" else "")
        yield from _cdc(sandbox, sandbox_info, tmp_path_factory)


def _cdc(sandbox: Sandbox, sandbox_info: SandboxInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    base = tmp_path_factory.mktemp("cdc_types")
    bucket = base / "bucket"
    bucket.mkdir()
    binlake = Binlake(base / "state", None)  # type: ignore[arg-type]  # subprocesses only: no capsys needed
    database = f"t_{uuid.uuid4().hex[:10]}"
    conn = sandbox.root_connection()
    cur = conn.cursor()
    cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
    try:
        # TIMESTAMP literals are written in a +05:30 session: the lake holds UTC whatever the writer's zone.
        cur.execute(f"SET SESSION time_zone = '{INSERT_TIME_ZONE}'")
        for group in GROUPS:
            columns = ", ".join(f"`{n}` {c.column}" for n, c in zip(group.columns, group.cases, strict=True))
            cur.execute(f"CREATE TABLE `{database}`.`{group.name}` (id INT PRIMARY KEY, {columns})")
            if group.sql_mode is not None:
                cur.execute(f"SET SESSION sql_mode = '{group.sql_mode}'")
            write_rows(cur, database, group, 0)
            cur.execute("SET SESSION sql_mode = DEFAULT")
        statistics = run_cdc(binlake, sandbox_info, conn, database, bucket)
        log_path = binlake.state_dir / "tasks" / TASK / "task.log"
        yield Run(database, bucket, statistics, log_path.read_text() if log_path.exists() else "")
    finally:
        cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        conn.close()


# -- the checks ------------------------------------------------------------------------------------------------
def mismatches(group: Group, table: pa.Table, expected_rows: list[tuple[int, list[Any]]], where: str) -> list[str]:
    """Every value of ``table`` that differs from ``expected_rows`` ((id, values) in order), by column."""
    found = []
    ids = table.column("id").to_pylist()
    want_ids = [row_id for row_id, _ in expected_rows]
    if ids != want_ids:
        return [f"{where}: ids {ids} != {want_ids}"]
    for c, (name, type_case) in enumerate(zip(group.columns, group.cases, strict=True)):
        got_values = table.column(name).to_pylist()
        for row_id, got, (_, want_row) in zip(ids, got_values, expected_rows, strict=True):
            want = want_row[c]
            label = f"{where} {name} ({short(type_case.column)}) id={row_id}"
            if type(got) is not type(want) or got != want:
                found.append(f"{label}: {short(got)} != {short(want)}")
            elif isinstance(want, Decimal) and got.as_tuple().exponent != -type_case.arrow.scale:
                found.append(f"{label}: {got!r} has the wrong scale")
            elif isinstance(want, datetime) and got.utcoffset() != want.utcoffset():
                found.append(f"{label}: {got!r} is in the wrong zone")
    return found


def assert_no_mismatches(found: list[str]) -> None:
    if found:
        pytest.fail(f"{len(found)} values differ:\n" + "\n".join(found), pytrace=False)


def cdc_files(run: Run, group: Group) -> list[Path]:
    return sorted(p for p in run.table_dir(group).iterdir() if CDC_FILE.match(p.name))


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_cdc_files_carry_the_load_types_and_exact_values(cdc: Run, group: Group) -> None:
    names = group.columns
    [stats] = [s for s in cdc.statistics if s["TableName"] == group.name]
    counts = (stats["FullLoadRows"], stats["Inserts"], stats["Updates"], stats["Deletes"])
    assert counts == (group.row_count, group.row_count, 1, 1)
    assert stats["TableState"] == "Table completed"

    # The LOAD file: the matrix's Arrow types and the values, as tests/test_types.py checks them one by one.
    load = pq.read_table(run_load_file(cdc, group))
    assert load.schema == pa.schema(
        [pa.field("id", pa.int32())] + [pa.field(n, c.arrow) for n, c in zip(names, group.cases, strict=True)]
    )
    load_rows = [(row, [group.expected(row, c) for c in range(len(names))]) for row in range(group.row_count)]
    assert_no_mismatches(mismatches(group, load.sort_by("id"), load_rows, "LOAD"))

    # The CDC files: Op first, then exactly the LOAD file's columns and types.
    files = cdc_files(cdc, group)
    assert files, f"no CDC file in {cdc.table_dir(group)}: {sorted(p.name for p in cdc.table_dir(group).iterdir())}"
    tables = [pq.read_table(path) for path in files]
    for path, table in zip(files, tables, strict=True):
        assert table.schema.field(0) == pa.field("Op", pa.string()), path.name
        assert table.schema.names[1:] == load.schema.names, path.name
        differing = [
            f"{field.name}: CDC {field.type} != LOAD {load.schema.field(field.name).type}"
            for field in table.schema.remove(0)
            if field != load.schema.field(field.name)
        ]
        assert not differing, f"{path.name}: " + "; ".join(differing)
        assert table.schema.remove(0) == load.schema, path.name
    changes = pa.concat_tables(tables)

    last = [type_case.values[-1][1] for type_case in group.cases]
    first = [group.expected(0, c) for c in range(len(names))]
    assert any(type_case.values[-1][0] != group.literal(0, c) for c, type_case in enumerate(group.cases)), (
        "the update must change a value, or the binlog has no row for it"
    )
    inserted = [(CDC_ID_OFFSET + id_, values) for id_, values in load_rows]
    expected = [*inserted, (UPDATED_ID, last), (DELETED_ID, first)]
    assert changes.column("Op").to_pylist() == ["I"] * len(inserted) + ["U", "D"]
    assert_no_mismatches(mismatches(group, changes, expected, "CDC"))


def run_load_file(run: Run, group: Group) -> Path:
    return run.table_dir(group) / "LOAD00000001.parquet"


def test_zero_dates_through_cdc_are_logged(cdc: Run) -> None:
    """The load and CDC count their zero dates per table: in the task log, and in the table's statistics (the load's
    rows once, CDC's inserted rows again at least)."""
    assert f"Table {cdc.database}.zero_dates: {ZERO_DATES_PER_ROW_SET} zero or invalid dates written as NULL" in (
        cdc.task_log
    )
    cdc_lines = [line for line in cdc.task_log.splitlines() if "zero or invalid dates written as NULL by CDC" in line]
    assert cdc_lines and all(f"Table {cdc.database}.zero_dates: " in line for line in cdc_lines), cdc_lines
    zero_dates = {stats["TableName"]: stats["ZeroDates"] for stats in cdc.statistics}
    assert zero_dates.pop("zero_dates") >= 2 * ZERO_DATES_PER_ROW_SET


def test_inet6_text_is_the_servers(admin) -> None:
    """INET6's text form (which the full load reads) rebuilt from the binlog's 16 bytes, for random addresses
    rich in zero and ffff words, IPv4-compatible and IPv4-mapped ones."""
    rng = random.Random(6)
    words = [0, 0, 0, 0xFFFF, 1, 0x20, 0xDB8]
    addresses = [b"".join(rng.choice([*words, rng.randrange(65536)]).to_bytes(2, "big") for _ in range(8))
                 for _ in range(500)]  # fmt: skip
    addresses += [bytes(16), bytes(15) + b"\x01", bytes(10) + b"\xff\xff" + bytes(4), bytes(12) + b"\x01\x02\x03\x04",
                  bytes(10) + b"\xff\xff\x00\x00\x00\x01", b"\x01" + bytes(15)]  # fmt: skip
    cur = admin.cursor()
    selects = " UNION ALL ".join(
        f"SELECT {i}, CAST(CAST(X'{a.hex()}' AS INET6) AS CHAR)" for i, a in enumerate(addresses)
    )
    cur.execute(selects)
    server = dict(cur.fetchall())
    differing = [
        f"{a.hex()}: {inet6_text(a)} != {server[i]}" for i, a in enumerate(addresses) if inet6_text(a) != server[i]
    ]
    assert not differing, "\n".join(differing)
