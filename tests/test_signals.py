"""Ctrl-C and SIGTERM stop a running task exactly like stop-replication-task: stopped, STOPPED_BY_USER,
resumable; in a real terminal (a pseudo-terminal whose line discipline turns ^C into SIGINT) or without one."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from binlake.cli.progress import Rate
from tests.conftest import Binlake, mappings
from tests.helpers import create_cdc_task, execute, start_detached, stop, wait_caught_up, wait_streaming
from tests.lake import cdc_rows, statistics, table_dir, task_row, wait_for


def _stopped_by_user(binlake: Binlake, name: str) -> None:
    row = task_row(binlake.state_dir, name)
    assert (row["status"], row["stop_reason"], row["last_failure_message"]) == ("stopped", "STOPPED_BY_USER", None)


def _resumes(binlake: Binlake, name: str, admin, database: str, bucket: Path, value: int) -> None:
    execute(admin, f"INSERT INTO `{database}`.t VALUES ({value})")
    start_detached(binlake, name, "resume-processing")
    wait_caught_up(binlake, name, admin)
    stop(binlake, name)
    assert value in [r["id"] for r in cdc_rows(table_dir(bucket, database, "t"))]


def test_ctrl_c_in_a_terminal_stops_the_task_cleanly(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path
) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)", f"INSERT INTO `{database}`.t VALUES (1)")
    create_cdc_task(binlake, "term", database)
    argv = [sys.executable, "-m", "binlake", "--state-dir", str(binlake.state_dir), "start-replication-task",
            "--replication-task-arn", "term", "--start-replication-task-type", "start-replication"]  # fmt: skip
    pid, master = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pseudo-terminal
        os.environ.update(COLUMNS="160", BINLAKE_METRICS_INTERVAL="0.5")
        os.execv(sys.executable, argv)
    screen = bytearray()

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            screen.extend(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        wait_streaming(binlake, "term")
        wait_for(lambda: b"CDC at" in screen, what="the CDC status line")
        # An idle source has no lag: the last change is seconds old, but the task is caught up.
        time.sleep(4)
        lag = re.compile(rb"lag (\S+)s")
        wait_for(lambda: lag.findall(bytes(screen))[-1:] == [b"0"], what="lag 0s on an idle source")
        os.write(master, b"\x03")  # Ctrl-C, as typed
        _, status = os.waitpid(pid, 0)
    finally:
        if task_row(binlake.state_dir, "term")["status"] == "running":
            os.kill(pid, signal.SIGKILL)
    reader.join(5)
    os.close(master)
    text = screen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "Traceback" not in text and "KeyError" not in text, text
    _stopped_by_user(binlake, "term")
    _resumes(binlake, "term", admin, database, bucket, 2)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_without_a_terminal_stop_the_task_cleanly(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path, signum: signal.Signals
) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)", f"INSERT INTO `{database}`.t VALUES (1)")
    create_cdc_task(binlake, "piped", database)
    child = binlake.spawn(
        "start-replication-task", "--replication-task-arn", "piped", "--start-replication-task-type",
        "start-replication",
    )  # fmt: skip
    try:
        wait_streaming(binlake, "piped")
        time.sleep(0.3)
        child.send_signal(signum)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert "Traceback" not in err, err
    _stopped_by_user(binlake, "piped")
    events = binlake.ok("describe-events", "--source-identifier", "piped", "--output", "json").json()["Events"]
    assert f"Stop requested ({signum.name})" in [e["Message"] for e in events]
    _resumes(binlake, "piped", admin, database, bucket, 2)


def test_sigterm_stops_a_detached_task_like_stop_replication_task(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path
) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)", f"INSERT INTO `{database}`.t VALUES (1)")
    create_cdc_task(binlake, "daemon", database)
    pid = start_detached(binlake, "daemon")
    wait_streaming(binlake, "daemon")
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: task_row(binlake.state_dir, "daemon")["status"] != "running", what="task ended")
    wait_for(lambda: task_row(binlake.state_dir, "daemon")["pid"] is None, what="task ended")
    _stopped_by_user(binlake, "daemon")
    _resumes(binlake, "daemon", admin, database, bucket, 2)


def test_full_load_rate_is_the_current_speed() -> None:
    rate = Rate()
    for second in range(11):  # 1000 rows/s for 10 s, then 100 rows/s
        rate.add(float(second), 1000 * second)
    for second in range(11, 21):
        speed = rate.add(float(second), 10_000 + 100 * (second - 10))
    assert speed == pytest.approx(100)


def test_sigterm_during_the_full_load_stops_at_a_batch_boundary(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path
) -> None:
    execute(
        admin,
        f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)",
        f"INSERT INTO `{database}`.t SELECT seq FROM `{database}`.seq_1_to_5000",
    )
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "loading", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "lake", "--migration-type", "full-load", "--table-mappings", mappings(database),
        "--replication-task-settings", json.dumps({"FullLoadSettings": {"CommitRate": 100}}),
    )  # fmt: skip
    execute(admin, f"LOCK TABLES `{database}`.t WRITE")  # holds the load inside its first read
    try:
        child = binlake.spawn("start-replication-task", "--replication-task-arn", "loading")
        wait_for(lambda: statistics(binlake.state_dir, "loading").get("t", {}).get("table_state") == "Full load",
                 what="full load started")  # fmt: skip
        child.send_signal(signal.SIGTERM)
    finally:
        execute(admin, "UNLOCK TABLES")
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0 and "Traceback" not in err, err
    _stopped_by_user(binlake, "loading")
    assert statistics(binlake.state_dir, "loading")["t"]["table_state"] == "Table cancelled"
    binlake.ok("start-replication-task", "--replication-task-arn", "loading", "--start-replication-task-type",
               "resume-processing", "--quiet")  # fmt: skip
    assert statistics(binlake.state_dir, "loading")["t"]["full_load_rows"] == 5000
