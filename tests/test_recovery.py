"""What a start cleans up after an earlier run: unpublished temp files, a deleted task's intents; and binlog
positions that keep their order past suffix 999999."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from binlake.position import BinlogPosition
from tests.conftest import Binlake
from tests.helpers import create_cdc_task, execute, start_detached, stop, wait_caught_up, wait_streaming
from tests.lake import cdc_rows, table_dir, task_row


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("mysql-bin.999999:900", "mysql-bin.1000000:4"),
        ("mysql-bin.000009:4", "mysql-bin.000010:4"),
        ("host.example-bin.999999:4", "host.example-bin.1000000:4"),
        ("mysql-bin.000001:5", "mysql-bin.000001:40"),
    ],
)
def test_binlog_positions_order_by_file_number(earlier: str, later: str) -> None:
    a, b = BinlogPosition.parse(earlier), BinlogPosition.parse(later)
    assert a < b and a <= b and b > a and b >= a and not b < a
    assert min(b, a) == a and max(a, b) == b and sorted([b, a]) == [a, b]
    assert a == BinlogPosition.parse(earlier) and hash(a) == hash(BinlogPosition.parse(earlier))


def test_a_start_removes_the_tasks_stale_temp_files(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path
) -> None:
    db = database
    execute(admin, f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY)", f"INSERT INTO `{db}`.t VALUES (1)")
    # What a kill -9 in the middle of a write leaves: the temp file of a LOAD file and of a CDC file (in a
    # date partition folder); plus a temp file in a folder that is not this task's, which must stay.
    folder = table_dir(bucket, db, "t")
    stale = [
        folder / "LOAD00000001.parquet.binlake-tmp",
        folder / "2026" / "01" / "20260101-000000000.parquet.binlake-tmp",
    ]
    foreign = table_dir(bucket, db, "not_selected") / "LOAD00000001.parquet.binlake-tmp"
    for path in [*stale, foreign]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file")
    # A cdc task: no full load, so nothing else (no reload emptying the folder) removes them.
    create_cdc_task(binlake, "clean", db, migration="cdc", target="lake")
    start_detached(binlake, "clean")
    wait_streaming(binlake, "clean")
    stop(binlake, "clean")
    assert [p for p in stale if p.exists()] == []
    assert foreign.exists()
    assert [p for p in folder.rglob("*") if p.is_file()] == []
    log = (binlake.state_dir / "tasks" / "clean" / "task.log").read_text()
    assert "Removed 2 unpublished files left by an earlier run" in log


def test_deleting_a_task_deletes_its_intents(binlake: Binlake, endpoints, admin, database: str, bucket: Path) -> None:
    db = database
    execute(admin, f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY)")
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "lake-cdc", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", json.dumps({"BucketName": str(bucket), "BucketFolder": "hub", "CdcMaxBatchInterval": 0.1}),
    )  # fmt: skip
    create_cdc_task(binlake, "reused", db, migration="cdc")
    start_detached(binlake, "reused")
    wait_streaming(binlake, "reused")
    execute(admin, f"INSERT INTO `{db}`.t VALUES (1)")
    wait_caught_up(binlake, "reused", admin)
    stop(binlake, "reused")
    published = [p.relative_to(bucket).as_posix() for p in table_dir(bucket, db, "t").iterdir()]
    assert len(published) == 1
    # An unfinished batch of the old task (as a crash between publish and checkpoint leaves it) naming the
    # file it had published: deleting the task must take the intent with it.
    with sqlite3.connect(binlake.state_dir / "state.db") as state:
        state.execute(
            "INSERT INTO cdc_intents (task, batch, start_position, end_position, files) VALUES (?, 1, ?, ?, ?)",
            ("reused", "mysql-bin.000001:4", "mysql-bin.000001:4", json.dumps(published)),
        )
    binlake.ok("delete-replication-task", "--replication-task-arn", "reused")
    with sqlite3.connect(binlake.state_dir / "state.db") as state:
        assert state.execute("SELECT count(*) FROM cdc_intents").fetchone()[0] == 0

    create_cdc_task(binlake, "reused", db, migration="cdc")
    start_detached(binlake, "reused")
    wait_streaming(binlake, "reused")
    execute(admin, f"INSERT INTO `{db}`.t VALUES (2)")
    wait_caught_up(binlake, "reused", admin)
    stop(binlake, "reused")
    assert task_row(binlake.state_dir, "reused")["last_failure_message"] is None
    # The old task's file is still there: the new task did not replay the old intent.
    assert sorted(r["id"] for r in cdc_rows(table_dir(bucket, db, "t"))) == [1, 2]
