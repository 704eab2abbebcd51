"""A task's life across processes: detached runs, a second start refused, stop from another shell, a crash."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from binlake.sandbox import process_alive
from tests.conftest import Binlake, create_task, mappings, run_task
from tests.helpers import run_on_terminal


def task_shape(binlake: Binlake, name: str) -> dict:
    result = binlake.run_process("describe-replication-tasks", "--filters", f"Name=replication-task-id,Values={name}",
                                 "--output", "json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["ReplicationTasks"][0]


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_detached_task_second_start_and_stop_from_another_shell(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path
) -> None:
    admin.cursor().execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    admin.cursor().execute(f"INSERT INTO `{database}`.t SELECT seq FROM `{database}`.seq_1_to_5000")
    create_task(binlake, "held", mappings(database), "--replication-task-settings",
                json.dumps({"FullLoadSettings": {"CommitRate": 100}}))  # fmt: skip
    # Hold the table with a write lock so the task's snapshot read blocks and the task stays running.
    admin.cursor().execute(f"LOCK TABLES `{database}`.t WRITE")
    try:
        started = binlake.run_process("start-replication-task", "--replication-task-arn", "held", "--detach")
        assert started.exit_code == 0, started.stderr
        assert "started in the background" in started.stdout
        wait_for(lambda: task_shape(binlake, "held")["Status"] == "running")

        second = binlake.run_process("start-replication-task", "--replication-task-arn", "held")
        assert second.exit_code == 1
        assert second.stderr.startswith("Error: replication task held is already running (process ")
        assert len(second.stderr.strip().splitlines()) == 1

        stop = binlake.run_process("stop-replication-task", "--replication-task-arn", "held", "--no-wait",
                                   "--output", "json")  # fmt: skip
        assert stop.exit_code == 0, stop.stderr
        assert json.loads(stop.stdout)["ReplicationTask"]["Status"] == "stopping"
        log = binlake.state_dir / "tasks" / "held" / "task.log"
        wait_for(lambda: "Stop request received" in log.read_text())
    finally:
        admin.cursor().execute("UNLOCK TABLES")
    wait_for(lambda: task_shape(binlake, "held")["Status"] == "stopped", timeout=15)

    task = task_shape(binlake, "held")
    assert task["StopReason"] == "STOPPED_BY_USER"
    stats = binlake.ok("describe-table-statistics", "--replication-task-arn", "held", "--output", "json").json()
    assert stats["TableStatistics"][0]["TableState"] == "Table cancelled"
    assert stats["TableStatistics"][0]["FullLoadRows"] < 5000
    assert not list(bucket.rglob("LOAD*.parquet"))  # nothing half-loaded is published as a finished file set
    log = (binlake.state_dir / "tasks" / "held" / "task.log").read_text()
    assert "Full load cancelled" in log or "Task held stopped: STOPPED_BY_USER" in log

    # The stopped task resumes and completes.
    assert run_task(binlake, "held", "resume-processing").exit_code == 0
    stats = binlake.ok("describe-table-statistics", "--replication-task-arn", "held", "--output", "json").json()
    assert stats["TableStatistics"][0]["FullLoadRows"] == 5000
    assert stats["TableStatistics"][0]["TableState"] == "Table completed"


def test_killed_task_is_reported_failed_and_resumes(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path
) -> None:
    admin.cursor().execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    admin.cursor().execute(f"INSERT INTO `{database}`.t SELECT seq FROM `{database}`.seq_1_to_1000")
    create_task(binlake, "killed", mappings(database))
    admin.cursor().execute(f"LOCK TABLES `{database}`.t WRITE")
    try:
        assert (
            binlake.run_process("start-replication-task", "--replication-task-arn", "killed", "--detach").exit_code == 0
        )
        wait_for(lambda: task_shape(binlake, "killed")["Status"] == "running")
        pid = task_pid(binlake, "killed")
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not process_alive(pid))
    finally:
        admin.cursor().execute("UNLOCK TABLES")

    task = task_shape(binlake, "killed")
    assert task["Status"] == "failed"
    assert task["LastFailureMessage"] == f"task process {pid} ended without stopping the task"

    assert run_task(binlake, "killed", "resume-processing").exit_code == 0
    files = sorted(p.name for p in (bucket / "hub" / database / "t").iterdir())
    assert files == ["LOAD00000001.parquet"]
    assert task_shape(binlake, "killed")["Status"] == "stopped"


def task_pid(binlake: Binlake, name: str) -> int:
    import sqlite3

    with sqlite3.connect(binlake.state_dir / "state.db") as db:
        return int(db.execute("SELECT pid FROM tasks WHERE identifier = ?", (name,)).fetchone()[0])


def test_progress_on_a_terminal_and_quiet_otherwise(binlake: Binlake, endpoints, admin, database: str) -> None:
    admin.cursor().execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    admin.cursor().execute(f"INSERT INTO `{database}`.t SELECT seq FROM `{database}`.seq_1_to_3000")
    create_task(binlake, "progress", mappings(database))
    base = [sys.executable, "-m", "binlake", "--state-dir", str(binlake.state_dir), "start-replication-task",
            "--replication-task-arn", "progress"]  # fmt: skip

    on_terminal = run_on_terminal(base)
    assert f"{database}.t" in on_terminal
    assert "rows/s" in on_terminal
    assert "3,000 / 3,000 rows" in on_terminal

    quiet_terminal = run_on_terminal([*base, "--quiet"])
    assert "rows/s" not in quiet_terminal
    assert quiet_terminal.strip() == ""

    piped = binlake.run_process("start-replication-task", "--replication-task-arn", "progress")
    assert piped.exit_code == 0
    assert "rows/s" not in piped.stdout
    assert "Table completed" in piped.stdout  # the summary still prints
