"""The guide's Steps 4-7 with binlake: crawl, query, inspect, and verify (which must be right and exact)."""

from __future__ import annotations

import json
import random
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from binlake.config.mappings import PROBE_SCHEMA, TableMappings
from binlake.sample import create_sample
from binlake.sandbox import SandboxInfo
from binlake.target.naming import date_partition
from tests.conftest import Binlake, mappings
from tests.helpers import (
    assert_one_line_error,
    create_cdc_task,
    db_name,
    execute,
    mysql_rows,
    start_detached,
    stop,
    wait_caught_up,
    wait_streaming,
)
from tests.lake import table_dir, target_settings, task_row, wait_for

GUIDE_INSERT = (
    "INSERT INTO customers (customer_id, email, first_name, last_name, phone, city, state, country, customer_segment) "
    "VALUES (UUID(), 'test@example.com', 'Test', 'User', '555-0100', 'Seattle', 'WA', 'US', 'New')"
)


@pytest.fixture
def admin_endpoint(binlake: Binlake, sandbox_info: SandboxInfo) -> str:
    """A source endpoint allowed to write, for verify's CDC probe."""
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "writer", "--endpoint-type", "source", "--engine-name", "mariadb",
        "--server-name", sandbox_info.host, "--port", str(sandbox_info.port), "--username", sandbox_info.admin_user,
        "--password-file", sandbox_info.admin_password_file,
    )  # fmt: skip
    return "writer"


@pytest.fixture
def guide(binlake: Binlake, endpoints, admin, database: str, bucket: Path) -> str:
    """The guide's pipeline: sample data, a running full-load-and-cdc task, its first changes applied."""
    create_sample(admin, database=database, customers=200, products=50, orders=400)
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "raw", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=0.2),
    )  # fmt: skip
    create_cdc_task(binlake, "guide", database, target="raw")
    start_detached(binlake, "guide")
    wait_streaming(binlake, "guide")
    return "guide"


def test_guide_steps_4_to_7(binlake: Binlake, guide: str, admin, database: str, bucket: Path) -> None:
    execute(
        admin,
        f"USE `{database}`",
        GUIDE_INSERT,
        "UPDATE orders SET quantity = quantity + 100 ORDER BY order_id LIMIT 5",
    )
    wait_caught_up(binlake, guide, admin)

    crawled = binlake.ok("crawl", "--replication-task-arn", guide, "--output", "json").json()
    catalog = db_name(database)
    assert {(t["Database"], t["Table"]) for t in crawled["Tables"]} == {
        (catalog, "customers"),
        (catalog, "products"),
        (catalog, "orders"),
    }
    # Step 6 in Athena, unchanged but for the database name.
    found = binlake.ok(
        "query", f"SELECT * FROM {catalog}.customers WHERE email = 'test@example.com'", "--output", "json"
    ).json()
    assert [(r["first_name"], r["city"], r["customer_segment"]) for r in found] == [("Test", "Seattle", "New")]
    # Step 7: row counts in MySQL and in the lake.
    counts_sql = (
        "SELECT 'customers' AS table_name, COUNT(*) AS n FROM {db}.customers UNION ALL "
        "SELECT 'products', COUNT(*) FROM {db}.products UNION ALL SELECT 'orders', COUNT(*) FROM {db}.orders"
    )
    lake_counts = binlake.ok("query", counts_sql.format(db=catalog), "--output", "json").json()
    assert {r["table_name"]: r["n"] for r in lake_counts} == dict(
        mysql_rows(admin, counts_sql.format(db=f"`{database}`"))
    )
    sample_sql = (
        "SELECT customer_id, email, first_name, last_name FROM {db}.customers "
        "ORDER BY created_at DESC, customer_id LIMIT 10"
    )
    lake_sample = binlake.ok("query", sample_sql.format(db=catalog), "--output", "json").json()
    assert [tuple(r.values()) for r in lake_sample] == mysql_rows(admin, sample_sql.format(db=f"`{database}`"))
    # The change log keeps Op and commit order.
    shipped = binlake.ok(
        "query", f"SELECT Op, count(*) AS n FROM {catalog}.orders__changes GROUP BY Op ORDER BY Op", "--output", "csv"
    ).stdout.splitlines()
    assert shipped == ["Op,n", "I,400", "U,5"]
    # The catalog is a plain DuckDB file.
    import duckdb

    conn = duckdb.connect(str(binlake.state_dir / "catalog.duckdb"), read_only=True)
    assert conn.execute(f"SELECT count(*) FROM {catalog}.products").fetchone()[0] == 50
    conn.close()
    ddl = binlake.ok("crawl", "--replication-task-arn", guide, "--athena-ddl").stdout
    assert f"CREATE EXTERNAL TABLE IF NOT EXISTS `{catalog}`.`customers__files`" in ddl
    assert "STORED AS PARQUET" in ddl and "`unit_price` decimal(10,2)" in ddl
    stop(binlake, guide)


def test_crawl_again_picks_up_new_columns(binlake: Binlake, guide: str, admin, database: str) -> None:
    catalog = db_name(database)
    binlake.ok("crawl", "--replication-task-arn", guide)
    execute(
        admin,
        f"ALTER TABLE `{database}`.products ADD COLUMN rating TINYINT",
        f"UPDATE `{database}`.products SET rating = 5 LIMIT 3",
    )
    wait_caught_up(binlake, guide, admin)
    binlake.ok("crawl", "--replication-task-arn", guide)
    rated = binlake.ok("query", f"SELECT count(*) AS n FROM {catalog}.products WHERE rating = 5", "--output", "json")
    assert rated.json() == [{"n": 3}]
    stop(binlake, guide)


def test_inspect_file_and_list(binlake: Binlake, guide: str, database: str, bucket: Path) -> None:
    stop(binlake, guide)
    path = table_dir(bucket, database, "customers", "hub") / "LOAD00000001.parquet"
    shown = binlake.ok("inspect", str(path), "--rows", "3", "--output", "json").json()
    assert shown["Rows"] == 200
    assert {c["Column"]: c["Type"] for c in shown["Schema"]}["created_at"] == "timestamp[us]"
    assert len(shown["Head"]) == 3
    listing = binlake.ok("inspect", "--replication-task-arn", guide).stdout
    assert f"hub/{database}/customers/LOAD00000001.parquet" in listing
    assert "Total Objects: 3" in listing


def test_verify_passes_while_a_workload_writes(
    binlake: Binlake, guide: str, admin_endpoint: str, admin, database: str, sandbox, bucket: Path
) -> None:
    binlake.ok("crawl", "--replication-task-arn", guide)
    stop_writing = threading.Event()

    def writer() -> None:
        conn = sandbox.root_connection()
        cur = conn.cursor()
        rng = random.Random(5)
        while not stop_writing.is_set():
            cur.execute(
                f"UPDATE `{database}`.orders SET quantity = quantity + 1 ORDER BY order_id LIMIT {rng.randint(1, 5)}"
            )
            cur.execute(f"DELETE FROM `{database}`.orders ORDER BY order_date LIMIT 1")
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = binlake.run_process(
            "verify", "--replication-task-arn", guide, "--probe-endpoint-arn", admin_endpoint, "--cdc-deadline", "30",
            "--output", "json",
        )  # fmt: skip
    finally:
        stop_writing.set()
        thread.join()
    report = json.loads(result.stdout)
    failed = [c for c in report["Checks"] if not c["Passed"]]
    assert failed == [] and result.exit_code == 0, failed
    assert len(report["Checks"]) == 8
    exact = report["Checks"][3]["Details"][f"{database}.orders"]
    assert exact["DifferingKeys"] == 0 and exact["SourceRows"] == exact["TargetRows"]
    assert report["Checks"][4]["Details"]["LatencySeconds"] < 30
    # The probe stays out of the user's data: nothing of it in the lake, the statistics or the catalog.
    wait_for(lambda: task_row(binlake.state_dir, guide)["cdc_checkpoint"], what="checkpoint")
    assert PROBE_SCHEMA not in {p.name for p in (bucket / "hub").iterdir()}
    assert "probe" not in binlake.ok("describe-table-statistics", "--replication-task-arn", guide).stdout
    assert "probe" not in binlake.ok("crawl", "--replication-task-arn", guide).stdout
    assert mysql_rows(admin, f"SELECT count(*) FROM {PROBE_SCHEMA}.probe")[0][0] >= 1
    stop(binlake, guide)


def test_no_wildcard_selects_the_probe_schema() -> None:
    everything = TableMappings.parse(mappings("%"))
    assert everything.selects("shop", "orders") and not everything.selects(PROBE_SCHEMA, "probe")
    assert TableMappings.parse(mappings(PROBE_SCHEMA)).selects(PROBE_SCHEMA, "probe")  # named, it is selected


def check(report: dict, number: int) -> dict:
    return report["Checks"][number - 1]


def verify_json(binlake: Binlake, task: str, *extra: str) -> tuple[int, dict]:
    result = binlake.run_process("verify", "--replication-task-arn", task, "--no-probe", "--output", "json", *extra)
    assert result.stdout, result.stderr
    return result.exit_code, json.loads(result.stdout)


def test_verify_finds_a_deleted_file_and_an_altered_value(
    binlake: Binlake, guide: str, admin, database: str, bucket: Path
) -> None:
    binlake.ok("crawl", "--replication-task-arn", guide)
    stop(binlake, guide)
    products = table_dir(bucket, database, "products", "hub") / "LOAD00000001.parquet"
    table = pq.read_table(products)
    victim = table.column("product_id")[7].as_py()
    names = table.column("product_name").to_pylist()
    names[7] = "tampered"
    pq.write_table(table.set_column(table.schema.get_field_index("product_name"), "product_name",
                                    [names]).cast(table.schema), products)  # fmt: skip
    (table_dir(bucket, database, "orders", "hub") / "LOAD00000001.parquet").unlink()

    code, report = verify_json(binlake, guide)
    assert code == 1
    assert check(report, 1)["Passed"] is False  # stopped
    assert check(report, 3)["Passed"] is False and f"{database}.orders" in check(report, 3)["Evidence"]
    rows = check(report, 4)
    assert rows["Passed"] is False
    products_diff = rows["Details"][f"{database}.products"]
    assert products_diff["DifferingKeys"] == 1
    assert products_diff["Examples"][0]["key"] == {"product_id": victim}
    assert set(products_diff["Examples"][0]["columns"]) == {"product_name"}
    assert products_diff["Examples"][0]["columns"]["product_name"]["target"] == "tampered"
    orders_diff = rows["Details"][f"{database}.orders"]
    assert orders_diff["TargetRows"] == 0 and orders_diff["DifferingKeys"] == 400


def test_verify_finds_a_source_change_while_stopped(binlake: Binlake, guide: str, admin, database: str) -> None:
    binlake.ok("crawl", "--replication-task-arn", guide)
    stop(binlake, guide)
    customer = mysql_rows(admin, f"SELECT customer_id FROM `{database}`.customers ORDER BY customer_id LIMIT 1")[0][0]
    execute(admin, f"UPDATE `{database}`.customers SET city = 'Elsewhere' WHERE customer_id = '{customer}'")

    code, report = verify_json(binlake, guide)
    assert code == 1
    assert "guide is stopped" in check(report, 1)["Evidence"]
    rows = check(report, 4)
    assert rows["Passed"] is False
    assert f"{database}.customers: 1 differing keys" in rows["Evidence"]
    assert customer in rows["Evidence"] and "values differ in city" in rows["Evidence"]
    assert "resume-processing" in rows["Fix"]


def test_verify_reports_a_failed_task_and_binlog_not_row(
    binlake: Binlake, guide: str, admin_endpoint: str, admin, database: str
) -> None:
    binlake.ok("crawl", "--replication-task-arn", guide)
    execute(admin, "SET GLOBAL binlog_format = 'STATEMENT'")
    try:
        result = binlake.run_process("verify", "--replication-task-arn", guide, "--probe-endpoint-arn", admin_endpoint,
                                     "--cdc-deadline", "3", "--output", "json")  # fmt: skip
    finally:
        execute(admin, "SET GLOBAL binlog_format = 'ROW'")
    assert result.exit_code == 1
    cdc = check(json.loads(result.stdout), 5)
    assert cdc["Passed"] is False
    assert "binlog_format is STATEMENT" in cdc["Evidence"]
    assert "SET GLOBAL binlog_format = 'ROW'" in cdc["Fix"]
    stop(binlake, guide)
    import sqlite3

    with sqlite3.connect(binlake.state_dir / "state.db") as db:
        db.execute("UPDATE tasks SET status = 'failed', last_failure_message = 'lost the source' WHERE identifier = ?",
                   (guide,))  # fmt: skip
    code, report = verify_json(binlake, guide)
    assert code == 1
    assert check(report, 1)["Evidence"] == "guide is failed: lost the source"


def test_verify_finds_a_table_missing_from_the_catalog(binlake: Binlake, guide: str, admin, database: str) -> None:
    binlake.ok("crawl", "--replication-task-arn", guide)
    execute(admin, f"CREATE TABLE `{database}`.reviews (id INT PRIMARY KEY, stars INT)",
            f"INSERT INTO `{database}`.reviews VALUES (1, 5)")  # fmt: skip
    wait_for(lambda: "reviews" in binlake.ok("describe-table-statistics", "--replication-task-arn", guide).stdout)
    wait_caught_up(binlake, guide, admin)
    code, report = verify_json(binlake, guide)
    stop(binlake, guide)
    assert code == 1
    assert check(report, 6)["Passed"] is False
    assert check(report, 6)["Evidence"] == f"not in the catalog: {database}.reviews"
    assert check(report, 6)["Fix"] == f"binlake crawl --replication-task-arn {guide}"


def test_lake_bad_input(binlake: Binlake, guide: str, database: str) -> None:
    assert_one_line_error(binlake("crawl", "--replication-task-arn", "nope"), "replication task nope not found")
    assert_one_line_error(binlake("query", "SELECT 1"), "no catalog at", "binlake crawl")
    binlake.ok("crawl", "--replication-task-arn", guide)
    assert_one_line_error(binlake("query", "SELEC nonsense"), "query failed: Parser Error")
    assert_one_line_error(binlake("query", f"SELECT * FROM {db_name(database)}.nope"), "query failed: Catalog Error")
    # The guide's form: the task's own user may not create the probe table; every criterion still shows.
    result = binlake.run_process("verify", "--replication-task-arn", guide, "--cdc-deadline", "5", "--output", "table")
    assert result.exit_code == 1 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line[:3] for line in lines if line[:1] in "✓✗"] == [
        f"{m} {n}" for m, n in zip("✓✓✓✓✗✓✓✓", "12345678", strict=True)
    ]
    cdc = next(i for i, line in enumerate(lines) if line.startswith("✗ 5."))
    assert "cannot write the CDC probe row into binlake_probe.probe as binlake" in lines[cdc]
    assert lines[cdc + 1].startswith("    fix: pass --probe-endpoint-arn with a source endpoint whose user may")
    assert lines[-1] == "Verification failed."
    stop(binlake, guide)
    assert_one_line_error(binlake("inspect", "/no/such/file.parquet"), "no file at /no/such/file.parquet")
    assert task_row(binlake.state_dir, guide)["status"] == "stopped"


def test_crawl_of_a_task_that_never_ran(binlake: Binlake, endpoints, database: str) -> None:
    create_cdc_task(binlake, "idle", database, target="lake")
    assert_one_line_error(binlake("crawl", "--replication-task-arn", "idle"), "has not replicated any table yet")


def lake_matches_source(binlake: Binlake, admin, database: str, table: str, key: str, columns: str) -> None:
    """The crawled current-state view holds exactly the source's rows (the given columns, as text)."""
    sql = f"SELECT {key}, {columns} FROM {{db}}.{table} ORDER BY {key}"
    lake = binlake.ok("query", sql.format(db=db_name(database)), "--output", "csv").stdout.splitlines()[1:]
    source = [
        ",".join("" if v is None else str(v) for v in row) for row in mysql_rows(admin, sql.format(db=f"`{database}`"))
    ]
    assert lake == source


def test_views_never_go_stale(binlake: Binlake, guide: str, admin, database: str, bucket: Path) -> None:
    """Views crawled before the first CDC file, a new column and a reload still give the source's rows."""
    catalog = db_name(database)
    binlake.ok("crawl", "--replication-task-arn", guide)
    orders = table_dir(bucket, database, "orders", "hub")
    assert not list(orders.rglob("2*.parquet"))  # no CDC file yet at crawl time
    execute(admin, f"DELETE FROM `{database}`.orders ORDER BY order_id LIMIT 50",
            f"UPDATE `{database}`.orders SET quantity = quantity + 7 ORDER BY order_id DESC LIMIT 9")  # fmt: skip
    wait_caught_up(binlake, guide, admin)
    count = binlake.ok("query", f"SELECT count(*) AS n FROM {catalog}.orders", "--output", "json").json()
    assert count == [{"n": 350}]
    lake_matches_source(binlake, admin, database, "orders", "order_id", "quantity, status")
    # A column added after the crawl shows in the view, with its values.
    execute(admin, f"ALTER TABLE `{database}`.products ADD COLUMN rating TINYINT",
            f"UPDATE `{database}`.products SET rating = 5 ORDER BY product_id LIMIT 3")  # fmt: skip
    wait_caught_up(binlake, guide, admin)
    lake_matches_source(binlake, admin, database, "products", "product_id", "product_name, rating")
    # A reload replaces the LOAD files (after changes made while stopped); the views read the new ones.
    stop(binlake, guide)
    execute(admin, f"DELETE FROM `{database}`.customers ORDER BY customer_id LIMIT 20",
            f"UPDATE `{database}`.orders SET quantity = 1 ORDER BY order_id LIMIT 30")  # fmt: skip
    start_detached(binlake, guide, "reload-target")
    wait_streaming(binlake, guide)
    wait_caught_up(binlake, guide, admin)
    for table, key, columns in [("customers", "customer_id", "email, city"), ("orders", "order_id", "quantity"),
                                ("products", "product_id", "product_name, rating")]:  # fmt: skip
        lake_matches_source(binlake, admin, database, table, key, columns)
    execute(admin, f"DELETE FROM `{database}`.orders ORDER BY order_id LIMIT 5")
    wait_caught_up(binlake, guide, admin)
    lake_matches_source(binlake, admin, database, "orders", "order_id", "quantity")
    stop(binlake, guide)


def test_verify_and_views_of_a_table_without_a_key(binlake: Binlake, guide: str, admin, database: str) -> None:
    """A table without a primary key is its rows as a multiset: duplicates, updates and deletes pass."""
    execute(
        admin,
        f"CREATE TABLE `{database}`.visits (page VARCHAR(20), hits INT, note TEXT)",
        f"INSERT INTO `{database}`.visits VALUES ('a', 1, NULL), ('a', 1, NULL), ('a', 1, NULL), ('b', 2, 'x'), "
        "('b', 2, 'x'), ('c', NULL, NULL)",
    )
    wait_for(lambda: "visits" in binlake.ok("describe-table-statistics", "--replication-task-arn", guide).stdout)
    execute(
        admin,
        f"UPDATE `{database}`.visits SET hits = 9 WHERE page = 'a' LIMIT 1",
        f"DELETE FROM `{database}`.visits WHERE page = 'b' LIMIT 1",
        f"UPDATE `{database}`.visits SET note = 'y' WHERE page = 'c'",
        f"INSERT INTO `{database}`.visits VALUES ('a', 1, NULL)",
        f"DELETE FROM `{database}`.visits WHERE page = 'a' AND hits = 1 LIMIT 2",
    )
    wait_caught_up(binlake, guide, admin)
    binlake.ok("crawl", "--replication-task-arn", guide)
    sql = "SELECT page, hits, note FROM {db}.visits ORDER BY page, hits, note"
    lake = binlake.ok("query", sql.format(db=db_name(database)), "--output", "json").json()
    source = mysql_rows(admin, sql.format(db=f"`{database}`"))
    assert [tuple(r.values()) for r in lake] == source and len(source) == 4
    code, report = verify_json(binlake, guide)
    exact = check(report, 4)
    assert exact["Passed"] is True, exact
    assert exact["Details"][f"{database}.visits"]["SourceRows"] == 4
    # A real difference (one duplicate more in the source, while stopped) is reported, row by row.
    stop(binlake, guide)
    execute(admin, f"INSERT INTO `{database}`.visits VALUES ('b', 2, 'x')")
    code, report = verify_json(binlake, guide)
    exact = check(report, 4)
    assert code == 1 and exact["Passed"] is False
    visits = exact["Details"][f"{database}.visits"]
    assert (visits["SourceRows"], visits["TargetRows"], visits["DifferingKeys"]) == (5, 4, 1)
    assert visits["Examples"] == [{"row": {"page": "b", "hits": 2, "note": "x"}}]


@pytest.mark.parametrize(("sequence", "delimiter"), [("YYYYMMDD", "SLASH"), ("YYYYMMDDHH", "UNDERSCORE")])
def test_date_partitioned_views_read_each_file_once(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, sequence: str, delimiter: str
) -> None:
    """CDC files in date folders of two days: the change log holds each file's rows once, the current state
    is the source's, and verify is exact; the views were crawled before any CDC file or date folder."""
    create_sample(admin, database=database, customers=50, products=20, orders=300)
    settings = target_settings(bucket, CdcMaxBatchInterval=0.2, DatePartitionEnabled=True,
                               DatePartitionSequence=sequence, DatePartitionDelimiter=delimiter)  # fmt: skip
    binlake.ok("create-endpoint", "--endpoint-identifier", "dated", "--endpoint-type", "target",
               "--engine-name", "s3", "--s3-settings", settings)  # fmt: skip
    create_cdc_task(binlake, "dated", database, target="dated")
    start_detached(binlake, "dated")
    wait_streaming(binlake, "dated")
    binlake.ok("crawl", "--replication-task-arn", "dated")
    orders = table_dir(bucket, database, "orders", "hub")
    execute(admin, f"UPDATE `{database}`.orders SET quantity = quantity + 3 ORDER BY order_id LIMIT 40",
            f"DELETE FROM `{database}`.orders ORDER BY order_id DESC LIMIT 25")  # fmt: skip
    wait_caught_up(binlake, "dated", admin)
    # The first day's files: moved to the day before, named for it (so they still sort first).
    first_day = [p for p in orders.rglob("2*.parquet")]
    assert first_day and all(p.parent != orders for p in first_day)
    for path in first_day:
        stamp = datetime.strptime(path.name[:8], "%Y%m%d") - timedelta(days=1)
        folder = orders / date_partition(stamp.replace(hour=int(path.name[9:11])), sequence, delimiter)
        folder.mkdir(parents=True, exist_ok=True)
        path.rename(folder / (f"{stamp:%Y%m%d}" + path.name[8:]))
    execute(admin, f"UPDATE `{database}`.orders SET status = 'shipped' ORDER BY order_id LIMIT 60",
            f"INSERT INTO `{database}`.orders SELECT UUID(), customer_id, product_id, 1, unit_price, unit_price, "
            f"'pending', order_date, NULL, NULL, NULL, updated_at FROM `{database}`.orders LIMIT 10")  # fmt: skip
    wait_caught_up(binlake, "dated", admin)
    files = sorted(orders.rglob("*.parquet"))
    assert len({p.parent for p in files if p.name[0] == "2"}) == 2  # two date folders
    written = sum(pq.read_metadata(p).num_rows for p in files)
    catalog = db_name(database)
    logged = binlake.ok("query", f"SELECT count(*) AS n FROM {catalog}.orders__changes", "--output", "json").json()
    assert logged == [{"n": written}]
    lake_matches_source(binlake, admin, database, "orders", "order_id", "quantity, status")
    _, report = verify_json(binlake, "dated")
    assert check(report, 4)["Passed"] is True, check(report, 4)
    assert check(report, 4)["Details"][f"{database}.orders"]["SourceRows"] == 285
    stop(binlake, "dated")


def test_a_view_that_cannot_follow_its_files_says_run_crawl(
    binlake: Binlake, guide: str, admin, database: str, bucket: Path
) -> None:
    """A renamed key column cannot be followed by a view: it fails with 'run binlake crawl', never merges
    wrong rows; so does a view of an older crawl that no longer binds."""
    catalog = db_name(database)
    binlake.ok("crawl", "--replication-task-arn", guide)
    execute(admin, f"ALTER TABLE `{database}`.products CHANGE product_id pid CHAR(36) NOT NULL",
            f"UPDATE `{database}`.products SET stock_quantity = 0 ORDER BY pid LIMIT 2")  # fmt: skip
    wait_caught_up(binlake, guide, admin)
    failed = binlake("query", f"SELECT count(*) FROM {catalog}.products")
    assert_one_line_error(failed, "has no value in a primary key column", "run binlake crawl --replication-task-arn")
    assert "check the SQL" not in failed.stderr
    stop(binlake, guide)
    import duckdb

    old = bucket / "old.parquet"
    pq.write_table(pa.table({"Op": ["I"], "customer_id": ["x"]}), old)
    conn = duckdb.connect(str(binlake.state_dir / "catalog.duckdb"))
    conn.execute(f"CREATE OR REPLACE VIEW {catalog}.customers AS SELECT \"Op\", customer_id FROM '{old}'")
    conn.close()
    pq.write_table(pa.table({"customer_id": ["x"]}), old)  # as a reload leaves it: no CDC file, no Op
    failed = binlake("query", f"SELECT * FROM {catalog}.customers")
    assert_one_line_error(failed, "Binder Error", f"{catalog}.customers no longer matches its files: run binlake crawl")
