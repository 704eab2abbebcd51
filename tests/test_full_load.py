"""Full load against the real MariaDB sandbox: layout, statistics, splitting, mappings, formats."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from binlake.sample import create_sample
from tests.conftest import Binlake, create_task, mappings, run_task

GUIDE_STATISTICS_KEYS = {"SchemaName", "TableName", "Inserts", "Updates", "Deletes", "FullLoadRows", "TableState"}


def table_files(bucket: Path, schema: str, table: str, folder: str = "hub") -> list[str]:
    directory = bucket / folder / schema / table
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def read_rows(bucket: Path, schema: str, table: str, folder: str = "hub") -> list[dict]:
    directory = bucket / folder / schema / table
    rows: list[dict] = []
    for name in table_files(bucket, schema, table, folder):
        rows.extend(pq.read_table(directory / name).to_pylist())
    return rows


def source_rows(admin, sql: str) -> list[tuple]:
    cur = admin.cursor()
    cur.execute(sql)
    return list(cur.fetchall())


def test_full_load_of_the_guide_sample(binlake: Binlake, endpoints, admin, database: str, bucket: Path) -> None:
    counts = create_sample(admin, database=database, customers=300, products=120, orders=900)
    create_task(binlake, "guide", mappings(database))

    result = run_task(binlake, "guide")
    assert result.exit_code == 0, result.stderr

    for table, count in counts.items():
        assert table_files(bucket, database, table) == ["LOAD00000001.parquet"]
        assert len(read_rows(bucket, database, table)) == count
    keys = {r["customer_id"] for r in read_rows(bucket, database, "customers")}
    assert keys == {row[0] for row in source_rows(admin, f"SELECT customer_id FROM `{database}`.customers")}

    stats = binlake.ok("describe-table-statistics", "--replication-task-arn", "guide", "--output", "json").json()
    by_table = {s["TableName"]: s for s in stats["TableStatistics"]}
    assert set(by_table) == {"customers", "products", "orders"}
    for table, count in counts.items():
        entry = by_table[table]
        assert set(entry) >= GUIDE_STATISTICS_KEYS
        assert entry["SchemaName"] == database
        assert entry["FullLoadRows"] == count
        assert entry["TableState"] == "Table completed"
        assert (entry["Inserts"], entry["Updates"], entry["Deletes"], entry["Ddls"]) == (0, 0, 0, 0)
        assert entry["FullLoadStartTime"] <= entry["FullLoadEndTime"]

    tasks = binlake.ok(
        "describe-replication-tasks", "--filters", "Name=replication-task-arn,Values=guide", "--output", "json"
    ).json()["ReplicationTasks"]
    assert [t["ReplicationTaskIdentifier"] for t in tasks] == ["guide"]
    assert tasks[0]["Status"] == "stopped"
    assert tasks[0]["StopReason"] == "FULL_LOAD_ONLY_FINISHED"
    assert tasks[0]["MigrationType"] == "full-load"
    assert tasks[0]["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100
    assert tasks[0]["ReplicationTaskStats"]["TablesLoaded"] == 3
    assert json.loads(tasks[0]["TableMappings"])["rules"][0]["object-locator"]["schema-name"] == database


def test_max_file_size_splits_load_files(binlake: Binlake, endpoints, admin, database: str, bucket: Path) -> None:
    admin.cursor().execute(f"CREATE TABLE `{database}`.events (id INT PRIMARY KEY, payload VARCHAR(200))")
    admin.cursor().execute(
        f"INSERT INTO `{database}`.events SELECT seq, REPEAT(MD5(seq), 6) FROM `{database}`.seq_1_to_20000"
    )
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "small-files", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", json.dumps({"BucketName": str(bucket), "BucketFolder": "hub", "MaxFileSize": 256}),
    )  # fmt: skip
    create_task(
        binlake,
        "split",
        mappings(database, "events"),
        "--replication-task-settings",
        json.dumps({"FullLoadSettings": {"CommitRate": 1000}}),
        target="small-files",
    )
    assert run_task(binlake, "split").exit_code == 0

    files = table_files(bucket, database, "events")
    assert len(files) > 3
    assert files == [f"LOAD{n:08d}.parquet" for n in range(1, len(files) + 1)]
    ids = [row["id"] for row in read_rows(bucket, database, "events")]
    assert sorted(ids) == list(range(1, 20001))
    for name in files[:-1]:
        assert (bucket / "hub" / database / "events" / name).stat().st_size >= 256 * 1024


def test_awkward_tables_all_load(binlake: Binlake, endpoints, admin, database: str, bucket: Path) -> None:
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.no_pk (a INT, b VARCHAR(10))")
    cur.execute(f"INSERT INTO `{database}`.no_pk VALUES (1, 'x'), (1, 'x'), (NULL, NULL)")
    cur.execute(f"CREATE TABLE `{database}`.composite (a INT, b CHAR(2), c TEXT, PRIMARY KEY (b, a))")
    cur.execute(f"INSERT INTO `{database}`.composite VALUES (1, 'aa', 'one'), (1, 'bb', 'two')")
    cur.execute(f"CREATE TABLE `{database}`.`order` (`select` INT PRIMARY KEY, `from` VARCHAR(5), `a b` INT)")
    cur.execute(f"INSERT INTO `{database}`.`order` VALUES (1, 'where', 2)")
    cur.execute(f"CREATE TABLE `{database}`.`商品` (`名前` VARCHAR(20) PRIMARY KEY, `価格` DECIMAL(8,2))")
    cur.execute(f"INSERT INTO `{database}`.`商品` VALUES ('お茶', 120.50)")
    cur.execute(f"CREATE TABLE `{database}`.`back``tick` (id INT PRIMARY KEY)")
    cur.execute(f"INSERT INTO `{database}`.`back``tick` VALUES (7)")
    create_task(binlake, "awkward", mappings(database))

    assert run_task(binlake, "awkward").exit_code == 0

    assert sorted(read_rows(bucket, database, "no_pk"), key=str) == sorted(
        [{"a": 1, "b": "x"}, {"a": 1, "b": "x"}, {"a": None, "b": None}], key=str
    )
    assert len(read_rows(bucket, database, "composite")) == 2
    assert read_rows(bucket, database, "order") == [{"select": 1, "from": "where", "a b": 2}]
    assert [r["名前"] for r in read_rows(bucket, database, "商品")] == ["お茶"]
    assert str(read_rows(bucket, database, "商品")[0]["価格"]) == "120.50"
    assert read_rows(bucket, database, "back`tick") == [{"id": 7}]


def test_transformation_rules_shape_the_target(binlake: Binlake, endpoints, admin, database: str, bucket: Path) -> None:
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.Customers (Id INT PRIMARY KEY, Email VARCHAR(50), Secret VARCHAR(20))")
    cur.execute(f"INSERT INTO `{database}`.Customers VALUES (1, 'a@example.com', 'hidden')")
    cur.execute(f"CREATE TABLE `{database}`.tmp_scratch (id INT PRIMARY KEY)")
    cur.execute(f"CREATE TABLE `{database}`.legacy_orders (id INT PRIMARY KEY)")
    cur.execute(f"INSERT INTO `{database}`.legacy_orders VALUES (5)")
    rules = [
        {"rule-type": "selection", "rule-id": "2", "rule-name": "no-tmp", "rule-action": "exclude",
         "object-locator": {"schema-name": database, "table-name": "tmp_%"}},
        {"rule-type": "transformation", "rule-id": "3", "rule-name": "schema", "rule-target": "schema",
         "rule-action": "rename", "value": "shop", "object-locator": {"schema-name": database}},
        {"rule-type": "transformation", "rule-id": "4", "rule-name": "lower", "rule-target": "table",
         "rule-action": "convert-lowercase", "object-locator": {"schema-name": database, "table-name": "%"}},
        {"rule-type": "transformation", "rule-id": "5", "rule-name": "drop-secret", "rule-target": "column",
         "rule-action": "remove-column",
         "object-locator": {"schema-name": database, "table-name": "Customers", "column-name": "Secret"}},
        {"rule-type": "transformation", "rule-id": "6", "rule-name": "rename-col", "rule-target": "column",
         "rule-action": "rename", "value": "email_address",
         "object-locator": {"schema-name": database, "table-name": "Customers", "column-name": "Email"}},
        {"rule-type": "transformation", "rule-id": "7", "rule-name": "unprefix", "rule-target": "table",
         "rule-action": "remove-prefix", "value": "legacy_",
         "object-locator": {"schema-name": database, "table-name": "legacy_%"}},
        {"rule-type": "transformation", "rule-id": "8", "rule-name": "prefix", "rule-target": "table",
         "rule-action": "add-prefix", "value": "src_",
         "object-locator": {"schema-name": database, "table-name": "legacy_%"}},
    ]  # fmt: skip
    create_task(binlake, "shape", mappings(database, "%", rules))

    assert run_task(binlake, "shape").exit_code == 0

    assert sorted(p.name for p in (bucket / "hub" / "shop").iterdir()) == ["customers", "src_orders"]
    assert read_rows(bucket, "shop", "customers") == [{"Id": 1, "email_address": "a@example.com"}]
    assert read_rows(bucket, "shop", "src_orders") == [{"id": 5}]
    stats = binlake.ok("describe-table-statistics", "--replication-task-arn", "shape", "--output", "json").json()
    assert sorted(s["TableName"] for s in stats["TableStatistics"]) == ["Customers", "legacy_orders"]


def test_op_and_timestamp_columns_come_first(binlake: Binlake, endpoints, admin, database: str, bucket: Path) -> None:
    admin.cursor().execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY, v VARCHAR(5))")
    admin.cursor().execute(f"INSERT INTO `{database}`.t VALUES (1, 'a'), (2, NULL)")
    settings = {"BucketName": str(bucket), "BucketFolder": "hub", "IncludeOpForFullLoad": True,
                "TimestampColumnName": "dms_ts"}  # fmt: skip
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "with-op", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", json.dumps(settings),
    )  # fmt: skip
    create_task(binlake, "op", mappings(database), target="with-op")

    assert run_task(binlake, "op").exit_code == 0

    table = pq.read_table(bucket / "hub" / database / "t" / "LOAD00000001.parquet")
    assert table.column_names == ["Op", "dms_ts", "id", "v"]
    field = table.schema.field("dms_ts")  # DMS: a required string with microseconds, no zone
    assert (str(field.type), field.nullable) == ("string", False)
    assert table.column("Op").to_pylist() == ["I", "I"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", v) for v in table.column("dms_ts").to_pylist())


def test_csv_format(binlake: Binlake, endpoints, admin, database: str, bucket: Path) -> None:
    admin.cursor().execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY, name VARCHAR(20), price DECIMAL(6,2))")
    admin.cursor().execute(f"INSERT INTO `{database}`.t VALUES (1, 'Zürich, CH', 9.50), (2, NULL, NULL)")
    settings = {"BucketName": str(bucket), "BucketFolder": "hub", "DataFormat": "csv", "AddColumnName": True}
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "csv", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", json.dumps(settings),
    )  # fmt: skip
    create_task(binlake, "csv", mappings(database), target="csv")

    assert run_task(binlake, "csv").exit_code == 0

    assert table_files(bucket, database, "t") == ["LOAD00000001.csv"]
    with open(bucket / "hub" / database / "t" / "LOAD00000001.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == [["id", "name", "price"], ["1", "Zürich, CH", "9.50"], ["2", "", ""]]


@pytest.mark.parametrize(("prep_mode", "expected"), [
    ("DROP_AND_CREATE", ["LOAD00000001.parquet"]),
    ("DO_NOTHING", ["LOAD00000001.parquet", "LOAD00000002.parquet"]),
])  # fmt: skip
def test_target_table_prep_mode(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, prep_mode: str, expected: list[str]
) -> None:
    admin.cursor().execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    admin.cursor().execute(f"INSERT INTO `{database}`.t VALUES (1), (2)")
    settings = json.dumps({"FullLoadSettings": {"TargetTablePrepMode": prep_mode}})
    create_task(binlake, "prep", mappings(database), "--replication-task-settings", settings)

    assert run_task(binlake, "prep").exit_code == 0
    assert run_task(binlake, "prep", "reload-target").exit_code == 0

    assert table_files(bucket, database, "t") == expected
    assert len(read_rows(bucket, database, "t")) == 2 * len(expected)


def test_resume_processing_loads_only_unfinished_tables(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, tmp_path: Path
) -> None:
    cur = admin.cursor()
    for name in ("a", "b"):
        cur.execute(f"CREATE TABLE `{database}`.{name} (id INT PRIMARY KEY)")
        cur.execute(f"INSERT INTO `{database}`.{name} VALUES (1)")
    create_task(binlake, "resume", mappings(database))
    assert run_task(binlake, "resume").exit_code == 0
    # Make table b look unfinished, as after a crash mid-load.
    import sqlite3

    with sqlite3.connect(binlake.state_dir / "state.db") as db:
        db.execute("UPDATE table_statistics SET table_state = 'Full load' WHERE table_name = 'b'")
    cur.execute(f"INSERT INTO `{database}`.a VALUES (2)")
    cur.execute(f"INSERT INTO `{database}`.b VALUES (2)")

    assert run_task(binlake, "resume", "resume-processing").exit_code == 0

    assert len(read_rows(bucket, database, "a")) == 1  # completed: not loaded again
    assert len(read_rows(bucket, database, "b")) == 2  # unfinished: loaded again, from scratch
    stats = binlake.ok("describe-table-statistics", "--replication-task-arn", "resume", "--output", "json").json()
    assert {s["TableName"]: s["TableState"] for s in stats["TableStatistics"]} == {
        "a": "Table completed",
        "b": "Table completed",
    }
