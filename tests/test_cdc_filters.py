"""CdcInsertsOnly and CdcInsertsAndUpdates on every mix of changes, batch by batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Binlake
from tests.helpers import create_cdc_task, execute, start_detached, stop, wait_caught_up, wait_streaming
from tests.lake import cdc_rows, statistics, table_dir, target_settings, task_row

KEPT = {
    "CdcInsertsOnly": {"I"},
    "CdcInsertsAndUpdates": {"I", "U"},
}


@pytest.mark.parametrize("setting", sorted(KEPT))
def test_filtered_changes_in_batches_of_their_own(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, setting: str
) -> None:
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE `{db}`.other (id INT PRIMARY KEY, v INT)",
    )
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "filtered", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=0.1, **{setting: True}),
    )  # fmt: skip
    create_cdc_task(binlake, "filters", db, migration="cdc", target="filtered")
    start_detached(binlake, "filters")
    wait_streaming(binlake, "filters")

    # Each statement waits for the checkpoint, so each lands in a batch of its own: the UPDATE batch holds
    # only filtered changes under CdcInsertsOnly, the DELETE batch under both settings.
    steps = [
        f"INSERT INTO `{db}`.t VALUES (1, 1), (2, 2)",
        f"UPDATE `{db}`.t SET v = 10 WHERE id = 1",
        f"DELETE FROM `{db}`.t WHERE id = 2",
        # one transaction: a filtered change for t next to a kept one for other
        "BEGIN",
        f"DELETE FROM `{db}`.t WHERE id = 1",
        f"INSERT INTO `{db}`.other VALUES (7, 7)",
        "COMMIT",
        f"UPDATE `{db}`.other SET v = 8",
    ]
    for statement in steps:
        execute(admin, statement)
        if statement != "BEGIN" and not statement.startswith(f"DELETE FROM `{db}`.t WHERE id = 1"):
            wait_caught_up(binlake, "filters", admin)
    row = task_row(binlake.state_dir, "filters")
    assert row["status"] == "running", row["last_failure_message"]
    stop(binlake, "filters")

    kept = KEPT[setting]
    expected_t = [op_row for op_row in [("I", 1, 1), ("I", 2, 2), ("U", 1, 10)] if op_row[0] in kept]
    assert [(r["Op"], r["id"], r["v"]) for r in cdc_rows(table_dir(bucket, db, "t"))] == expected_t
    expected_other = [op_row for op_row in [("I", 7, 7), ("U", 7, 8)] if op_row[0] in kept]
    assert [(r["Op"], r["id"], r["v"]) for r in cdc_rows(table_dir(bucket, db, "other"))] == expected_other
    stats = statistics(binlake.state_dir, "filters")
    assert (stats["t"]["inserts"], stats["t"]["updates"], stats["t"]["deletes"]) == (2, 1, 2)
    assert (stats["other"]["inserts"], stats["other"]["updates"], stats["other"]["deletes"]) == (1, 1, 0)

    # A resume starts cleanly from the checkpoint and adds nothing.
    execute(admin, f"DELETE FROM `{db}`.other")
    start_detached(binlake, "filters", "resume-processing")
    wait_caught_up(binlake, "filters", admin)
    stop(binlake, "filters")
    assert [(r["Op"], r["id"], r["v"]) for r in cdc_rows(table_dir(bucket, db, "other"))] == expected_other
    assert statistics(binlake.state_dir, "filters")["other"]["deletes"] == 1
