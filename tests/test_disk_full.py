"""A target that runs out of space (a small tmpfs filled up) or turns read-only (remounted ro) stops the
task with one line naming the cause and the fix, keeps the checkpoint behind every change not written, and
resume-processing completes the lake once the cause is gone: nothing lost, nothing twice."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from binlake.position import BinlogPosition
from binlake.target.store import TEMP_SUFFIX
from tests.conftest import Binlake, mappings
from tests.helpers import execute, master_position, start_detached, stop, wait_caught_up, wait_streaming
from tests.lake import cdc_rows, merged, source_state, table_dir, target_settings, task_row, wait_for


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a 2 MB tmpfs is not permitted here (needs root with CAP_SYS_ADMIN)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def grow(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)


def _fill(admin, db: str, first: int, rows: int) -> None:
    for start in range(first, first + rows, 100):  # random bytes: nothing compresses them
        execute(admin, f"INSERT INTO `{db}`.t SELECT seq, RANDOM_BYTES(1024) FROM seq_{start}_to_{start + 99}")


def test_disk_full_during_cdc_stops_the_task_and_resume_completes(
    binlake: Binlake, endpoints, admin, database: str, small_disk: Path
) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY, payload BLOB)")
    execute(admin, f"USE `{database}`")
    _fill(admin, database, 1, 100)
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "small", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(small_disk, CdcMaxBatchInterval=0.2),
    )  # fmt: skip
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "full", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "small", "--migration-type", "full-load-and-cdc", "--table-mappings",
        mappings(database),
    )  # fmt: skip
    start_detached(binlake, "full")
    wait_streaming(binlake, "full")
    _fill(admin, database, 101, 3000)  # about 3 MB more than the disk holds
    wait_for(lambda: task_row(binlake.state_dir, "full")["status"] == "failed", timeout=60, what="task stopped")
    row = task_row(binlake.state_dir, "full")
    message = row["last_failure_message"]
    assert message.startswith(f"no space left in {small_disk} writing hub/{database}/t/"), message
    assert "(fix: free space on that filesystem" in message and "resume-processing)" in message
    assert "\n" not in message and "Traceback" not in message
    assert BinlogPosition.parse(row["cdc_checkpoint"]) < master_position(admin)
    assert not [p for p in small_disk.rglob("*") if p.name.endswith(TEMP_SUFFIX)]  # no half-written file left
    described = binlake.ok("describe-replication-tasks", "--output", "json").json()["ReplicationTasks"][0]
    assert described["LastFailureMessage"] == message

    grow(small_disk)
    start_detached(binlake, "full", "resume-processing")
    wait_streaming(binlake, "full")
    wait_caught_up(binlake, "full", admin, timeout=120)
    stop(binlake, "full")
    directory = table_dir(small_disk, database, "t")
    assert merged(directory, ("id",)) == source_state(admin, database, "t", ("id",))
    counts = Counter((r["Op"], r["id"]) for r in cdc_rows(directory))
    assert not [change for change, n in counts.items() if n > 1]
    assert len(counts) == 3000


def test_disk_full_during_the_full_load_stops_the_task_and_resume_reloads(
    binlake: Binlake, endpoints, admin, database: str, small_disk: Path
) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY, payload BLOB)")
    execute(admin, f"USE `{database}`")
    _fill(admin, database, 1, 3000)
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "small", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(small_disk, MaxFileSize=512),
    )  # fmt: skip
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "load", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "small", "--migration-type", "full-load", "--table-mappings", mappings(database),
    )  # fmt: skip
    result = binlake.run_process("start-replication-task", "--replication-task-arn", "load", "--quiet")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: replication task load failed: table {database}.t: "), lines
    assert f"no space left in {small_disk} writing" in lines[0] and "(fix: free space" in lines[0]
    assert not [p for p in small_disk.rglob("*") if p.name.endswith(TEMP_SUFFIX)]

    grow(small_disk)
    binlake.ok("start-replication-task", "--replication-task-arn", "load", "--start-replication-task-type",
               "resume-processing", "--quiet")  # fmt: skip
    directory = table_dir(small_disk, database, "t")
    assert merged(directory, ("id",)) == source_state(admin, database, "t", ("id",))


def test_bucket_turning_read_only_stops_the_task_and_resume_completes(
    binlake: Binlake, endpoints, admin, database: str, small_disk: Path
) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY, payload BLOB)")
    execute(admin, f"USE `{database}`")
    _fill(admin, database, 1, 100)
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "flaky", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(small_disk, CdcMaxBatchInterval=0.2),
    )  # fmt: skip
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "ro", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "flaky", "--migration-type", "full-load-and-cdc", "--table-mappings",
        mappings(database),
    )  # fmt: skip
    start_detached(binlake, "ro")
    wait_streaming(binlake, "ro")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        _fill(admin, database, 101, 200)
        wait_for(lambda: task_row(binlake.state_dir, "ro")["status"] == "failed", timeout=60, what="task stopped")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    message = task_row(binlake.state_dir, "ro")["last_failure_message"]
    assert message.startswith(f"{small_disk} refused writing hub/{database}/t/"), message
    assert "Read-only file system" in message and "(fix: make the bucket writable again" in message

    start_detached(binlake, "ro", "resume-processing")
    wait_streaming(binlake, "ro")
    wait_caught_up(binlake, "ro", admin, timeout=120)
    stop(binlake, "ro")
    directory = table_dir(small_disk, database, "t")
    assert merged(directory, ("id",)) == source_state(admin, database, "t", ("id",))
    counts = Counter((r["Op"], r["id"]) for r in cdc_rows(directory))
    assert not [change for change, n in counts.items() if n > 1] and len(counts) == 200
