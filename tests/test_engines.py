"""The lake read by other engines: ``crawl --dialect`` views run in Apache Spark itself (pyspark, local[1]),
compared with DuckDB's views and with the source; the commit-order column against the source's binlog."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from binlake.position import BinlogPosition
from binlake.target.naming import date_partition
from tests.conftest import Binlake
from tests.helpers import (
    create_cdc_task,
    db_name,
    execute,
    master_position,
    mysql_rows,
    start_detached,
    stop,
    wait_caught_up,
    wait_streaming,
)
from tests.lake import target_settings

ORDER = "binlake_commit_order"
ITEMS = (
    "CREATE TABLE `{db}`.items (id INT PRIMARY KEY, name VARCHAR(40), qty INT, price DECIMAL(10,2), "
    "seen DATETIME(6), flag TINYINT UNSIGNED, big BIGINT UNSIGNED, data VARBINARY(8))"
)
VISITS = "CREATE TABLE `{db}`.visits (page VARCHAR(20), hits INT)"


@pytest.fixture(scope="module")
def spark_starting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future]:
    """One local Spark session for the module (one core, small memory, no UI, quiet logs), started in the
    background: a test sets up its lake meanwhile and takes the session with ``.result()``."""
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    with ThreadPoolExecutor(1) as pool:
        starting = pool.submit(start_spark, warehouse)
        yield starting
        starting.result().stop()


def start_spark(warehouse: Path) -> object:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("binlake-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "512m")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.ui.showConsoleProgress", "false")
        # The JIT's first tier only and the serial collector: on 2 shared cores this halves start-up and the
        # first queries, which is all a test's small lake needs.
        .config(
            "spark.driver.extraJavaOptions", f"-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.io.tmpdir={warehouse}"
        )
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def run_script(spark, sql: str) -> None:
    """Run a generated script statement by statement, as spark-sql -f would."""
    for statement in statements(sql):
        spark.sql(statement)


def statements(sql: str) -> list[str]:
    body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return [s.strip() for s in re.split(r";\s*\n", body) if s.strip()]


def normal(value: object) -> object:
    """One representation per value across Spark, DuckDB and MySQLdb rows."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Decimal) and value == value.to_integral_value() and value.as_tuple().exponent == 0:
        return int(value)
    return value


def rows(result: list) -> list[tuple]:
    return [tuple(normal(v) for v in row) for row in result]


def workload(admin, db: str, part: int) -> None:
    """Inserts, updates, deletes, key changes, and several changes of one key in one transaction (so in
    one CDC file), for a table with a key and one without; in two parts."""
    if part == 2:
        workload_2(admin, db)
        return
    execute(
        admin,
        "START TRANSACTION",
        f"UPDATE `{db}`.items SET name = 'first', qty = 1 WHERE id = 1",
        f"UPDATE `{db}`.items SET name = 'second', qty = 2 WHERE id = 1",
        f"UPDATE `{db}`.items SET name = 'third', qty = 3 WHERE id = 1",
        f"DELETE FROM `{db}`.items WHERE id = 2",
        f"INSERT INTO `{db}`.items (id, name, qty) VALUES (2, 'reborn', 22)",
        f"UPDATE `{db}`.items SET id = 3000 WHERE id = 3",
        f"UPDATE `{db}`.items SET id = 4000 WHERE id = 4",
        f"UPDATE `{db}`.items SET id = 4 WHERE id = 4000",
        f"INSERT INTO `{db}`.items (id, name) VALUES (5000, 'gone soon')",
        f"UPDATE `{db}`.items SET qty = 50 WHERE id = 5000",
        f"DELETE FROM `{db}`.items WHERE id = 5000",
        f"INSERT INTO `{db}`.items (id, name) VALUES (6000, 'deleted then back')",
        f"DELETE FROM `{db}`.items WHERE id = 6000",
        f"INSERT INTO `{db}`.items (id, name, qty) VALUES (6000, 'back', 60)",
        "COMMIT",
    )


def workload_2(admin, db: str) -> None:
    execute(
        admin,
        f"UPDATE `{db}`.items SET price = price + 1, big = big + 1 WHERE id BETWEEN 10 AND 40",
        f"DELETE FROM `{db}`.items WHERE id BETWEEN 41 AND 60",
        f"UPDATE `{db}`.items SET name = 'fifth', qty = 5 WHERE id = 1",
        f"INSERT INTO `{db}`.visits VALUES ('a', 1), ('a', 1), ('b', 2)",
        "START TRANSACTION",
        f"UPDATE `{db}`.visits SET hits = 9 WHERE page = 'a' LIMIT 1",
        f"DELETE FROM `{db}`.visits WHERE page = 'b' LIMIT 1",
        f"INSERT INTO `{db}`.visits VALUES ('c', 3), ('c', 3)",
        "COMMIT",
    )


def two_lakes(binlake: Binlake, admin, database: str, bucket: Path) -> None:
    """One source replicated by two running tasks: ``ordered`` writes the commit-order column, ``plain``
    does not and writes its CDC files into date folders (DatePartitionEnabled, DDMMYYYY: folder names that do
    not sort by date)."""
    execute(admin, ITEMS.format(db=database), VISITS.format(db=database))
    execute(
        admin,
        f"INSERT INTO `{database}`.items SELECT seq, concat('item ', seq), seq % 7, seq * 1.25, "
        "TIMESTAMP('2026-01-16 12:00:00.123456') + INTERVAL seq SECOND, seq % 256, 18446744073709551000 + seq % 500, "
        f"unhex(lpad(hex(seq), 4, '0')) FROM `{database}`.seq_1_to_200",
        f"INSERT INTO `{database}`.visits VALUES ('a', 1), ('z', NULL)",
    )
    start_ordered_and_plain(
        binlake, database, bucket, {"DatePartitionEnabled": True, "DatePartitionSequence": "DDMMYYYY"}
    )


def start_ordered_and_plain(binlake: Binlake, database: str, bucket: Path, plain: dict[str, object]) -> None:
    """Two running CDC tasks of ``database``: ``ordered`` (lake bucket/ordered) writes the commit-order column,
    ``plain`` (bucket/plain) has the target settings ``plain``."""
    for name, extra in (("ordered", {"CdcCommitOrderColumnName": ORDER}), ("plain", plain)):
        settings = target_settings(bucket / name, CdcMaxBatchInterval=0.2, **extra)
        (bucket / name).mkdir()
        binlake.ok("create-endpoint", "--endpoint-identifier", name, "--endpoint-type", "target",
                   "--engine-name", "s3", "--s3-settings", settings)  # fmt: skip
        create_cdc_task(binlake, name, database, target=name)
        start_detached(binlake, name)
    for name in ("ordered", "plain"):
        wait_streaming(binlake, name)


def move_to_the_day_before(lake: Path) -> None:
    """The date-partitioned lake's CDC files so far: moved to the day before, into that day's folder, and
    named for it (so they still sort first), as if written before midnight."""
    for path in list(lake.rglob("2*.parquet")):
        table = path.parents[3]  # <table>/DD/MM/YYYY/<file>
        day = datetime.datetime.strptime(path.name[:8], "%Y%m%d") - datetime.timedelta(days=1)
        folder = table / date_partition(day, "DDMMYYYY", "SLASH")
        folder.mkdir(parents=True, exist_ok=True)
        path.rename(folder / (f"{day:%Y%m%d}" + path.name[8:]))


ITEM_COLUMNS = "id, name, qty, price, seen, flag, big, data"


def test_spark_views_match_duckdb_and_the_source(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, spark_starting: Future, tmp_path: Path
) -> None:
    """The Spark views of both lakes, created before any CDC file, give the source's current state, as
    DuckDB's views do; the change log holds every file's rows once, CDC files in two date folders included."""
    two_lakes(binlake, admin, database, bucket)
    spark = spark_starting.result()
    for name in ("ordered", "plain"):
        catalog = f"{name}_db"  # one Spark database per lake
        script = tmp_path / f"{name}.spark.sql"
        binlake.ok("crawl", "--replication-task-arn", name, "--database", catalog, "--dialect", "spark",
                   "--sql-file", str(script))  # fmt: skip
        assert ("commit-order column" in script.read_text()) == (name == "ordered")
        assert not list((bucket / name).rglob("2*.parquet"))  # no CDC file yet
        run_script(spark, script.read_text())
    workload(admin, database, 1)
    for name in ("ordered", "plain"):
        wait_caught_up(binlake, name, admin)
    move_to_the_day_before(bucket / "plain")
    workload(admin, database, 2)
    for name in ("ordered", "plain"):
        wait_caught_up(binlake, name, admin)
    assert len({p.parent for p in (bucket / "plain").rglob("items/*/*/*/2*.parquet")}) == 2  # two date folders
    source = rows(mysql_rows(admin, f"SELECT {ITEM_COLUMNS} FROM `{database}`.items ORDER BY id"))
    source_visits = rows(mysql_rows(admin, f"SELECT page, hits FROM `{database}`.visits ORDER BY page, hits"))
    assert len(source) == 200 - 20 + 1 and source[1][:3] == (2, "reborn", 22)
    for name in ("ordered", "plain"):
        catalog = f"{name}_db"
        # The views made before the first CDC file read the files written since (no REFRESH TABLE).
        in_spark = rows(spark.sql(f"SELECT {ITEM_COLUMNS} FROM {catalog}.items ORDER BY id").collect())
        # DuckDB: the same lake through the duckdb dialect's script, in a fresh connection.
        duck = duckdb.connect()
        duck.execute(
            binlake.ok("crawl", "--replication-task-arn", name, "--database", catalog, "--dialect", "duckdb").stdout
        )
        in_duckdb = rows(duck.execute(f"SELECT {ITEM_COLUMNS} FROM {catalog}.items ORDER BY id").fetchall())
        assert in_spark == in_duckdb
        assert [r[:4] + r[5:] for r in in_spark] == [r[:4] + r[5:] for r in source]  # seen: Spark's NTZ timestamp
        assert [r[4] for r in in_spark] == [r[4] for r in source]
        visits = rows(spark.sql(f"SELECT page, hits FROM {catalog}.visits ORDER BY page, hits NULLS FIRST").collect())
        assert visits == rows(
            duck.execute(f"SELECT page, hits FROM {catalog}.visits ORDER BY page, hits NULLS FIRST").fetchall()
        )
        assert sorted(visits, key=str) == sorted(source_visits, key=str)
        written = sum(pq.read_metadata(p).num_rows for p in (bucket / name).rglob("*.parquet") if "/items/" in str(p))
        logged = spark.sql(f"SELECT count(*) FROM {catalog}.items__changes").collect()[0][0]
        assert logged == written
        for dialect in ("athena", "trino"):
            text = binlake.ok(
                "crawl", "--replication-task-arn", name, "--database", catalog, "--dialect", dialect
            ).stdout
            check_ddl_types(text, dialect, duck, bucket / name)
        trino = binlake.ok("crawl", "--replication-task-arn", name, "--database", catalog, "--dialect", "trino").stdout
        run_trino_views_in_spark(spark, trino, catalog)
        in_trino = rows(spark.sql(f"SELECT {ITEM_COLUMNS} FROM trino_{catalog}.items ORDER BY id").collect())
        if name == "ordered":
            assert in_trino == source
        else:
            assert_exact_at_file_granularity(in_trino, source, bucket / name)
        trino_visits = spark.sql(f"SELECT page, hits FROM trino_{catalog}.visits").collect()
        assert sorted(rows(trino_visits), key=str) == sorted(source_visits, key=str)
        duck.close()
    for name in ("ordered", "plain"):
        stop(binlake, name)


STALE_COLUMNS = "id, name, qty, price, flag, big, data"


def test_spark_views_never_go_stale(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, spark_starting: Future
) -> None:
    """Views made once, before the table's first CDC file, and never crawled again: after changes, after CDC
    files in a new date folder, after ALTER TABLE ADD COLUMN and after a reload-target (and changes after
    it), Spark's current state is the source's and DuckDB's, new columns included, and its change log reads
    every file once; the Trino views, run in Spark over tables of the crawled columns, stay exact for those.
    A key column renamed after the crawl fails the query in both engines with "run binlake crawl"."""
    execute(admin, ITEMS.format(db=database), VISITS.format(db=database))
    execute(
        admin,
        f"INSERT INTO `{database}`.items SELECT seq, concat('item ', seq), seq % 7, seq * 1.25, NULL, seq % 256, "
        f"18446744073709551000 + seq % 500, unhex(lpad(hex(seq), 4, '0')) FROM `{database}`.seq_1_to_200",
        f"INSERT INTO `{database}`.visits VALUES ('a', 1), ('a', 1), ('z', NULL)",
    )
    lake = bucket / "fresh"
    lake.mkdir()
    settings = target_settings(lake, CdcMaxBatchInterval=0.2, CdcCommitOrderColumnName=ORDER,
                               DatePartitionEnabled=True, DatePartitionSequence="DDMMYYYY")  # fmt: skip
    binlake.ok("create-endpoint", "--endpoint-identifier", "fresh", "--endpoint-type", "target",
               "--engine-name", "s3", "--s3-settings", settings)  # fmt: skip
    create_cdc_task(binlake, "fresh", database, target="fresh")
    start_detached(binlake, "fresh")
    wait_streaming(binlake, "fresh")
    catalog = "fresh_db"
    crawl = ("crawl", "--replication-task-arn", "fresh", "--database", catalog, "--dialect")
    spark = spark_starting.result()
    run_script(spark, binlake.ok(*crawl, "spark").stdout)
    duck = duckdb.connect()
    duck.execute(binlake.ok(*crawl, "duckdb").stdout)
    trino = binlake.ok(*crawl, "trino").stdout
    assert not list(lake.rglob("2*.parquet"))  # no CDC file yet: no file has Op or the commit-order column

    def same_everywhere(items: str = STALE_COLUMNS, visits: str = "page, hits") -> None:
        wait_caught_up(binlake, "fresh", admin)
        source = rows(mysql_rows(admin, f"SELECT {items} FROM `{database}`.items ORDER BY id"))
        assert rows(spark.sql(f"SELECT {items} FROM {catalog}.items ORDER BY id").collect()) == source
        assert rows(duck.execute(f"SELECT {items} FROM {catalog}.items ORDER BY id").fetchall()) == source
        by = f"ORDER BY {visits.replace(',', ' NULLS FIRST,')} NULLS FIRST"
        source_visits = rows(mysql_rows(admin, f"SELECT {visits} FROM `{database}`.visits ORDER BY {visits}"))
        assert rows(spark.sql(f"SELECT {visits} FROM {catalog}.visits {by}").collect()) == source_visits
        assert rows(duck.execute(f"SELECT {visits} FROM {catalog}.visits {by}").fetchall()) == source_visits
        written = sum(pq.read_metadata(p).num_rows for p in lake.rglob("*.parquet") if "/items/" in str(p))
        assert spark.sql(f"SELECT count(*) FROM {catalog}.items__changes").collect()[0][0] == written
        # Athena and Trino read the columns their tables declare: those stay exact, a new one is not shown.
        run_trino_views_in_spark(spark, trino, catalog)
        crawled = rows(mysql_rows(admin, f"SELECT {STALE_COLUMNS} FROM `{database}`.items ORDER BY id"))
        in_trino = spark.sql(f"SELECT * FROM trino_{catalog}.items ORDER BY id")
        assert ", ".join(in_trino.columns) == "id, name, qty, price, seen, flag, big, data"
        assert rows(in_trino.drop("seen").collect()) == crawled

    same_everywhere()
    workload(admin, database, 1)
    same_everywhere()  # Spark has listed the files: the views must list them again at each query
    move_to_the_day_before(lake)
    workload(admin, database, 2)
    same_everywhere()
    assert len({p.parent for p in lake.rglob("items/*/*/*/2*.parquet")}) == 2  # two date folders
    execute(
        admin,
        f"ALTER TABLE `{database}`.items ADD COLUMN note VARCHAR(20)",
        f"UPDATE `{database}`.items SET note = concat('noted ', id), qty = qty + 1 WHERE id BETWEEN 5 AND 9",
        f"INSERT INTO `{database}`.items (id, name, note) VALUES (7000, 'late', 'with a note')",
        f"ALTER TABLE `{database}`.visits ADD COLUMN source VARCHAR(10)",
        f"INSERT INTO `{database}`.visits VALUES ('s', 5, 'web'), ('s', 5, 'web'), ('s', 5, NULL)",
        f"DELETE FROM `{database}`.visits WHERE source = 'web' LIMIT 1",
    )
    same_everywhere(STALE_COLUMNS + ", note", "page, hits, source")
    assert "note" not in trino  # crawled before the column existed
    stop(binlake, "fresh")
    execute(admin, f"DELETE FROM `{database}`.items WHERE id BETWEEN 100 AND 120",
            f"UPDATE `{database}`.items SET note = 'while stopped' WHERE id = 130")  # fmt: skip
    start_detached(binlake, "fresh", "reload-target")
    wait_streaming(binlake, "fresh")
    same_everywhere(STALE_COLUMNS + ", note", "page, hits, source")
    execute(admin, f"UPDATE `{database}`.items SET note = 'after the reload', qty = 0 WHERE id <= 3",
            f"DELETE FROM `{database}`.items WHERE id = 7000")  # fmt: skip
    same_everywhere(STALE_COLUMNS + ", note", "page, hits, source")
    # A key column renamed after the crawl: the changes after it have no value in the crawled key, and the
    # current state can no longer be merged by it: the query fails and says to crawl again.
    execute(admin, f"ALTER TABLE `{database}`.items RENAME COLUMN id TO item_id",
            f"UPDATE `{database}`.items SET qty = 99 WHERE item_id = 10")  # fmt: skip
    wait_caught_up(binlake, "fresh", admin)
    with pytest.raises(Exception, match="run binlake crawl"):
        spark.sql(f"SELECT * FROM {catalog}.items").collect()
    with pytest.raises(duckdb.Error, match="run binlake crawl"):
        duck.execute(f"SELECT * FROM {catalog}.items").fetchall()
    run_trino_views_in_spark(spark, trino, catalog)
    with pytest.raises(Exception, match="run binlake crawl"):
        spark.sql(f"SELECT * FROM trino_{catalog}.items").collect()
    duck.close()
    stop(binlake, "fresh")


def test_spark_views_read_only_their_table_folder(spark_starting: Future, tmp_path: Path) -> None:
    """Spark globs the paths it reads: the view of a table named with glob characters (``a*``, ``c{x,y}``,
    ``d[1]``, ``e?``) reads its own folder only, never a neighbour's whose name the pattern matches
    (invariant 7), as DuckDB's view of the same folder does."""
    import pyarrow as pa

    from binlake.catalog.dialects import TableView, duckdb_views, spark_views

    folders = {"a*": 1, "ab": 2, "c{x,y}": 3, "cx": 4, "d[1]": 5, "d1": 6, "e?": 7, "ee": 8}
    for name, value in folders.items():
        (tmp_path / name).mkdir()
        pq.write_table(pa.table({"id": pa.array([value], pa.int32())}), tmp_path / name / "LOAD00000001.parquet")
    spark = spark_starting.result()
    duck = duckdb.connect()
    for number, (name, value) in enumerate(folders.items()):
        view = TableView("globbed_db", f"t{number}", str(tmp_path / name), [pa.field("id", pa.int32())], ["id"], "")
        run_script(spark, "\n".join(spark_views(view)))
        duck.execute("\n".join(duckdb_views(view)))
        assert [r[0] for r in spark.sql(f"SELECT id FROM globbed_db.t{number}").collect()] == [value], name
        assert duck.execute(f"SELECT id FROM globbed_db.t{number}").fetchall() == [(value,)], name


# Types DuckDB reads from binlake's Parquet files, as Trino's and Athena's Hive tables declare them: the
# unsigned integers widened to the next signed type (neither engine has unsigned types), zoned timestamps as
# the Hive connector's plain timestamp.
WIDENED = {
    "UTINYINT": "SMALLINT",
    "USMALLINT": "INTEGER",
    "UINTEGER": "BIGINT",
    "UBIGINT": "DECIMAL(20, 0)",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
}


def check_ddl_types(sql: str, dialect: str, duck, lake: Path) -> None:
    """Every statement parses in ``dialect`` (sqlglot), and each table's declared columns are the Parquet
    files' columns (as DuckDB reads them) with the types the engine needs for them, plus Op."""
    import sqlglot
    from sqlglot import exp

    parsed = [sqlglot.parse_one(s, read=dialect) for s in statements(sql)]  # a syntax error raises
    tables = [p for p in parsed if isinstance(p, exp.Create) and p.kind == "TABLE"]
    assert len(tables) == 2 and len([p for p in parsed if isinstance(p, exp.Create) and p.kind == "VIEW"]) == 4
    for create in tables:
        table = create.this.this.name.removesuffix("__files")
        declared = {c.name: c.args["kind"].sql("trino") for c in create.this.expressions}
        files = next(lake.rglob(f"{table}/LOAD*.parquet")).parent
        described = duck.execute(
            f"DESCRIBE SELECT * FROM read_parquet('{files}/**/*.parquet', union_by_name = true)"
        ).fetchall()
        expected = {"Op": "VARCHAR"}
        for column, duck_type, *_ in described:
            trino = sqlglot.parse_one(f"CAST(x AS {duck_type})", read="duckdb").to.sql("trino")
            expected[column] = WIDENED.get(trino, trino)
        assert declared == expected


def run_trino_views_in_spark(spark, sql: str, catalog: str) -> None:
    """Spark stands in for Trino: each Hive table of ``sql`` becomes a Spark table of the same files with the
    same declared columns (so, as in Trino, a column the files gained later is not read), made afresh at each
    call (Trino lists the files at each query), under a view that adds Trino's ``$path``; sqlglot translates
    the Trino views to Spark SQL. Spark's row order inside a file is not used."""
    import sqlglot

    spark.sql(f"CREATE DATABASE IF NOT EXISTS trino_{catalog}")
    for statement in statements(sql):
        if statement.startswith("CREATE TABLE"):
            create = sqlglot.parse_one(statement, read="trino")
            table = create.this.this.name.removesuffix("__files")
            columns = ", ".join(f"`{c.name}` {c.args['kind'].sql('spark')}" for c in create.this.expressions)
            location = re.search(r"external_location = '([^']+)'", statement).group(1)
            hive = f"trino_{catalog}.{table}__hive"
            spark.sql(f"DROP TABLE IF EXISTS {hive}")
            spark.sql(
                f"CREATE TABLE {hive} ({columns}) USING parquet OPTIONS (recursiveFileLookup 'true', "
                f"pathGlobFilter '*.parquet') LOCATION '{location}'"
            )
            spark.sql(
                f"CREATE OR REPLACE VIEW trino_{catalog}.{table}__files AS "
                f"SELECT *, _metadata.file_path AS `$path` FROM {hive}"
            )
        elif statement.startswith("CREATE OR REPLACE VIEW"):
            spark_sql = sqlglot.transpile(statement, read="trino", write="spark")[0]
            spark.sql(spark_sql.replace(f"hive.`{catalog}`", f"trino_{catalog}"))


def assert_exact_at_file_granularity(lake_rows: list[tuple], source: list[tuple], lake: Path) -> None:
    """What docs/engines.md says of a view without the commit-order column and without row positions: every
    key is exact, except a key with two or more changes in its last CDC file, which holds one of them."""
    cdc = sorted((p for p in lake.rglob("2*.parquet") if "/items/" in str(p)), key=lambda p: p.name)
    last: dict[int, list[dict]] = {}
    for path in cdc:
        changes: dict[int, list[dict]] = {}
        for change in pq.read_table(path).to_pylist():
            changes.setdefault(change["id"], []).append(change)
        last.update(changes)
    ambiguous = {key for key, changes in last.items() if len(changes) > 1}
    assert {1, 2, 4, 6000} & ambiguous  # the workload changes these keys several times in one transaction
    in_lake = {row[0]: row for row in lake_rows}
    in_source = {row[0]: row for row in source}
    for key in set(in_lake) | set(in_source):
        if key not in ambiguous:
            assert in_lake.get(key) == in_source.get(key), key
        else:
            names = ITEM_COLUMNS.split(", ")
            outcomes = [None if c["Op"] == "D" else tuple(normal(c[n]) for n in names) for c in last[key]]
            assert in_lake.get(key) in outcomes, key


def binlog_commits(admin) -> set[tuple[int, int]]:
    """(binlog file number, end position) of every XID event in the source's binlogs: where transactions
    commit, as the server lists them."""
    commits = set()
    # The Info column quotes statements with their bytes (other tests write binary values), which are not
    # UTF-8: read the events on a connection that returns bytes.
    import MySQLdb

    (socket,) = mysql_rows(admin, "SELECT @@socket")[0]
    raw = MySQLdb.connect(unix_socket=socket, user="root", use_unicode=False)
    try:
        for log_name, *_ in mysql_rows(raw, "SHOW BINARY LOGS"):
            for event in mysql_rows(raw, f"SHOW BINLOG EVENTS IN '{log_name.decode()}'"):
                if event[2] == b"Xid":
                    commits.add((int(log_name.rpartition(b".")[2]), int(event[4])))
    finally:
        raw.close()
    return commits


def order_values(directory: Path) -> list[tuple[str, list[str]]]:
    """Each CDC file's commit-order values, files in name order (commit order)."""
    files = sorted((p for p in directory.rglob("2*.parquet")), key=lambda p: p.name)
    return [(p.name, pq.read_table(p).column(ORDER).to_pylist()) for p in files]


def test_commit_order_column_follows_the_binlog(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path
) -> None:
    """Every CDC row's commit order names its transaction's XID position in the source's binlog and its index
    in the transaction; the values increase strictly across files, a transaction cut over several files, a
    restart and a reload; LOAD files have no such column, and the DuckDB catalog is the source's state."""
    execute(
        admin, f"CREATE TABLE `{database}`.wide (id INT PRIMARY KEY, pad VARCHAR(300), n INT)",
            f"INSERT INTO `{database}`.wide SELECT seq, repeat('x', 300), 0 FROM `{database}`.seq_1_to_2000",
    )  # fmt: skip
    settings = target_settings(bucket, CdcMaxBatchInterval=0.2, CdcCommitOrderColumnName=ORDER,
                               TimestampColumnName="ts")  # fmt: skip
    binlake.ok("create-endpoint", "--endpoint-identifier", "ordered", "--endpoint-type", "target",
               "--engine-name", "s3", "--s3-settings", settings)  # fmt: skip
    from tests.conftest import mappings

    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "ordered", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "ordered", "--migration-type", "full-load-and-cdc",
        "--table-mappings", mappings(database), "--replication-task-settings",
        '{"ChangeProcessingTuning": {"MemoryLimitTotal": 1}}',
    )  # fmt: skip
    start_detached(binlake, "ordered")
    wait_streaming(binlake, "ordered")
    wide = bucket / "hub" / database / "wide"
    execute(admin, f"UPDATE `{database}`.wide SET n = 1 WHERE id <= 10",
            f"UPDATE `{database}`.wide SET n = n + 1, pad = repeat('y', 300)")  # fmt: skip  # 2000 rows > the buffer
    wait_caught_up(binlake, "ordered", admin)
    stop(binlake, "ordered")
    execute(admin, f"UPDATE `{database}`.wide SET n = 7 WHERE id = 5", f"DELETE FROM `{database}`.wide WHERE id = 6")
    start_detached(binlake, "ordered", "resume-processing")
    wait_streaming(binlake, "ordered")
    execute(
        admin, f"UPDATE `{database}`.wide SET id = 6 WHERE id = 7", f"UPDATE `{database}`.wide SET n = 8 WHERE id = 6"
    )
    wait_caught_up(binlake, "ordered", admin)
    before_reload = order_values(wide)
    files = [name for name, _ in before_reload]
    values = [v for _, file_values in before_reload for v in file_values]
    # The big transaction is cut over several files and its indices continue from file to file.
    assert len(files) >= 4 and len(values) == 10 + 2000 + 2 + 3
    assert values == sorted(values) and len(set(values)) == len(values)
    commits = binlog_commits(admin)
    by_commit: dict[tuple[int, int], list[int]] = {}
    for value in values:
        assert re.fullmatch(r"\d{10}:\d{10}:\d{10}", value), value
        number, pos, index = (int(part) for part in value.split(":"))
        assert (number, pos) in commits  # a real COMMIT (XID) position of the source
        by_commit.setdefault((number, pos), []).append(index)
    assert sorted(len(v) for v in by_commit.values()) == [1, 1, 1, 2, 10, 2000]
    assert all(indices == list(range(len(indices))) for indices in by_commit.values())
    big = next(commit for commit, indices in by_commit.items() if len(indices) == 2000)
    prefix = f"{big[0]:010d}:{big[1]:010d}:"
    assert len([name for name, file_values in before_reload if any(v.startswith(prefix) for v in file_values)]) > 1
    assert ORDER not in pq.read_schema(next(wide.glob("LOAD*.parquet"))).names
    assert pq.read_schema(wide / files[0]).names[:3] == ["Op", "ts", ORDER]
    # A reload: new LOAD files, then changes whose order is above every earlier one.
    stop(binlake, "ordered")
    start_detached(binlake, "ordered", "reload-target")
    wait_streaming(binlake, "ordered")
    execute(admin, f"UPDATE `{database}`.wide SET n = 9 WHERE id = 1")
    wait_caught_up(binlake, "ordered", admin)
    after = [v for _, file_values in order_values(wide) for v in file_values]
    assert after and min(after) > max(values)
    binlake.ok("crawl", "--replication-task-arn", "ordered")
    sql = "SELECT id, n, pad FROM {db}.wide ORDER BY id"
    lake = binlake.ok("query", sql.format(db=db_name(database)), "--output", "json").json()
    assert [tuple(r.values()) for r in lake] == mysql_rows(admin, sql.format(db=f"`{database}`"))
    stop(binlake, "ordered")


def test_a_source_column_named_like_the_commit_order_column_stops_the_task(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path
) -> None:
    """A selected table with a column of the commit-order column's name stops the task at its start, before it
    writes anything. A column of that name added by ALTER TABLE while the task runs stops it at the first
    transaction that changes the table, before any file of that transaction is written (in any table) or the
    checkpoint passes it; resuming stops again at the same transaction (nothing is skipped)."""
    from tests.lake import task_row, wait_for

    execute(
        admin,
        f"CREATE TABLE `{database}`.clash (id INT PRIMARY KEY, `{ORDER}` VARCHAR(10))",
        f"CREATE TABLE `{database}`.pa (id INT PRIMARY KEY)",
        f"CREATE TABLE `{database}`.pb (id INT PRIMARY KEY)",
        f"INSERT INTO `{database}`.clash VALUES (1, 'mine')",
        f"INSERT INTO `{database}`.pa VALUES (1)",
        f"INSERT INTO `{database}`.pb VALUES (1)",
    )
    settings = target_settings(bucket, CdcMaxBatchInterval=0.2, CdcCommitOrderColumnName=ORDER)
    binlake.ok("create-endpoint", "--endpoint-identifier", "ordered", "--endpoint-type", "target",
               "--engine-name", "s3", "--s3-settings", settings)  # fmt: skip

    def message(table: str) -> str:
        return (
            f"CdcCommitOrderColumnName '{ORDER}' is also a column of {database}.{table} "
            "(fix: choose another CdcCommitOrderColumnName on the target endpoint)"
        )

    def wait_failed(task: str, table: str) -> dict:
        wait_for(lambda: task_row(binlake.state_dir, task)["status"] == "failed", timeout=60, what="stop")
        row = task_row(binlake.state_dir, task)
        assert row["last_failure_message"] == message(table)
        tasks = binlake.ok("describe-replication-tasks", "--output", "json").json()["ReplicationTasks"]
        described = {t["ReplicationTaskIdentifier"]: t for t in tasks}
        assert (described[task]["Status"], described[task]["LastFailureMessage"]) == ("failed", message(table))
        return row

    # At the start: refused before the full load, nothing written.
    create_cdc_task(binlake, "clashing", database, target="ordered", table="clash")
    started = binlake.run_process("start-replication-task", "--replication-task-arn", "clashing",
                                  "--start-replication-task-type", "start-replication", "--detach")  # fmt: skip
    assert started.exit_code in (0, 1), started.stderr  # 1 if it stopped before --detach returned
    wait_failed("clashing", "clash")
    assert list(bucket.rglob("clash/*")) == []

    # While running: the column arrives by ALTER TABLE, then a transaction changes both tables.
    create_cdc_task(binlake, "running", database, target="ordered", table="p%")
    start_detached(binlake, "running")
    wait_streaming(binlake, "running")
    execute(admin, f"ALTER TABLE `{database}`.pb ADD COLUMN `{ORDER}` VARCHAR(10)")
    before = master_position(admin)
    execute(
        admin,
        "START TRANSACTION",
        f"INSERT INTO `{database}`.pa VALUES (2)",
        f"UPDATE `{database}`.pb SET `{ORDER}` = 'changed' WHERE id = 1",
        "COMMIT",
    )
    for attempt in ("first", "resumed"):
        if attempt == "resumed":
            resumed = binlake.run_process("start-replication-task", "--replication-task-arn", "running",
                                          "--start-replication-task-type", "resume-processing", "--detach")  # fmt: skip
            assert resumed.exit_code in (0, 1), resumed.stderr
        row = wait_failed("running", "pb")
        assert BinlogPosition.parse(row["cdc_checkpoint"]) <= before
        # No file of the transaction in either table: only the LOAD files.
        assert sorted(p.name for p in bucket.rglob("p[ab]/*.parquet")) == ["LOAD00000001.parquet"] * 2


def test_duckdb_script_for_an_s3_target(
    binlake: Binlake, s3_endpoints: str, moto, admin, database: str, s3_bucket: str, tmp_path: Path
) -> None:  # fmt: skip
    """``crawl --dialect duckdb`` over an S3 target: a script for the plain duckdb CLI with a secret that reads
    the credentials from the environment (never written into the script) and the views over ``s3://``.

    DuckDB's httpfs and aws extensions download themselves, which fails offline, and PyPI carries them for
    DuckDB 1.4.4 only; so the script is run by the plain DuckDB that scripts/install.sh puts in
    .venv-duckdb-cli (or the Python BINLAKE_DUCKDB_HTTPFS_PYTHON names) with duckdb==1.4.4 duckdb-ext-httpfs
    duckdb-ext-aws, in a fresh connection, with nothing else."""
    import os
    import subprocess

    from tests.s3server import ACCESS_KEY, SECRET_KEY, create_readings, create_s3_target, source_rows

    create_readings(admin, database, 60)
    fast = create_s3_target(binlake, moto, f"s3://{s3_bucket}", name="s3fast", CdcMaxBatchInterval=0.2)
    create_cdc_task(binlake, "s3cdc", database, target=fast)
    start_detached(binlake, "s3cdc")
    wait_streaming(binlake, "s3cdc")
    execute(admin, f"UPDATE `{database}`.readings SET label = 'changed' WHERE id <= 3",
            f"DELETE FROM `{database}`.readings WHERE id = 10")  # fmt: skip
    wait_caught_up(binlake, "s3cdc", admin)
    stop(binlake, "s3cdc")
    script = tmp_path / "lake.duckdb.sql"
    binlake.ok("crawl", "--replication-task-arn", "s3cdc", "--dialect", "duckdb", "--sql-file", str(script))
    text = script.read_text()
    assert ACCESS_KEY not in text and SECRET_KEY not in text
    host = moto.url.removeprefix("http://")
    assert (
        "CREATE OR REPLACE SECRET binlake_s3fast (TYPE s3, PROVIDER credential_chain, CHAIN 'env', "
        f"REGION 'us-east-1', ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false, SCOPE 's3://{s3_bucket}');"
    ) in text
    assert f"read_parquet(['s3://{s3_bucket}/hub/{database}/readings/**/*.parquet']" in text
    plain = Path(__file__).parent.parent / ".venv-duckdb-cli" / "bin" / "python"  # scripts/install.sh makes it
    python = os.environ.get("BINLAKE_DUCKDB_HTTPFS_PYTHON") or (str(plain) if plain.exists() else None)
    if not python:
        return
    program = (
        "import duckdb, os, sys, sysconfig\n"
        "c = duckdb.connect()\n"
        "c.execute(\"SET extension_directory = '\" + sysconfig.get_paths()['purelib'] + \"/duckdb_ext/extensions'\")\n"
        "c.execute(open(sys.argv[1]).read())\n"
        f"for row in c.execute('SELECT * FROM {db_name(database)}.readings ORDER BY id').fetchall(): print(repr(row))\n"
    )
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    done = subprocess.run([python, "-c", program, str(script)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    names = {"Decimal": Decimal, "datetime": datetime}
    assert [eval(line, names) for line in done.stdout.splitlines()] == source_rows(admin, database)


def test_crawl_dialect_bad_input(binlake: Binlake) -> None:
    from tests.helpers import assert_one_line_error

    failed = binlake("crawl", "--replication-task-arn", "t", "--dialect", "hive")
    assert_one_line_error(failed, "unknown dialect 'hive'", "use one of duckdb, spark, athena, trino")
    failed = binlake("crawl", "--replication-task-arn", "t", "--sql-file", "views.sql")
    assert_one_line_error(failed, "--sql-file writes the SQL of --dialect", "add --dialect duckdb|spark|athena|trino")


# Every name the views and verify add to a table's columns, as a source column: the table with a key has
# `_FILE` (a case variant: engines compare names case-insensitively), the one without a key `_file`.
BOOKKEEPING_NAMES = (
    "_is_cdc", "{file}", "_row", "_order", "_binlake_op", "_binlake_order", "_binlake_file", "_binlake_row",
    "_binlake_path", "_binlake_rank", "_binlake_n", "_binlake_i", "_binlake_rows", "_binlake_copies", "_copies",
    "_binlake_f", "_binlake_absent", "_limit", "filename",
)  # fmt: skip


def bookkeeping_table(name: str, file: str, key: bool) -> tuple[str, list[str]]:
    """CREATE TABLE for a table whose columns are named like the bookkeeping columns, and its column names."""
    names = ["id", *(n.format(file=file) for n in BOOKKEEPING_NAMES)]
    columns = ", ".join(f"`{n}` INT" for n in names[1:])
    return f"CREATE TABLE `{{db}}`.{name} (id INT{' PRIMARY KEY' if key else ''}, {columns})", names


def bookkeeping_workload(admin, db: str, table: str, names: list[str], key: bool) -> None:
    """Changes whose values would reorder the changes if a view took them for its own columns: each later
    change of a row has smaller values (an older-looking file, row, commit order, rank) than the one before."""
    columns = ", ".join(f"`{n}`" for n in names[1:])
    set_to = ", ".join(f"`{n}` = {{v}}" for n in names[1:])
    where = "WHERE id = {i}" if key else "WHERE id = {i} LIMIT 1"
    execute(
        admin,
        "START TRANSACTION",
        f"UPDATE `{db}`.{table} SET {set_to.format(v=50)} {where.format(i=1)}",
        f"UPDATE `{db}`.{table} SET {set_to.format(v=0)} {where.format(i=1)}",
        f"DELETE FROM `{db}`.{table} {where.format(i=2)}",
        f"INSERT INTO `{db}`.{table} (id, {columns}) VALUES (2, {', '.join(['-2'] * (len(names) - 1))})",
        f"UPDATE `{db}`.{table} SET {set_to.format(v=-1)} {where.format(i=2)}",
        f"DELETE FROM `{db}`.{table} {where.format(i=3)}",
        "COMMIT",
        f"UPDATE `{db}`.{table} SET {set_to.format(v='NULL')} {where.format(i=4)}",
        f"INSERT INTO `{db}`.{table} (id, {columns}) VALUES (30, {', '.join(['1'] * (len(names) - 1))})",
        f"DELETE FROM `{db}`.{table} {where.format(i=5)}",
    )


def test_columns_named_like_the_bookkeeping_columns(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, spark_starting: Future
) -> None:
    """A table whose columns are named like every column the views and verify add (``_is_cdc``, ``_file``,
    ``_row``, ``_binlake_rank``…, in another case too), with a key and without: the DuckDB, Spark and Trino
    views give the source's rows and columns after inserts, updates and deletes, with and without the
    commit-order column, and verify finds the lake equal to the source (also for a table whose key columns are
    named like the columns verify puts beside a key)."""
    tables = {
        "keyed": bookkeeping_table("keyed", "_FILE", True),
        "keyless": bookkeeping_table("keyless", "_file", False),
    }
    for table, (create, names) in tables.items():
        # Values that sort the LOAD rows after every change (a large `_file`, `_row`, `_order`…).
        values = ", ".join(f"({i}, {', '.join([str(100 + i)] * (len(names) - 1))})" for i in range(1, 11))
        execute(admin, create.format(db=database), f"INSERT INTO `{database}`.{table} VALUES {values}")
    hashed = f"`{database}`.hashed"
    execute(
        admin,
        f"CREATE TABLE {hashed} (`_binlake_h` INT, `_IN_SOURCE` INT, `_in_target` INT, v INT, "
        "PRIMARY KEY (`_binlake_h`, `_IN_SOURCE`, `_in_target`))",
        f"INSERT INTO {hashed} SELECT seq, seq, seq, seq FROM `{database}`.seq_1_to_10",
    )
    start_ordered_and_plain(binlake, database, bucket, {})
    spark = spark_starting.result()
    for name in ("ordered", "plain"):
        run_script(spark, binlake.ok("crawl", "--replication-task-arn", name, "--database", f"{name}_db",
                                     "--dialect", "spark").stdout)  # fmt: skip
    for table, (_, names) in tables.items():
        bookkeeping_workload(admin, database, table, names, key=table == "keyed")
    execute(admin, f"UPDATE {hashed} SET v = 0 WHERE `_binlake_h` < 4", f"DELETE FROM {hashed} WHERE v = 9")
    for name in ("ordered", "plain"):
        wait_caught_up(binlake, name, admin)
    for name in ("ordered", "plain"):
        catalog = f"{name}_db"
        binlake.ok("crawl", "--replication-task-arn", name, "--database", catalog)
        crawled = duckdb.connect(str(binlake.state_dir / "catalog.duckdb"), read_only=True)
        script = duckdb.connect()
        script.execute(
            binlake.ok("crawl", "--replication-task-arn", name, "--database", catalog, "--dialect", "duckdb").stdout
        )
        trino = binlake.ok("crawl", "--replication-task-arn", name, "--database", catalog, "--dialect", "trino").stdout
        run_trino_views_in_spark(spark, trino, catalog)
        for table, (_, names) in tables.items():
            listed, quoted = ", ".join(f"`{n}`" for n in names), ", ".join(f'"{n}"' for n in names)
            source = sorted(rows(mysql_rows(admin, f"SELECT {listed} FROM `{database}`.{table}")), key=str)
            assert len(source) == 10 - 2 + 1
            views = {"spark": spark.sql(f"SELECT * FROM {catalog}.{table}")}
            if name == "ordered" or table == "keyless":  # else exact at file granularity only (docs/engines.md)
                views["trino"] = spark.sql(f"SELECT * FROM trino_{catalog}.{table}")
            for engine, frame in views.items():
                assert frame.columns == names, (engine, table)
                assert sorted(rows(frame.collect()), key=str) == source, (name, engine, table)
            for engine, duck in (("crawl", crawled), ("script", script)):
                result = duck.execute(f"SELECT * FROM {catalog}.{table}")
                assert [d[0] for d in result.description] == names, (engine, table)
                assert sorted(rows(result.fetchall()), key=str) == source, (name, engine, table)
            files = [
                pq.read_table(p, columns=names) for p in (bucket / name).rglob("*.parquet") if f"/{table}/" in str(p)
            ]
            written = sorted((tuple(r.values()) for f in files for r in f.to_pylist()), key=str)
            for logged in (
                spark.sql(f"SELECT {listed} FROM {catalog}.{table}__changes").collect(),
                script.execute(f"SELECT {quoted} FROM {catalog}.{table}__changes").fetchall(),
            ):
                assert sorted(rows(logged), key=str) == written, (name, table)
        crawled.close()
        script.close()
        result = binlake.run_process("verify", "--replication-task-arn", name, "--no-probe", "--output", "json")
        assert [c["Name"] for c in json.loads(result.stdout)["Checks"] if not c["Passed"]] == [], result.stdout
        assert result.exit_code == 0, result.stderr
    for name in ("ordered", "plain"):
        stop(binlake, name)
    # A value changed in the lake: verify finds it, by the key named like its own columns.
    import pyarrow as pa

    (load,) = (bucket / "ordered").rglob("hashed/LOAD*.parquet")
    data = pq.read_table(load)
    column = data.schema.field("v")
    values = pa.array([55 if v == 5 else v for v in data.column("v").to_pylist()], column.type)
    pq.write_table(data.set_column(data.schema.get_field_index("v"), column, values), load)
    result = binlake.run_process("verify", "--replication-task-arn", "ordered", "--no-probe", "--output", "json")
    details = next(c for c in json.loads(result.stdout)["Checks"] if "Details" in c and not c["Passed"])["Details"]
    assert details[f"{database}.hashed"]["DifferingKeys"] == 1, result.stdout


def test_a_column_added_after_the_crawl_named_like_an_ordering_column(spark_starting: Future, tmp_path: Path) -> None:
    """The views name their ordering columns at the crawl; a column the files gain later with one of those
    names (``_FILE``, ``_row``, ``_is_cdc``, values that would reorder the changes) leaves the current state
    exact: Spark leaves the column out, DuckDB shows it renamed, until a crawl names the ordering columns anew."""
    import pyarrow as pa

    from binlake.catalog.dialects import TableView, duckdb_views, spark_views

    folder = tmp_path / "late"
    folder.mkdir()
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int32()), "x": [1, 2]}), folder / "LOAD00000001.parquet")
    view = TableView(
        "late_db", "late", str(folder), [pa.field("id", pa.int32()), pa.field("x", pa.int64())], ["id"], ""
    )
    spark = spark_starting.result()
    run_script(spark, "\n".join(spark_views(view)))
    duck = duckdb.connect()
    duck.execute("\n".join(duckdb_views(view)))
    changes = {"Op": ["U", "U", "D"], "id": pa.array([1, 1, 2], pa.int32()), "x": [10, 11, 2]}
    late = {"_FILE": ["zzz", "aaa", "aaa"], "_row": [9, 8, 0], "_is_cdc": [True, False, False]}
    pq.write_table(pa.table({**changes, **late}), folder / "20260116-000000001.parquet")
    assert rows(spark.sql("SELECT * FROM late_db.late").collect()) == [(1, 11)]
    assert duck.execute("SELECT id, x FROM late_db.late").fetchall() == [(1, 11)]
    assert len(spark.sql("SELECT * FROM late_db.late__changes").collect()) == 5
