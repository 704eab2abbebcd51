"""Faults a running task must ride out: the source restarting or unreachable for a while (ErrorBehavior's
recoverable errors). The source is a MariaDB of this test's own, so stopping it disturbs no other test."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from binlake.config.error_behavior import ErrorBehavior
from binlake.config.task_settings import ReplicationTaskSettings
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.sandbox import Sandbox, free_port
from tests.conftest import Binlake, mappings
from tests.helpers import master_position, start_detached, stop, wait_streaming
from tests.lake import cdc_rows, merged, source_state, statistics, table_dir, target_settings, task_row, wait_for


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(
        tmp_path / "mariadb",
        port=free_port(),
        extra_settings={"innodb_buffer_pool_size": "32M", "innodb_log_file_size": "16M"},
    )
    box.start()
    yield box
    box.destroy()


def create_endpoints(binlake: Binlake, box: Sandbox, tmp_path: Path, **target: Any) -> Path:
    """Source endpoint ``src`` on ``box`` and a local target ``lake``; returns the bucket directory."""
    info = box.info()
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "src", "--endpoint-type", "source", "--engine-name", "mariadb",
        "--server-name", info.host, "--port", str(info.port), "--username", info.user,
        "--password-file", info.password_file,
    )  # fmt: skip
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "lake", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, **target),
    )  # fmt: skip
    return bucket


def test_error_behavior_defaults_and_waits_follow_dms() -> None:
    defaults = ReplicationTaskSettings.parse("").ErrorBehavior
    assert (defaults.RecoverableErrorCount, defaults.RecoverableErrorInterval) == (-1, 5)
    assert (defaults.RecoverableErrorThrottling, defaults.RecoverableErrorThrottlingMax) == (True, 1800)
    # DMS stops retrying once an attempt after the longest wait failed too (about 73 minutes).
    assert list(defaults.waits()) == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 1800]
    forever = ErrorBehavior(RecoverableErrorStopRetryAfterThrottlingMax=False).waits()
    assert [next(forever) for _ in range(12)][-2:] == [1800, 1800]
    assert list(ErrorBehavior(RecoverableErrorCount=3, RecoverableErrorThrottling=False).waits()) == [5, 5, 5]
    assert list(ErrorBehavior(RecoverableErrorCount=0).waits()) == []
    pasted = {"ErrorBehavior": {"DataErrorPolicy": "LOG_ERROR", "RecoverableErrorInterval": 1}}
    assert ReplicationTaskSettings.parse(json.dumps(pasted)).ErrorBehavior.RecoverableErrorInterval == 1
    with pytest.raises(BinlakeError, match="unknown ErrorBehavior key 'RecoverableErrorCounts'"):
        ReplicationTaskSettings.parse(json.dumps({"ErrorBehavior": {"RecoverableErrorCounts": 1}}))
    with pytest.raises(BinlakeError, match=r"RecoverableErrorCount -2 is not valid \(fix: use -1"):
        ReplicationTaskSettings.parse(json.dumps({"ErrorBehavior": {"RecoverableErrorCount": -2}}))


def _workload(box: Sandbox, schema: str, stop_writing: threading.Event, committed: list[int]) -> None:
    """Transactions of updates, inserts and deletes; reconnects whenever the server is away."""
    rng = random.Random(7)
    next_id = 100_000
    conn = None
    while not stop_writing.is_set():
        try:
            if conn is None:
                conn = box.root_connection()
            cur = conn.cursor()
            cur.execute("BEGIN")
            for _ in range(rng.randint(1, 10)):
                choice = rng.random()
                if choice < 0.6:
                    cur.execute(
                        f"UPDATE `{schema}`.accounts SET version = version + 1 WHERE id = {rng.randint(1, 2000)}"
                    )
                elif choice < 0.9:
                    cur.execute(f"INSERT INTO `{schema}`.accounts VALUES ({next_id}, 0)")
                    next_id += 1
                else:
                    cur.execute(f"DELETE FROM `{schema}`.accounts WHERE id = {rng.randint(1, 2000)}")
            cur.execute("COMMIT")
            committed[0] += 1
            time.sleep(0.01)
        except MySQLdb.Error:
            conn = None
            time.sleep(0.2)


def test_task_rides_out_source_restarts_and_an_outage(binlake: Binlake, own_sandbox: Sandbox, tmp_path: Path) -> None:
    """Two restarts of the source and 30 s with its port closed, under a workload: the task stays running,
    each retry is an event and a log line, and the lake ends equal to the source with no change twice."""
    box, schema = own_sandbox, "faulty"
    admin = box.root_connection()
    cur = admin.cursor()
    cur.execute(f"CREATE DATABASE {schema}")
    cur.execute(f"CREATE TABLE {schema}.accounts (id INT PRIMARY KEY, version INT NOT NULL)")
    cur.execute(f"INSERT INTO {schema}.accounts SELECT seq, 0 FROM {schema}.seq_1_to_2000")
    admin.close()
    bucket = create_endpoints(binlake, box, tmp_path, CdcMaxBatchInterval=0.2)
    settings = {
        "ErrorBehavior": {
            "RecoverableErrorInterval": 1,
            "RecoverableErrorThrottlingMax": 4,
            "RecoverableErrorStopRetryAfterThrottlingMax": False,
        }
    }
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "sturdy", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "lake", "--migration-type", "full-load-and-cdc",
        "--table-mappings", mappings(schema), "--replication-task-settings", json.dumps(settings),
    )  # fmt: skip
    start_detached(binlake, "sturdy")
    wait_streaming(binlake, "sturdy")
    stop_writing, committed = threading.Event(), [0]
    writer = threading.Thread(target=_workload, args=(box, schema, stop_writing, committed))
    writer.start()
    statuses: list[str] = []
    try:
        for outage in (0.0, 0.0, 30.0):
            before = committed[0]
            wait_for(lambda before=before: committed[0] > before + 20, what="workload running")
            box.stop()
            deadline = time.monotonic() + outage
            while time.monotonic() < deadline:
                statuses.append(task_row(binlake.state_dir, "sturdy")["status"])
                time.sleep(1)
            box.start()
        before = committed[0]
        wait_for(lambda: committed[0] > before + 20, what="workload running after the outage")
    finally:
        stop_writing.set()
        writer.join()
    admin = box.root_connection()
    target = master_position(admin)

    def caught_up() -> bool:
        row = task_row(binlake.state_dir, "sturdy")
        assert row["status"] == "running", row["last_failure_message"]
        return bool(row["cdc_checkpoint"]) and BinlogPosition.parse(row["cdc_checkpoint"]) >= target

    wait_for(caught_up, timeout=120, what=f"checkpoint at {target}")
    assert set(statuses) == {"running"}, statuses
    events = binlake.ok(
        "describe-events", "--source-identifier", "sturdy", "--source-type", "replication-task",
        "--event-categories", "recovery", "--output", "json",
    ).json()["Events"]  # fmt: skip
    retries = [e["Message"] for e in events if e["Message"].startswith("CDC interrupted")]
    assert len(retries) >= 3, retries
    log = (binlake.state_dir / "tasks" / "sturdy" / "task.log").read_text()
    assert log.count("CDC interrupted") == len(retries)
    assert "cannot reach MySQL" in log  # the retries during the outage found the port closed
    stop(binlake, "sturdy")
    directory = table_dir(bucket, schema, "accounts")
    assert merged(directory, ("id",)) == source_state(admin, schema, "accounts", ("id",))
    counts = Counter((r["Op"], r["id"], r["version"]) for r in cdc_rows(directory))
    assert not [change for change, n in counts.items() if n > 1]
    assert sum(1 for op, _, _ in counts if op == "U") > 50
    admin.close()


def test_full_load_rides_out_a_source_restart(binlake: Binlake, own_sandbox: Sandbox, tmp_path: Path) -> None:
    """The source restarts while a table loads: the table is loaded again, afresh, and the task completes."""
    box = own_sandbox
    admin = box.root_connection()
    cur = admin.cursor()
    cur.execute("CREATE DATABASE shop")
    cur.execute("CREATE TABLE shop.items (id INT PRIMARY KEY, v INT)")
    cur.execute("INSERT INTO shop.items SELECT seq, seq FROM shop.seq_1_to_20000")
    bucket = create_endpoints(binlake, box, tmp_path)
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "loader", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "lake", "--migration-type", "full-load", "--table-mappings", mappings("shop"),
        "--replication-task-settings", json.dumps({"ErrorBehavior": {"RecoverableErrorInterval": 2}}),
    )  # fmt: skip
    cur.execute("LOCK TABLES shop.items WRITE")  # the load waits inside its read until the server goes down
    start_detached(binlake, "loader")
    wait_for(lambda: statistics(binlake.state_dir, "loader").get("items", {}).get("table_state") == "Full load",
             what="full load started")  # fmt: skip
    # The lock is held until the server goes down: released earlier, the load could finish before the restart.
    box.stop()
    with contextlib.suppress(Exception):
        admin.close()
    box.start()
    wait_for(lambda: task_row(binlake.state_dir, "loader")["status"] != "running", timeout=180, what="task ended")
    row = task_row(binlake.state_dir, "loader")
    assert (row["status"], row["stop_reason"]) == ("stopped", "FULL_LOAD_ONLY_FINISHED"), row["last_failure_message"]
    assert statistics(binlake.state_dir, "loader")["items"]["full_load_rows"] == 20000
    admin = box.root_connection()
    assert merged(table_dir(bucket, "shop", "items"), ("id",)) == source_state(admin, "shop", "items", ("id",))
    admin.close()
    events = binlake.ok("describe-events", "--source-identifier", "loader", "--output", "json").json()["Events"]
    # The table's own retry (a fresh snapshot after a transient error) or, past it, the task's ErrorBehavior.
    assert any(
        e["Message"].startswith(("Full load interrupted, reloading shop.items", "Full load of shop.items interrupted"))
        for e in events
    )
