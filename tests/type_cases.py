"""The type mapping table of docs/contract.md as test cases (MySQL column, Arrow type, SQL literal → expected
value), shared by the full-load type tests and the CDC type tests, and the full-load run they use."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.conftest import Binlake, create_task, mappings, run_task

TASK = "types"
TABLE = "t"


@dataclass(frozen=True)
class Case:
    """One MySQL column type: its definition, the Arrow type it must map to, and (SQL literal, expected value)
    pairs. Every case also loads a NULL."""

    column: str
    arrow: pa.DataType
    values: tuple[tuple[str, Any], ...]


def case(column: str, arrow: pa.DataType, *values: tuple[str, Any]) -> Any:
    return pytest.param(Case(column, arrow, values), id=column)


def f32(value: float) -> float:
    """``value`` as a FLOAT column stores it (IEEE single precision), widened back to a Python float."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def point_wkb(x: float, y: float, srid: int = 0) -> bytes:
    """MySQL's internal geometry value: a 4-byte little-endian SRID, then little-endian WKB."""
    return struct.pack("<I", srid) + b"\x01" + struct.pack("<I", 1) + struct.pack("<dd", x, y)


def ts_utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def short(value: Any) -> str:
    """A value's repr, cut for failure messages (some values are 100k characters)."""
    text = repr(value)
    return text if len(text) <= 200 else f"{text[:200]}... ({len(text)} characters)"


def sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


MAX_DECIMAL_65_30 = "9" * 35 + "." + "9" * 30


ALL_BYTES = bytes(range(256))


JSON_TEXT = '{"city": "東京", "emoji": "😀", "n": [1, 2.5, null, true], "nested": {"k": "Zürich"}}'


INTEGERS = [
    case("TINYINT", pa.int8(), ("-128", -128), ("127", 127), ("0", 0)),
    case("TINYINT UNSIGNED", pa.uint8(), ("0", 0), ("255", 255)),
    case("SMALLINT", pa.int16(), ("-32768", -32768), ("32767", 32767)),
    case("SMALLINT UNSIGNED", pa.uint16(), ("0", 0), ("65535", 65535)),
    case("MEDIUMINT", pa.int32(), ("-8388608", -8388608), ("8388607", 8388607)),
    case("MEDIUMINT UNSIGNED", pa.uint32(), ("0", 0), ("16777215", 16777215)),
    case("INT", pa.int32(), ("-2147483648", -2147483648), ("2147483647", 2147483647)),
    case("INT UNSIGNED", pa.uint32(), ("0", 0), ("4294967295", 4294967295)),
    case("BIGINT", pa.int64(), ("-9223372036854775808", -(2**63)), ("9223372036854775807", 2**63 - 1)),
    case("BIGINT UNSIGNED", pa.uint64(), ("0", 0), ("18446744073709551615", 2**64 - 1)),
    case("BOOLEAN", pa.int8(), ("TRUE", 1), ("FALSE", 0)),
    case("INT(5) UNSIGNED ZEROFILL", pa.uint32(), ("42", 42), ("4294967295", 4294967295)),
]


DECIMALS = [
    case(
        "DECIMAL(10,2)",
        pa.decimal128(10, 2),
        ("-99999999.99", Decimal("-99999999.99")),
        ("99999999.99", Decimal("99999999.99")),
        ("-12345.6", Decimal("-12345.60")),
        ("0.01", Decimal("0.01")),
        ("0", Decimal("0.00")),
    ),
    case(
        "DECIMAL(10,0)",
        pa.decimal128(10, 0),
        ("9999999999", Decimal("9999999999")),
        ("-9999999999", Decimal("-9999999999")),
        ("0", Decimal("0")),
    ),
    case("DECIMAL", pa.decimal128(10, 0), ("-1234567890", Decimal("-1234567890"))),
    case("NUMERIC(5,5)", pa.decimal128(5, 5), ("0.99999", Decimal("0.99999")), ("-0.00001", Decimal("-0.00001"))),
    case(
        "DECIMAL(38,10)",
        pa.decimal128(38, 10),
        ("9" * 28 + "." + "9" * 10, Decimal("9" * 28 + "." + "9" * 10)),
        ("-" + "9" * 28 + "." + "9" * 10, Decimal("-" + "9" * 28 + "." + "9" * 10)),
    ),
    case(
        "DECIMAL(65,30)",
        pa.decimal256(65, 30),
        (MAX_DECIMAL_65_30, Decimal(MAX_DECIMAL_65_30)),
        ("-" + MAX_DECIMAL_65_30, Decimal("-" + MAX_DECIMAL_65_30)),
        ("0.000000000000000000000000000001", Decimal("1e-30")),
        ("-1.5", Decimal("-1.5")),
    ),
]


FLOATS = [
    case(
        "FLOAT",
        pa.float32(),
        ("3.4028234663852886e38", f32(3.4028234663852886e38)),
        ("-3.4028234663852886e38", f32(-3.4028234663852886e38)),
        ("1.1754943508222875e-38", f32(1.1754943508222875e-38)),
        ("1.401298464324817e-45", f32(1.401298464324817e-45)),
        ("0.1", f32(0.1)),
        ("16777217", 16777216.0),
        ("123456.789", f32(123456.789)),
        ("-0.5", -0.5),
        ("0", 0.0),
    ),
    case(
        "DOUBLE",
        pa.float64(),
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ("-1.7976931348623157e308", -1.7976931348623157e308),
        ("2.2250738585072014e-308", 2.2250738585072014e-308),
        ("4.9406564584124654e-324", 5e-324),
        ("0.1", 0.1),
        ("123456789.12345679", 123456789.12345679),
        ("-1e-300", -1e-300),
        ("0", 0.0),
    ),
]


DATES = [
    case(
        "DATE",
        pa.date32(),
        ("'1000-01-01'", date(1000, 1, 1)),
        ("'9999-12-31'", date(9999, 12, 31)),
        ("'2024-02-29'", date(2024, 2, 29)),
        ("'1970-01-01'", date(1970, 1, 1)),
    ),
]


DATETIMES = [
    case(
        "DATETIME",
        pa.timestamp("us"),
        ("'1000-01-01 00:00:00'", datetime(1000, 1, 1)),
        ("'9999-12-31 23:59:59'", datetime(9999, 12, 31, 23, 59, 59)),
        ("'1969-12-31 23:59:59'", datetime(1969, 12, 31, 23, 59, 59)),
    ),
    case(
        "DATETIME(3)",
        pa.timestamp("us"),
        ("'2024-02-29 12:34:56.789'", datetime(2024, 2, 29, 12, 34, 56, 789000)),
    ),
    case(
        "DATETIME(6)",
        pa.timestamp("us"),
        ("'1000-01-01 00:00:00.000000'", datetime(1000, 1, 1)),
        ("'9999-12-31 23:59:59.999999'", datetime(9999, 12, 31, 23, 59, 59, 999999)),
        ("'2024-02-29 12:34:56.000001'", datetime(2024, 2, 29, 12, 34, 56, 1)),
    ),
]


# Inserted in a +05:30 session: the server stores UTC and the load reads UTC, whatever the writer's zone.
INSERT_TIME_ZONE = "+05:30"


TIMESTAMPS = [
    case(
        "TIMESTAMP NULL",
        pa.timestamp("us", tz="UTC"),
        ("'1970-01-01 05:30:01'", ts_utc(1970, 1, 1, 0, 0, 1)),
        ("'2038-01-19 08:44:07'", ts_utc(2038, 1, 19, 3, 14, 7)),
    ),
    case(
        "TIMESTAMP(6) NULL",
        pa.timestamp("us", tz="UTC"),
        ("'1970-01-01 05:30:01.000000'", ts_utc(1970, 1, 1, 0, 0, 1)),
        ("'2038-01-19 08:44:07.999999'", ts_utc(2038, 1, 19, 3, 14, 7, 999999)),
        ("'2024-07-01 00:00:00.5'", ts_utc(2024, 6, 30, 18, 30, 0, 500000)),
    ),
]


TIMES = [
    case(
        "TIME(6)",
        pa.duration("us"),
        ("'-838:59:59.000000'", -timedelta(hours=838, minutes=59, seconds=59)),
        ("'838:59:59'", timedelta(hours=838, minutes=59, seconds=59)),
        ("'25:00:00'", timedelta(hours=25)),
        ("'-00:00:00.000001'", timedelta(microseconds=-1)),
        ("'12:34:56.789012'", timedelta(hours=12, minutes=34, seconds=56, microseconds=789012)),
        ("'00:00:00'", timedelta(0)),
    ),
    case(
        "TIME",
        pa.duration("us"),
        ("'-838:59:59'", -timedelta(hours=838, minutes=59, seconds=59)),
        ("'838:59:59'", timedelta(hours=838, minutes=59, seconds=59)),
        ("'-01:02:03'", -timedelta(hours=1, minutes=2, seconds=3)),
    ),
]


YEARS = [
    case("YEAR", pa.int16(), ("1901", 1901), ("2155", 2155), ("0", 0), ("'0000'", 0), ("'24'", 2024)),
]


MULTIBYTE = (("'東京'", "東京"), ("'😀'", "😀"), ("'Zürich'", "Zürich"), ("''", ""), ("'a''b\\\\c'", "a'b\\c"))


STRINGS = [
    case("UUID", pa.string(), ("'123e4567-e89b-12d3-a456-426614174000'", "123e4567-e89b-12d3-a456-426614174000")),
    case("INET4", pa.string(), ("'192.0.2.1'", "192.0.2.1")),
    case("INET6", pa.string(), ("'2001:db8::1'", "2001:db8::1")),
    case("CHAR(10)", pa.string(), *MULTIBYTE, ("'東京😀Zürich'", "東京😀Zürich")),
    case("VARCHAR(255)", pa.string(), *MULTIBYTE, ("REPEAT('東', 255)", "東" * 255)),
    case("TINYTEXT", pa.string(), *MULTIBYTE),
    case("TEXT", pa.string(), *MULTIBYTE, ("REPEAT('😀', 16000)", "😀" * 16000)),
    case("MEDIUMTEXT", pa.string(), *MULTIBYTE, ("REPEAT('東京', 100000)", "東京" * 100000)),
    case("LONGTEXT", pa.string(), *MULTIBYTE, ("REPEAT('Zürich😀', 100000)", "Zürich😀" * 100000)),
    case(
        "VARCHAR(50) CHARACTER SET latin1",
        pa.string(),
        ("'Zürich'", "Zürich"),
        ("'façade £5 ÿ'", "façade £5 ÿ"),
        ("''", ""),
    ),
    case("TEXT CHARACTER SET latin1", pa.string(), ("'Ærøskøbing'", "Ærøskøbing")),
    case("VARCHAR(20) CHARACTER SET utf8mb3", pa.string(), ("'東京'", "東京"), ("'Zürich'", "Zürich")),
    case(
        "ENUM('a','東京','😀','Zürich')",
        pa.string(),
        ("'a'", "a"),
        ("'東京'", "東京"),
        ("'😀'", "😀"),
        ("'Zürich'", "Zürich"),
    ),
    case("SET('a','b','😀')", pa.string(), ("'a,😀'", "a,😀"), ("'b'", "b"), ("''", ""), ("'a,b,😀'", "a,b,😀")),
    case("JSON", pa.string(), (sql_string(JSON_TEXT), JSON_TEXT), ("'[]'", "[]"), ("'null'", "null")),
]


BINARIES = [
    case("BINARY(4)", pa.binary(), ("X'00FF00FF'", b"\x00\xff\x00\xff"), ("X'FF'", b"\xff\x00\x00\x00")),
    case(
        "VARBINARY(300)",
        pa.binary(),
        ("X'00'", b"\x00"),
        ("X'FF'", b"\xff"),
        ("X''", b""),
        (f"X'{ALL_BYTES.hex()}'", ALL_BYTES),
    ),
    case("TINYBLOB", pa.binary(), ("X'00FF'", b"\x00\xff"), ("X''", b"")),
    case("BLOB", pa.binary(), ("X'00FF'", b"\x00\xff"), (f"X'{ALL_BYTES.hex()}'", ALL_BYTES)),
    case("MEDIUMBLOB", pa.binary(), (f"REPEAT(X'{ALL_BYTES.hex()}', 1000)", ALL_BYTES * 1000)),
    case("LONGBLOB", pa.binary(), (f"REPEAT(X'{ALL_BYTES.hex()}', 1000)", ALL_BYTES * 1000), ("X'00'", b"\x00")),
    case("VARCHAR(10) CHARACTER SET binary", pa.binary(), ("X'00FF'", b"\x00\xff")),
    case(
        "GEOMETRY",
        pa.binary(),
        ("ST_GeomFromText('POINT(1 2)')", point_wkb(1, 2)),
        ("ST_GeomFromText('POINT(-71.06 42.36)', 4326)", point_wkb(-71.06, 42.36, 4326)),
    ),
    case("POINT", pa.binary(), ("POINT(-1.5, 1e300)", point_wkb(-1.5, 1e300))),
]


# BIT(n) holds up to 64 bits, so it maps to uint64: an int64 would overflow on BIT(64) with the top bit set.
BITS = [
    case("BIT(1)", pa.uint64(), ("b'0'", 0), ("b'1'", 1)),
    case("BIT(8)", pa.uint64(), ("b'10000001'", 129), ("b'11111111'", 255)),
    case(
        "BIT(64)",
        pa.uint64(),
        ("b'" + "1" * 64 + "'", 2**64 - 1),
        ("b'1" + "0" * 63 + "'", 2**63),
        ("b'1'", 1),
        ("b'0'", 0),
    ),
]


def load_file(bucket: Path, schema: str, table: str = TABLE) -> Path:
    return bucket / "hub" / schema / table / "LOAD00000001.parquet"


def run_full_load(binlake: Binlake, database: str, rows: int, settings: dict | None = None) -> None:
    """Run a full-load task over ``database`` and check it loaded ``rows`` rows and completed."""
    extra = ["--replication-task-settings", json.dumps(settings)] if settings else []
    create_task(binlake, TASK, mappings(database, TABLE), *extra)
    result = run_task(binlake, TASK)
    assert result.exit_code == 0, result.stderr + result.stdout
    stats = binlake.ok("describe-table-statistics", "--replication-task-arn", TASK, "--output", "json").json()
    [table] = stats["TableStatistics"]
    assert (table["SchemaName"], table["TableName"]) == (database, TABLE)
    assert table["TableState"] == "Table completed"
    assert table["FullLoadRows"] == rows
