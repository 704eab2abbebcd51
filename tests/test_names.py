"""Invariant 7, names stay in their room: hostile schema and table names never read, write or delete
outside their table's own prefix, never nest inside another table's, and never share one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from binlake.target.naming import key_segment, name_of_segment, table_prefix
from tests.conftest import Binlake
from tests.helpers import (
    assert_one_line_error,
    create_cdc_task,
    execute,
    start_detached,
    stop,
    wait_caught_up,
    wait_streaming,
)
from tests.lake import load_files, merged, source_state, target_settings, task_row, wait_for

HOSTILE = [
    "../../../victim",  # BucketFolder/schema/../../../victim is the bucket's parent directory
    "../x",
    "x",
    "x/y",  # must not land inside x
    "a*",
    "ab",
    "[b]",
    "b",
    "q?",
    "qq",
    ".",
    "..",
    "c\\d",
    "%2F",  # a name that looks like an encoded one
    "Zürich 東京",
    "n" * 64,
]


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@pytest.mark.parametrize(
    ("name", "segment"),
    [
        ("../x", "..%2Fx"),
        ("x/y", "x%2Fy"),
        ("a\\b", "a%5Cb"),
        ("nul\0", "nul%00"),
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("...", "..."),
        ("100%", "100%25"),
        ("%2F", "%252F"),
        ("a*[b]?", "a*[b]?"),
        ("Zürich 東京", "Zürich 東京"),
        ("orders", "orders"),
    ],
)
def test_key_segment_is_one_reversible_segment(name: str, segment: str) -> None:
    assert key_segment(name) == segment
    assert "/" not in segment and "\\" not in segment and "\0" not in segment and segment not in (".", "..")
    assert name_of_segment(segment) == name
    assert table_prefix("/hub/", name, name) == f"hub/{segment}/{segment}"


def test_hostile_names_stay_in_their_own_folder(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, tmp_path: Path
) -> None:
    db = database
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "canary.txt").write_text("still here")
    outside_before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "state" not in p.parts)
    for i, name in enumerate(HOSTILE):
        execute(
            admin,
            f"CREATE TABLE `{db}`.{quote(name)} (id INT PRIMARY KEY, v VARCHAR(80))",
            f"INSERT INTO `{db}`.{quote(name)} VALUES ({i}, {json.dumps(name)}), ({100 + i}, 'load')",
        )
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "lake-cdc", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=0.1),
    )  # fmt: skip
    create_cdc_task(binlake, "hostile", db)
    start_detached(binlake, "hostile")
    wait_streaming(binlake, "hostile")
    for i, name in enumerate(HOSTILE):
        execute(
            admin,
            f"INSERT INTO `{db}`.{quote(name)} VALUES ({200 + i}, 'cdc')",
            f"UPDATE `{db}`.{quote(name)} SET v = 'updated' WHERE id = {100 + i}",
        )
    # A reload of x (TRUNCATE) and of a table created mid-stream empty their own folders only.
    execute(
        admin,
        f"TRUNCATE TABLE `{db}`.`x`",
        f"INSERT INTO `{db}`.`x` VALUES (1, 'after truncate')",
        f"CREATE TABLE `{db}`.`../../../victim2` (id INT PRIMARY KEY, v VARCHAR(80))",
        f"INSERT INTO `{db}`.`../../../victim2` VALUES (1, 'created in CDC')",
    )
    wait_caught_up(binlake, "hostile", admin)
    row = task_row(binlake.state_dir, "hostile")
    assert row["status"] == "running", row["last_failure_message"]
    stop(binlake, "hostile")

    # Nothing outside the bucket changed; the canary survived.
    assert (victim / "canary.txt").read_text() == "still here"
    outside_after = sorted(
        p.relative_to(tmp_path)
        for p in tmp_path.rglob("*")
        if "state" not in p.parts and bucket not in p.parents and p != bucket
    )
    assert outside_after == [p for p in outside_before if p != Path("bucket")]
    # Every table has exactly one folder, directly under the schema's, holding exactly its own rows.
    names = [*HOSTILE, "../../../victim2"]
    schema_dir = bucket / "hub" / db
    assert sorted(p.name for p in schema_dir.iterdir()) == sorted(key_segment(n) for n in names)
    for name in names:
        folder = schema_dir / key_segment(name)
        assert all(p.is_file() for p in folder.iterdir()), name  # nothing nests inside a table's folder
        assert load_files(folder), name
        assert merged(folder, ("id",)) == source_state(admin, db, name, ("id",)), name

    # The catalog's views read each table's own files: a*, [b] and q? are not globs over ab, b and qq.
    binlake.ok("crawl", "--replication-task-arn", "hostile")
    catalog = db.split("_")[0] + "_db"
    for name in names:
        view = '"' + name.replace('"', '""') + '"'
        rows = binlake.ok("query", f"SELECT id, v FROM {catalog}.{view} ORDER BY id", "--output", "json").json()
        assert [(r["id"], r["v"]) for r in rows] == sorted(
            source_state(admin, db, name, ("id",)).keys()
            and [(r["id"], r["v"]) for r in source_state(admin, db, name, ("id",)).values()]
        ), name


def test_case_twins_and_rules_that_merge_tables_are_refused(binlake: Binlake, endpoints, admin, database: str) -> None:
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.`Orders` (id INT PRIMARY KEY)",
        f"CREATE TABLE `{db}`.`orders` (id INT PRIMARY KEY)",
        f"CREATE TABLE `{db}`.`a` (id INT PRIMARY KEY)",
        f"CREATE TABLE `{db}`.`b` (id INT PRIMARY KEY)",
    )

    def create(name: str, tables: str, rules: list[dict]) -> object:
        document = {
            "rules": [
                {
                    "rule-type": "selection", "rule-id": f"s{i}", "rule-name": f"include-{i}", "rule-action": "include",
                    "object-locator": {"schema-name": db, "table-name": table},
                }
                for i, table in enumerate(tables.split(","))
            ] + rules
        }  # fmt: skip
        return binlake(
            "create-replication-task", "--replication-task-identifier", name, "--source-endpoint-arn", "src",
            "--target-endpoint-arn", "lake", "--migration-type", "full-load", "--table-mappings", json.dumps(document),
        )  # fmt: skip

    assert_one_line_error(
        create("twins", "%rders", []),
        f"source tables {db}.Orders and {db}.orders map to target folders hub/{db}/Orders and hub/{db}/orders, "
        "which differ only by case",
        "fix: add a rename rule for one of them or exclude one with a selection rule",
    )
    lower = {
        "rule-type": "transformation", "rule-id": "2", "rule-name": "lowercase", "rule-action": "convert-lowercase",
        "rule-target": "table", "object-locator": {"schema-name": db, "table-name": "%"},
    }  # fmt: skip
    assert_one_line_error(
        create("lowered", "%rders", [lower]),
        f"source tables {db}.Orders and {db}.orders both map to target folder hub/{db}/orders (rule 'lowercase')",
    )
    renames = [
        {
            "rule-type": "transformation", "rule-id": str(3 + i), "rule-name": f"rename-{t}", "rule-action": "rename",
            "rule-target": "table", "object-locator": {"schema-name": db, "table-name": t}, "value": "same",
        }
        for i, t in enumerate("ab")
    ]  # fmt: skip
    assert_one_line_error(
        create("renamed", "a,b", renames),
        f"source tables {db}.a and {db}.b both map to target folder hub/{db}/same "
        "(rule 'rename-a' and rule 'rename-b')",
    )
    assert binlake("describe-replication-tasks", "--output", "json").json()["ReplicationTasks"] == []
    # One of them excluded: accepted.
    exclude = {
        "rule-type": "selection", "rule-id": "9", "rule-name": "not-b", "rule-action": "exclude",
        "object-locator": {"schema-name": db, "table-name": "b"},
    }  # fmt: skip
    assert create("renamed", "a,b", [*renames, exclude]).exit_code == 0


def test_a_table_created_during_cdc_into_an_existing_folder_is_refused(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path
) -> None:
    db = database
    execute(admin, f"CREATE TABLE `{db}`.`items` (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.`items` VALUES (1)")
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "lake-cdc", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=0.1),
    )  # fmt: skip
    create_cdc_task(binlake, "grows", db)
    start_detached(binlake, "grows")
    wait_streaming(binlake, "grows")
    execute(admin, f"CREATE TABLE `{db}`.`Items` (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.`Items` VALUES (2)")

    def failed() -> dict:
        row = task_row(binlake.state_dir, "grows")
        return row if row["status"] == "failed" else {}

    row = wait_for(failed, what="task failed")
    assert row["last_failure_message"] == (
        f"source tables {db}.Items and {db}.items map to target folders hub/{db}/Items and hub/{db}/items, which "
        "differ only by case (fix: add a rename rule for one of them or exclude one with a selection rule)"
    )
    # items' files are untouched: still its LOAD file with its one row.
    assert merged(bucket / "hub" / db / "items", ("id",)) == {(1,): {"id": 1}}


def test_a_rule_that_empties_a_name_is_refused(binlake: Binlake, endpoints, admin, database: str) -> None:
    db = database
    execute(admin, f"CREATE TABLE `{db}`.`tmp_` (id INT PRIMARY KEY)")
    document = {
        "rules": [
            {
                "rule-type": "selection", "rule-id": "1", "rule-name": "include", "rule-action": "include",
                "object-locator": {"schema-name": db, "table-name": "tmp_"},
            },
            {
                "rule-type": "transformation", "rule-id": "2", "rule-name": "strip", "rule-action": "remove-prefix",
                "rule-target": "table", "object-locator": {"schema-name": db, "table-name": "%"}, "value": "tmp_",
            },
        ]
    }  # fmt: skip
    result = binlake(
        "create-replication-task", "--replication-task-identifier", "empty", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "lake", "--migration-type", "full-load", "--table-mappings", json.dumps(document),
    )  # fmt: skip
    assert_one_line_error(
        result,
        f"source table {db}.tmp_ maps to an empty target name (rule 'strip')",
        "fix: change the transformation rule so that the schema and table names keep at least one character",
    )


def test_glob_characters_in_s3_locations_match_only_themselves(s3_env, moto, s3, s3_bucket: str) -> None:
    """The catalog reads S3 through an fsspec filesystem registered with DuckDB: its glob must treat a*, [b]
    and q? literally too."""
    import duckdb
    import pyarrow as pa

    from binlake.catalog.sql import glob_escape
    from binlake.config.endpoint import S3Settings
    from binlake.target.store import Bucket
    from binlake.target.writer import write_file

    settings = S3Settings(BucketName=f"s3://{s3_bucket}", EndpointUrl=moto.url)
    bucket = Bucket.open(settings)
    names = ["a*", "ab", "[b]", "b", "q?", "qq"]
    for i, name in enumerate(names):
        write_file(bucket, f"hub/db/{key_segment(name)}/LOAD00000001.parquet", settings, pa.record_batch({"x": [i]}))
    conn = duckdb.connect()
    bucket.register_with_duckdb(conn)
    for i, name in enumerate(names):
        pattern = glob_escape(bucket.duckdb_path(f"hub/db/{key_segment(name)}")) + "/*.parquet"
        assert conn.sql(f"SELECT x FROM read_parquet('{pattern}')").fetchall() == [(i,)], name
