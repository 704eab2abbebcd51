"""DDL mid-stream, end to end against the sandbox: statements behind comments, partition maintenance that
deletes rows, DROP DATABASE, RENAME TABLE into, out of and within the selection."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Binlake
from tests.helpers import create_cdc_task, execute, start_detached, stop, wait_caught_up, wait_streaming
from tests.lake import load_files, merged, source_state, statistics, table_dir, task_row

KEY = ("id",)


def start(binlake: Binlake, name: str, schema: str, table: str = "%") -> None:
    create_cdc_task(binlake, name, schema, table=table)
    start_detached(binlake, name)
    wait_streaming(binlake, name)


def test_truncate_behind_a_comment_deletes_the_rows_in_the_lake(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path
) -> None:
    db = database
    forms = {
        "t1": "/* app */ TRUNCATE TABLE `{db}`.t1",
        "t2": "# app\nTRUNCATE `{db}`.t2",
        "t3": "-- app\n  TRUNCATE TABLE `{db}`.`t3`",
        "t4": "/*!40101 TRUNCATE TABLE `{db}`.t4 */",
        "t5": "/*M!100100 TRUNCATE `{db}`.t5 */",
    }
    for table in forms:
        execute(admin, f"CREATE TABLE `{db}`.{table} (id INT PRIMARY KEY, v TEXT)")
        execute(admin, f"INSERT INTO `{db}`.{table} VALUES (1, 'one'), (2, 'two')")
    start(binlake, "trunc", db)
    for table, statement in forms.items():
        execute(admin, f"INSERT INTO `{db}`.{table} VALUES (3, 'cdc')", statement.format(db=db))
        execute(admin, f"INSERT INTO `{db}`.{table} VALUES (9, 'after')")
    wait_caught_up(binlake, "trunc", admin)
    assert task_row(binlake.state_dir, "trunc")["status"] == "running"
    stop(binlake, "trunc")

    stats = statistics(binlake.state_dir, "trunc")
    for table in forms:
        assert merged(table_dir(bucket, db, table), KEY) == {(9,): {"id": 9, "v": "after"}}, table
        assert stats[table]["ddls"] == 1, table


def test_partition_maintenance_that_deletes_rows_reloads_the_table(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path
) -> None:
    db = database
    for table in ("p_truncate", "p_drop", "p_exchange", "p_reorganize"):
        execute(
            admin,
            f"CREATE TABLE `{db}`.{table} (id INT PRIMARY KEY) PARTITION BY RANGE (id) "
            "(PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN (20))",
            f"INSERT INTO `{db}`.{table} VALUES (1), (2), (11)",
        )
    execute(admin, f"CREATE TABLE `{db}`.swap (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.swap VALUES (5)")
    start(binlake, "parts", db)
    execute(
        admin,
        f"INSERT INTO `{db}`.p_truncate VALUES (3)",
        f"ALTER TABLE `{db}`.p_truncate TRUNCATE PARTITION p0",
        f"/* maintenance */ ALTER TABLE `{db}`.p_drop DROP PARTITION p0",
        f"ALTER TABLE `{db}`.p_exchange EXCHANGE PARTITION p0 WITH TABLE `{db}`.swap",
        f"ALTER TABLE `{db}`.p_reorganize REORGANIZE PARTITION p1 INTO "
        "(PARTITION p1a VALUES LESS THAN (15), PARTITION p1b VALUES LESS THAN (20))",
        f"INSERT INTO `{db}`.p_truncate VALUES (4)",
        f"INSERT INTO `{db}`.p_reorganize VALUES (12)",
    )
    wait_caught_up(binlake, "parts", admin)
    assert task_row(binlake.state_dir, "parts")["status"] == "running"
    stop(binlake, "parts")

    for table in ("p_truncate", "p_drop", "p_exchange", "swap", "p_reorganize"):
        assert merged(table_dir(bucket, db, table), KEY) == source_state(admin, db, table, KEY), table
    assert set(merged(table_dir(bucket, db, "p_exchange"), KEY)) == {(5,), (11,)}
    assert set(merged(table_dir(bucket, db, "swap"), KEY)) == {(1,), (2,)}
    stats = statistics(binlake.state_dir, "parts")
    assert {table: stats[table]["ddls"] for table in stats} == {
        "p_truncate": 1,
        "p_drop": 1,
        "p_exchange": 1,
        "swap": 1,
        "p_reorganize": 1,
    }


def test_drop_database_cancels_its_tables(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path
) -> None:
    db = database
    for table in ("a", "b", "gone_before"):
        execute(admin, f"CREATE TABLE `{db}`.{table} (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.{table} VALUES (1)")
    start(binlake, "dropdb", db)
    execute(admin, f"DROP TABLE `{db}`.gone_before", f"INSERT INTO `{db}`.a VALUES (2)")
    execute(admin, f"/* cleanup */ DROP DATABASE `{db}`")
    wait_caught_up(binlake, "dropdb", admin)
    assert task_row(binlake.state_dir, "dropdb")["status"] == "running"
    stop(binlake, "dropdb")

    stats = statistics(binlake.state_dir, "dropdb")
    assert {table: (s["table_state"], s["ddls"]) for table, s in stats.items()} == {
        "a": ("Table cancelled", 1),
        "b": ("Table cancelled", 1),
        "gone_before": ("Table cancelled", 1),
    }
    # the files stay: the lake still holds what the tables had
    assert set(merged(table_dir(bucket, db, "a"), KEY)) == {(1,), (2,)}
    assert set(merged(table_dir(bucket, db, "b"), KEY)) == {(1,)}


def test_a_table_created_again_after_drop_database_is_loaded_again(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path
) -> None:
    db = database
    execute(admin, f"CREATE TABLE `{db}`.a (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.a VALUES (1)")
    start(binlake, "again", db)
    execute(
        admin,
        f"DROP SCHEMA `{db}`",
        f"CREATE SCHEMA `{db}`",
        f"CREATE TABLE `{db}`.a (id INT PRIMARY KEY)",
        f"INSERT INTO `{db}`.a VALUES (7)",
    )
    wait_caught_up(binlake, "again", admin)
    stop(binlake, "again")
    stats = statistics(binlake.state_dir, "again")
    assert (stats["a"]["table_state"], stats["a"]["ddls"]) == ("Table completed", 2)
    assert merged(table_dir(bucket, db, "a"), KEY) == {(7,): {"id": 7}}


def test_rename_into_out_of_and_within_the_selection(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path
) -> None:
    db = database
    other = f"{db}_other"
    execute(admin, f"CREATE DATABASE `{other}`")
    try:
        for schema, table in ((db, "keep_out"), (db, "other_in"), (db, "keep_a"), (db, "keep x.y"),
                              (other, "keep_far"), (db, "keep_leaving")):  # fmt: skip
            execute(
                admin,
                f"CREATE TABLE `{schema}`.`{table}` (id INT PRIMARY KEY, v TEXT)",
                f"INSERT INTO `{schema}`.`{table}` VALUES (1, '{table}'), (2, '{table}')",
            )
        start(binlake, "ren", db, table="keep%")
        execute(
            admin,
            f"/* app */ RENAME TABLE `{db}`.keep_out TO `{db}`.gone_out, `{db}`.other_in TO `{db}`.keep_in",
            f"ALTER TABLE `{db}`.keep_a RENAME TO `{db}`.`keep b`",
            f"RENAME TABLE `{db}`.`keep x.y` WAIT 1 TO `{db}`.`keep TO z`",
            f"RENAME TABLE `{other}`.keep_far TO `{db}`.keep_near, `{db}`.keep_leaving TO `{other}`.keep_left",
            f"INSERT INTO `{db}`.keep_in VALUES (3, 'cdc')",
            f"INSERT INTO `{db}`.`keep b` VALUES (3, 'cdc')",
            f"INSERT INTO `{db}`.`keep TO z` VALUES (3, 'cdc')",
            f"INSERT INTO `{db}`.keep_near VALUES (3, 'cdc')",
            f"INSERT INTO `{db}`.gone_out VALUES (3, 'not replicated')",
            f"INSERT INTO `{other}`.keep_left VALUES (3, 'not replicated')",
        )
        wait_caught_up(binlake, "ren", admin)
        assert task_row(binlake.state_dir, "ren")["status"] == "running"
        stop(binlake, "ren")
    finally:
        execute(admin, f"DROP DATABASE `{other}`")

    stats = statistics(binlake.state_dir, "ren")
    assert {table: (s["table_state"], s["ddls"]) for table, s in stats.items()} == {
        "keep_out": ("Table cancelled", 1),
        "keep_in": ("Table completed", 1),
        "keep_a": ("Table cancelled", 1),
        "keep b": ("Table completed", 1),
        "keep x.y": ("Table cancelled", 1),
        "keep TO z": ("Table completed", 1),
        "keep_near": ("Table completed", 1),
        "keep_leaving": ("Table cancelled", 1),
    }
    for table in ("keep_in", "keep b", "keep TO z", "keep_near"):
        assert load_files(table_dir(bucket, db, table)), table
        assert merged(table_dir(bucket, db, table), KEY) == source_state(admin, db, table, KEY), table
    assert merged(table_dir(bucket, db, "keep_out"), KEY) == {
        (1,): {"id": 1, "v": "keep_out"},
        (2,): {"id": 2, "v": "keep_out"},
    }
    assert not table_dir(bucket, db, "gone_out").exists()
    assert not table_dir(bucket, db, "other_in").exists()
    assert not table_dir(bucket, other, "keep_left").exists()
    assert set(merged(table_dir(bucket, db, "keep_leaving"), KEY)) == {(1,), (2,)}
