"""Decoder cases the oracle harness found, each pinned by a deterministic test: rows written to the sandbox,
read back with binlake's BinlogReader, compared value by value with the source and with what the full load
reads for the same rows.

- Spatial columns: MariaDB lists GEOMETRY columns in the table map's character-set fields; skipping them shifted
  the character set of every text column after a spatial one (text decoded as bytes, or as the wrong charset).
- Old-format temporal columns (tables created while the global mysql56_temporal_format=OFF, or by MariaDB
  5.3-10.0): fractional TIME/DATETIME/TIMESTAMP have MariaDB 5.3's layouts and no precision in the table map.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from binlake.capture.binlog.reader import BinlogReader
from binlake.errors import BinlakeError
from binlake.sandbox import SandboxInfo
from tests.helpers import decoded_rows
from tests.oracle.source import address, binlog_position, connect, global_setting, read_binlake

GEOMETRIES = [
    ("g", "GEOMETRY", "ST_GeomFromText('POINT(1 2)')"),
    ("p", "POINT NOT NULL", "POINT(3, 4)"),
    ("ls", "LINESTRING", "ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)')"),
    ("pg", "POLYGON", "ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 0))')"),
    ("mp", "MULTIPOINT", "ST_GeomFromText('MULTIPOINT(1 1, 2 2)')"),
    ("gc", "GEOMETRYCOLLECTION", "ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1))')"),
]
TEXTS = [
    ("a", "VARCHAR(20) CHARACTER SET latin1", "é€ÿ"),
    ("b", "VARCHAR(20) CHARACTER SET utf8mb4", "ü€😀"),
    ("c", "TEXT CHARACTER SET ucs2", "ñ€"),
    ("d", "CHAR(10) CHARACTER SET utf8mb3", "ça"),
    ("e", "VARCHAR(20) CHARACTER SET utf16", "😀x"),
    ("f", "TINYTEXT CHARACTER SET utf32", "Ω"),
    ("h", "VARBINARY(10)", b"\x00\xff"),
    ("i", "ENUM('x','é') CHARACTER SET latin1", "é"),
]


def source_rows(conn: Any, sql: str) -> list[dict[str, Any]]:
    cur = conn.cursor()
    cur.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=[g[1].split()[0] for g in GEOMETRIES])
def test_spatial_columns_keep_the_character_sets_of_the_text_columns_after_them(
    sandbox_info: SandboxInfo, database: str, geometry: tuple[str, str, str]
) -> None:
    name, definition, literal = geometry
    conn = connect(sandbox_info)
    cur = conn.cursor()
    # Text columns before and after the spatial column, and a second spatial column in the middle.
    columns = [TEXTS[0], (name, definition, None), *TEXTS[1:4], ("g2", "GEOMETRY", None), *TEXTS[4:]]
    ddl = ", ".join(f"`{n}` {d}" for n, d, _ in columns)
    cur.execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY, {ddl})")
    start = binlog_position(conn)
    values = ", ".join(literal if n == name else "POINT(5, 6)" if n == "g2" else "%s" for n, _, _ in columns)
    params = [v for n, _, v in columns if n not in (name, "g2")]
    cur.execute(f"INSERT INTO `{database}`.t VALUES (1, {values})", params)
    cur.execute(f"UPDATE `{database}`.t SET a = 'Ÿ', b = 'ß' WHERE id = 1")
    items = read_binlake(sandbox_info, start, {database})
    rows = decoded_rows(items, "t")
    # The geometry bytes are what the full load reads (MariaDB's SRID + WKB); text decodes in its own charset.
    raw = connect(sandbox_info)
    raw_cur = raw.cursor()
    raw_cur.execute(f"SELECT `{name}`, g2 FROM `{database}`.t")
    spatial, second = raw_cur.fetchone()
    expected = {"id": 1, name: spatial, "g2": second, **{n: v for n, _, v in TEXTS}}
    assert [rows[0]] == [expected]
    assert rows[1:] == [expected, {**expected, "a": "Ÿ", "b": "ß"}]
    assert rows[2] == source_rows(conn, f"SELECT * FROM `{database}`.t")[0]


OLD_TEMPORAL_COLUMNS = [
    *(f"t{n} TIME({n})" for n in range(7)),
    *(f"d{n} DATETIME({n})" for n in range(7)),
    *(f"s{n} TIMESTAMP({n}) NULL" for n in range(7)),
    "after_them VARCHAR(10)",
]


def time_value(text: str) -> timedelta:
    negative = text.startswith("-")
    hours, minutes, seconds = text.lstrip("-").split(":")
    value = timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds))
    value = timedelta(microseconds=round(value / timedelta(microseconds=1)))
    return -value if negative else value


OLD_TEMPORAL_ROWS = [
    # (TIME text, DATETIME text, TIMESTAMP text in UTC) per row, truncated to each precision by the server
    ("-838:59:59.999999", "1000-01-01 00:00:00.000001", "1970-01-01 00:00:01.000001"),
    ("838:59:59.999999", "9999-12-31 23:59:59.999999", "2038-01-19 03:14:07.999999"),
    ("-00:00:00.000001", "2024-02-29 12:34:56.123456", "2024-02-29 12:34:56.654321"),
    ("-01:02:03.405060", "2000-01-01 00:00:00.5", "2000-01-01 00:00:00.5"),
    ("00:00:00", "1999-12-31 23:59:59", "1999-12-31 23:59:59"),
]


def truncated(text: str, precision: int) -> str:
    head, _, fraction = text.partition(".")
    fraction = fraction[:precision]
    return f"{head}.{fraction}" if fraction else head


def test_old_format_temporal_columns_decode_exactly(sandbox_info: SandboxInfo, database: str) -> None:
    conn = connect(sandbox_info)
    cur = conn.cursor()
    cur.execute("SET time_zone = '+00:00'")
    with global_setting(conn, "mysql56_temporal_format", "OFF"):
        cur.execute(f"CREATE TABLE `{database}`.old (id INT PRIMARY KEY, {', '.join(OLD_TEMPORAL_COLUMNS)})")
    cur.execute(
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND COLUMN_TYPE LIKE %s",
        (database, "%mariadb-5.3%"),
    )
    assert cur.fetchone()[0] == 21  # the server really wrote the old layouts
    start = binlog_position(conn)
    expected = []
    for i, (time_text, datetime_text, timestamp_text) in enumerate(OLD_TEMPORAL_ROWS):
        values = [truncated(time_text, n) for n in range(7)]
        values += [truncated(datetime_text, n) for n in range(7)]
        values += [truncated(timestamp_text, n) for n in range(7)]
        cur.execute(f"INSERT INTO `{database}`.old VALUES ({i}, {', '.join(['%s'] * 22)})", [*values, f"row{i}"])
        row: dict[str, Any] = {"id": i, "after_them": f"row{i}"}
        for n in range(7):
            row[f"t{n}"] = time_value(values[n])
            row[f"d{n}"] = datetime.fromisoformat(values[7 + n])
            row[f"s{n}"] = datetime.fromisoformat(values[14 + n]).replace(tzinfo=UTC)
        expected.append(row)
    cur.execute(f"UPDATE `{database}`.old SET s6 = NULL, t3 = '-00:00:01.5' WHERE id = 0")
    cur.execute(f"DELETE FROM `{database}`.old WHERE id = 1")
    rows = decoded_rows(read_binlake(sandbox_info, start, {database}), "old")
    updated = {**expected[0], "s6": None, "t3": timedelta(seconds=-1.5)}
    assert rows == [*expected, expected[0], updated, expected[1]]
    # ... and the source agrees (MySQLdb returns TIME as timedelta, TIMESTAMP as naive UTC here).
    source = {r["id"]: r for r in source_rows(conn, f"SELECT * FROM `{database}`.old")}
    for row in [updated, *expected[2:]]:
        naive = {k: v.replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v for k, v in row.items()}
        assert source[row["id"]] == naive


def test_old_format_temporal_column_missing_from_the_schema_stops_with_the_fix(
    sandbox_info: SandboxInfo, database: str
) -> None:
    conn = connect(sandbox_info)
    cur = conn.cursor()
    with global_setting(conn, "mysql56_temporal_format", "OFF"):
        cur.execute(f"CREATE TABLE `{database}`.old (id INT PRIMARY KEY, t3 TIME(3))")
    start = binlog_position(conn)
    cur.execute(f"INSERT INTO `{database}`.old VALUES (1, '01:00:00.5')")
    from binlake.capture.binlog.charsets import load_codec
    from binlake.capture.binlog.stream import BinlogStream

    reader = BinlogReader(
        BinlogStream(address(sandbox_info), start, 0, non_blocking=True),
        load_codec(conn),
        lambda schema, table: schema == database,
        lambda schema, table: {},  # the column is gone from the schema by the time the binlog is read
    )
    with pytest.raises(BinlakeError) as error:
        list(reader)
    assert error.value.message == (
        f"column {database}.old.t3 is an old-format (MariaDB 5.3) temporal column whose precision is not in the "
        "binlog, and the column is no longer in the source schema"
    )
    assert error.value.fix.startswith("convert it to the current format: SET GLOBAL mysql56_temporal_format=ON")


COMPRESSED = [
    ("v", "VARCHAR(300) COMPRESSED CHARACTER SET utf8mb4", "é" * 300),  # 2-byte length, zlib
    ("w", "VARCHAR(10) COMPRESSED CHARACTER SET latin1", "Ÿ€"),  # 1-byte length, stored as is
    ("x", "TEXT COMPRESSED CHARACTER SET ucs2", "ñ" * 5000),
    ("y", "VARBINARY(100) COMPRESSED", b"\x00\xff" * 50),
    ("z", "LONGBLOB COMPRESSED", bytes(range(256)) * 400),
    ("after_them", "VARCHAR(10) CHARACTER SET latin1", "Köln"),
]


def test_compressed_columns_decode_to_their_values(sandbox_info: SandboxInfo, database: str) -> None:
    """MariaDB's COMPRESSED columns have binlog types of their own (140, 141) and zlib data in the row; they
    crashed the table-map parser (IndexError) before."""
    conn = connect(sandbox_info)
    cur = conn.cursor()
    ddl = ", ".join(f"`{n}` {d}" for n, d, _ in COMPRESSED)
    cur.execute(f"CREATE TABLE `{database}`.z (id INT PRIMARY KEY, {ddl})")
    start = binlog_position(conn)
    cur.execute(
        f"INSERT INTO `{database}`.z VALUES (1, {', '.join(['%s'] * len(COMPRESSED))})", [v for *_, v in COMPRESSED]
    )
    cur.execute(f"INSERT INTO `{database}`.z (id, w, y) VALUES (2, '', '')")  # empty and NULL values
    cur.execute(f"UPDATE `{database}`.z SET v = 'short' WHERE id = 1")
    rows = decoded_rows(read_binlake(sandbox_info, start, {database}), "z")
    first = {"id": 1, **{n: v for n, _, v in COMPRESSED}}
    second = {"id": 2, **{n: None for n, _, _ in COMPRESSED}, "w": "", "y": b""}
    assert rows == [first, second, first, {**first, "v": "short"}]
    assert rows[-1] == source_rows(conn, f"SELECT * FROM `{database}`.z WHERE id = 1")[0]


def test_old_format_temporal_column_converted_since_stops_instead_of_guessing(
    sandbox_info: SandboxInfo, database: str
) -> None:
    """Rows written before an ALTER that converted the column (catching up across it): the schema's precision is
    not theirs. TIME(3) read as TIME(4) fits the same 5 bytes and gave -754 hours instead of 1 hour."""
    conn = connect(sandbox_info)
    cur = conn.cursor()
    with global_setting(conn, "mysql56_temporal_format", "OFF"):
        cur.execute(f"CREATE TABLE `{database}`.old (id INT PRIMARY KEY, t TIME(3))")
    start = binlog_position(conn)
    cur.execute(f"INSERT INTO `{database}`.old VALUES (1, '01:02:03.456')")
    cur.execute(f"ALTER TABLE `{database}`.old MODIFY t TIME(4)")
    with pytest.raises(BinlakeError) as error:
        read_binlake(sandbox_info, start, {database})
    assert error.value.message == (
        f"column {database}.old.t is an old-format (MariaDB 5.3) temporal column in the binlog, but the source schema "
        "now has it as time(4): its precision in these rows is unknown"
    )
    assert error.value.fix == "restart the task with --start-replication-task-type reload-target"
