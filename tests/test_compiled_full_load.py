"""The compiled full-load reader (binlake.native._fetch) against the pure-Python one, its oracle.

Both readers read the same table from the same server and must give identical Arrow tables (``Table.equals``,
types included) and the same decode counters: over the full-load type matrix of tests/type_cases.py, zero and
invalid dates, randomized seeded tables of every column type (tests/oracle/columns.py), and the edges (an empty
table, NULLs everywhere, long BLOBs across batches). Parsers are also fed server texts directly (any query's
result can be read with a given column type), so whole classes of text (float strings, UTF-8 sequences) are
compared, not only the examples. Then the build and the fallback: ``binlake --version`` names the path, and a
load with BINLAKE_PURE_PYTHON=1 writes the same file.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import MySQLdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from binlake import native
from binlake.capture import compiled_snapshot
from binlake.capture.snapshot import read_batches
from binlake.sandbox import SandboxInfo
from binlake.source.connection import connect
from binlake.source.schema import describe_table
from binlake.source.types import Column, DecodeCounters, arrow_field, decode_text_column
from tests import type_cases as test_types
from tests.conftest import Binlake, create_task, mappings, run_task
from tests.oracle.columns import random_column, random_literal
from tests.oracle.source import address

TABLE = "t"
MATRIX = (
    test_types.INTEGERS
    + test_types.DECIMALS
    + test_types.FLOATS
    + test_types.DATES
    + test_types.DATETIMES
    + test_types.TIMESTAMPS
    + test_types.TIMES
    + test_types.YEARS
    + test_types.STRINGS
    + test_types.BINARIES
    + test_types.BITS
)


@pytest.fixture(autouse=True)
def compiled_reader_built() -> None:
    assert native.extension("_fetch") is not None, "binlake.native._fetch is not built: run bash scripts/install.sh"


def read_table(
    info: SandboxInfo, database: str, pure_python: bool, batch_rows: int = 1000
) -> tuple[pa.Table, int, list[int]]:
    """(table, zero dates counted, rows per batch) as one reader reads ``database``.t."""
    meta = connect(address(info))
    try:
        table = describe_table(meta, database, TABLE)
    finally:
        meta.close()
    conn = connect(address(info), raw=True)
    counters = DecodeCounters()
    previous = os.environ.pop("BINLAKE_PURE_PYTHON", None)
    try:
        if pure_python:
            os.environ["BINLAKE_PURE_PYTHON"] = "1"
        batches = list(read_batches(conn, table, table.columns, batch_rows, counters))
    finally:
        os.environ.pop("BINLAKE_PURE_PYTHON", None)
        if previous is not None:
            os.environ["BINLAKE_PURE_PYTHON"] = previous
        conn.close()
    schema = pa.schema([arrow_field(column) for column in table.columns])
    return pa.Table.from_batches(batches, schema), counters.zero_dates, [b.num_rows for b in batches]


def assert_same(info: SandboxInfo, database: str, batch_rows: int = 1000) -> tuple[pa.Table, int]:
    """Both readers give the same table and counters; returns them."""
    python, python_zero_dates, _ = read_table(info, database, pure_python=True, batch_rows=batch_rows)
    compiled, compiled_zero_dates, _ = read_table(info, database, pure_python=False, batch_rows=batch_rows)
    assert compiled.schema == python.schema
    for name in python.column_names:
        assert compiled.column(name).equals(python.column(name)), f"column {name} differs"
    assert compiled.equals(python)
    assert compiled_zero_dates == python_zero_dates
    return python, python_zero_dates


def create(admin: MySQLdb.connections.Connection, database: str, columns: str, rows: list[str]) -> None:
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.`{TABLE}` ({columns})")
    for start in range(0, len(rows), 200):
        cur.execute(f"INSERT INTO `{database}`.`{TABLE}` VALUES {', '.join(rows[start : start + 200])}")


@pytest.mark.parametrize("type_case", MATRIX)
def test_type_matrix_reads_the_same_compiled_and_in_python(admin, sandbox_info, database, type_case):
    literals = [literal for literal, _ in type_case.values] + ["NULL"]
    cur = admin.cursor()
    cur.execute(f"SET SESSION time_zone = '{test_types.INSERT_TIME_ZONE}'")
    create(
        admin, database, f"id INT PRIMARY KEY, v {type_case.column}", [f"({i}, {v})" for i, v in enumerate(literals)]
    )
    table, _ = assert_same(sandbox_info, database)
    assert table.num_rows == len(literals)
    assert table.schema.field("v").type == type_case.arrow


def test_zero_and_invalid_dates_are_null_and_counted_alike(admin, sandbox_info, database):
    cur = admin.cursor()
    cur.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
    rows = [
        "(1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00')",
        "(2, '2024-00-15', '2024-05-00 10:00:00.5', '2024-01-01 00:00:00')",
        "(3, '2024-02-30', '2023-02-29 23:59:59.999999', '2024-02-29 12:00:00')",
        "(4, '0000-01-01', '2024-04-31 00:00:00', NULL)",
        "(5, '2024-02-29', '1000-01-01 00:00:00', '1970-01-01 00:00:01')",
        "(6, NULL, NULL, '2038-01-19 03:14:07.999999')",
    ]
    create(
        admin,
        database,
        "id INT PRIMARY KEY, d DATE, dt DATETIME(6), ts TIMESTAMP(6) NULL",
        rows,
    )
    table, zero_dates = assert_same(sandbox_info, database, batch_rows=4)
    assert zero_dates == 9
    assert table.column("d").null_count == 5


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_randomized_tables_read_the_same(admin, sandbox_info, database, seed):
    rng = random.Random(seed)
    columns = []
    while len(columns) < 24:
        column = random_column(rng, f"c{len(columns)}")
        if not column.generated:
            columns.append(column)
    definition = "id INT PRIMARY KEY, " + ", ".join(c.definition() for c in columns)
    rows = [f"({i}, {', '.join(random_literal(rng, c) for c in columns)})" for i in range(300)]
    admin.cursor().execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ALLOW_INVALID_DATES')")
    try:
        create(admin, database, definition, rows)
    except MySQLdb.OperationalError as exc:
        if exc.args[0] != 1118:  # row size too large: fewer, smaller text columns
            raise
        pytest.skip(f"seed {seed}: row too large for InnoDB")
    table, _ = assert_same(sandbox_info, database, batch_rows=37)
    assert table.num_rows == 300


def test_empty_table_and_nulls_everywhere(admin, sandbox_info, database):
    columns = [case.values[0].column for case in MATRIX]
    definition = "id INT PRIMARY KEY, " + ", ".join(f"c{i} {column}" for i, column in enumerate(columns))
    create(admin, database, definition, [])
    table, _ = assert_same(sandbox_info, database)
    assert table.num_rows == 0
    admin.cursor().execute(
        f"INSERT INTO `{database}`.`{TABLE}` (id) VALUES " + ", ".join(f"({i})" for i in range(2500))
    )
    table, _ = assert_same(sandbox_info, database, batch_rows=1000)
    assert table.num_rows == 2500
    assert all(table.column(f"c{i}").null_count == 2500 for i in range(len(columns)))


def test_integer_extremes_of_every_width(admin, sandbox_info, database):
    widths = {"TINYINT": 8, "SMALLINT": 16, "MEDIUMINT": 24, "INT": 32, "BIGINT": 64}
    definitions, bounds = [], []
    for name, bits in widths.items():
        definitions += [f"s_{name} {name}", f"u_{name} {name} UNSIGNED"]
        bounds.append((-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
        bounds.append((0, 2**bits - 1))
    rows = []
    for i, pick in enumerate([0, 1, None]):
        values = ["NULL" if pick is None else str(bound[pick]) for bound in bounds]
        rows.append(f"({i}, {', '.join(values)})")
    create(admin, database, "id INT PRIMARY KEY, " + ", ".join(definitions), rows)
    table, _ = assert_same(sandbox_info, database)
    assert table.column("u_BIGINT").to_pylist() == [0, 2**64 - 1, None]
    assert table.column("s_BIGINT").to_pylist() == [-(2**63), 2**63 - 1, None]


def test_long_blobs_end_batches_early_and_read_the_same(admin, sandbox_info, database, monkeypatch):
    monkeypatch.setattr(compiled_snapshot, "MAX_BATCH_BYTES", 1_000_000)
    rows = [f"({i}, REPEAT(X'{bytes(range(256)).hex()}', {300 + i}), REPEAT('é', {i}))" for i in range(20)]
    create(admin, database, "id INT PRIMARY KEY, b LONGBLOB, s LONGTEXT", rows)
    assert_same(sandbox_info, database, batch_rows=1000)
    _, _, batch_rows = read_table(sandbox_info, database, pure_python=False, batch_rows=1000)
    assert sum(batch_rows) == 20
    assert len(batch_rows) == 2  # 20 rows of ~77-82 kB: the first batch ends before 1 MB


# ---- server texts read with a given column type: both parsers over whole classes of input ----


def decode_both(info: SandboxInfo, select: str, column: Column) -> tuple[object, object]:
    """The result of ``select`` (one column) decoded as ``column`` by each path: an Array, or the exception."""
    outcomes: list[object] = []
    for compiled in (False, True):
        conn = connect(address(info), raw=True)
        try:
            conn.query(select)
            if compiled:
                schema = pa.schema([arrow_field(column)])
                batches = list(
                    compiled_snapshot.read_compiled_batches(
                        native.extension("_fetch"), conn, [column], schema, 100_000, DecodeCounters()
                    )
                )
                outcomes.append(pa.Table.from_batches(batches, schema).column(0).combine_chunks())
            else:
                rows = conn.use_result().fetch_row(maxrows=0)
                outcomes.append(decode_text_column([row[0] for row in rows], column, DecodeCounters()))
        except pa.ArrowInvalid as exc:
            outcomes.append(("ArrowInvalid", str(exc).split(":")[0]))
        finally:
            conn.close()
    return outcomes[0], outcomes[1]


def union(literals: list[str]) -> str:
    return " UNION ALL ".join(f"SELECT {literal} AS v" for literal in literals)


def test_float_and_double_texts_parse_exactly_as_arrow_casts_them(sandbox_info):
    rng = random.Random(7)
    texts = []
    for _ in range(400):
        bits = rng.getrandbits(64)
        value = struct.unpack("<d", struct.pack("<Q", bits))[0]
        if value == value and abs(value) != float("inf"):
            texts.append(repr(value))
        texts.append(f"{rng.uniform(-1e6, 1e6):.{rng.randint(1, 25)}g}")
        texts.append(f"{rng.randint(1, 10**20)}e{rng.randint(-60, 40)}")
    texts += ["3.4028235677973366e38", "1.401298464324817e-45", "7e-46", "0.1", "-0", "16777217", "1e-320"]
    for data_type in ("double", "float"):
        column = Column("v", data_type, data_type)
        python, compiled = decode_both(sandbox_info, union([f"'{t}'" for t in texts]), column)
        assert isinstance(compiled, pa.Array)
        assert compiled.equals(python), data_type


@pytest.mark.parametrize(
    "sequence",
    [
        "61",
        "C3A9",
        "E69DB1",
        "F09F9880",
        "FF",
        "C0AF",
        "C1BF",
        "E08080",
        "E09FBF",
        "EDA080",
        "EDBFBF",
        "F08F8080",
        "F4908080",
        "F5808080",
        "C3",
        "E69D",
        "F09F98",
        "80",
        "6161616161616161FF",
        "EFBFBF",
        "F48FBFBF",
    ],
)
def test_utf8_validation_accepts_and_rejects_what_the_python_path_does(sandbox_info, sequence):
    column = Column("v", "varchar", "varchar(10)")
    select = union([f"CAST(X'{sequence}' AS CHAR CHARACTER SET binary)", "'ok'"])
    python, compiled = decode_both(sandbox_info, select, column)
    if isinstance(python, pa.Array):
        assert isinstance(compiled, pa.Array) and compiled.equals(python)
    else:
        assert compiled == python


def test_a_connection_lost_mid_read_raises_what_the_python_path_raises(admin, sandbox_info):
    """The engine turns mysqlclient's errors into one-line causes (source.connection.explain): the compiled
    reader raises the same class with the same code."""
    errors = []
    for compiled in (False, True):
        conn = connect(address(sandbox_info), raw=True)
        try:
            conn.query("SELECT seq, REPEAT('x', 200) FROM mysql.seq_1_to_2000000")
            admin.cursor().execute(f"KILL CONNECTION {conn.thread_id()}")
            columns = [Column("seq", "bigint", "bigint unsigned"), Column("x", "varchar", "varchar(200)")]
            schema = pa.schema([arrow_field(c) for c in columns])
            with pytest.raises(MySQLdb.Error) as raised:
                if compiled:
                    fetch = native.extension("_fetch")
                    list(
                        compiled_snapshot.read_compiled_batches(fetch, conn, columns, schema, 10_000, DecodeCounters())
                    )
                else:
                    result = conn.use_result()
                    while result.fetch_row(maxrows=10_000):
                        pass
            errors.append((type(raised.value), raised.value.args[0]))
        finally:
            conn.close()
    assert errors[1] == errors[0]
    assert errors[0][1] in (2013, 1927, 2006)


# ---- build, fallback, --version ----


def test_version_names_the_active_path():
    env = {k: v for k, v in os.environ.items() if k != "BINLAKE_PURE_PYTHON"}
    binlake = str(Path(sys.executable).parent / "binlake")
    compiled = subprocess.run([binlake, "--version"], capture_output=True, text=True, env=env, check=True)
    assert compiled.stdout == "binlake 0.1.0 (full load: compiled, cdc decoder: compiled)\n"
    env["BINLAKE_PURE_PYTHON"] = "1"
    pure = subprocess.run([binlake, "--version"], capture_output=True, text=True, env=env, check=True)
    assert pure.stdout == "binlake 0.1.0 (full load: python, cdc decoder: python)\n"


HIDE_EXTENSION = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name in ("binlake.native._fetch", "binlake.native._rows"):
            raise ImportError("hidden by the test")
sys.meta_path.insert(0, Hide())
from binlake.cli.main import run
sys.argv = ["binlake", *sys.argv[1:]]
run()
"""


def test_pure_python_and_a_missing_extension_load_the_same_file(
    admin, binlake: Binlake, bucket: Path, database, endpoints
):
    rows = [f"({i}, {i * 7 % 1000}.25, 'é{i}', '2024-01-{i % 28 + 1:02d} 10:00:00', NULL)" for i in range(500)]
    create(admin, database, "id INT PRIMARY KEY, amount DECIMAL(10,2), name VARCHAR(20), at DATETIME, n INT", rows)
    load_file = bucket / "hub" / database / TABLE / "LOAD00000001.parquet"
    create_task(binlake, "load", mappings(database, TABLE))
    assert run_task(binlake, "load").exit_code == 0
    compiled = pq.read_table(load_file)
    assert compiled.num_rows == 500

    pure = binlake.run_process(
        "start-replication-task", "--replication-task-arn", "load", "--start-replication-task-type",
        "reload-target", "--quiet", env={"BINLAKE_PURE_PYTHON": "1"},
    )  # fmt: skip
    assert pure.exit_code == 0, pure.stderr
    assert pq.read_table(load_file).equals(compiled)

    load_file.unlink()
    env = {k: v for k, v in os.environ.items() if k != "BINLAKE_PURE_PYTHON"}
    hidden = [sys.executable, "-c", HIDE_EXTENSION, "--state-dir", str(binlake.state_dir)]
    version = subprocess.run([*hidden, "--version"], capture_output=True, text=True, env=env, check=True)
    assert version.stdout == "binlake 0.1.0 (full load: python, cdc decoder: python)\n"
    load = subprocess.run(
        [*hidden, "start-replication-task", "--replication-task-arn", "load", "--start-replication-task-type",
         "reload-target", "--quiet"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert load.returncode == 0, load.stderr
    assert "Traceback" not in load.stderr
    assert pq.read_table(load_file).equals(compiled)


def test_a_read_abandoned_midway_shuts_the_connection_instead_of_reading_the_rest(sandbox_info):
    """A stop request mid-table must not wait for the rest of the table to stream in (mysql_free_result would
    read all of it): the compiled reader shuts the connection down; the caller closes it anyway."""
    conn = connect(address(sandbox_info), raw=True)
    try:
        conn.query("SELECT seq, REPEAT('x', 100) FROM mysql.seq_1_to_100000000")
        columns = [Column("seq", "bigint", "bigint unsigned"), Column("x", "varchar", "varchar(100)")]
        schema = pa.schema([arrow_field(c) for c in columns])
        fetch = native.extension("_fetch")
        batches = compiled_snapshot.read_compiled_batches(fetch, conn, columns, schema, 1000, DecodeCounters())
        assert next(batches).num_rows == 1000
        batches.close()
        with pytest.raises(MySQLdb.OperationalError):
            conn.query("SELECT 1")
    finally:
        conn.close()
