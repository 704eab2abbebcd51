"""Starting a task in the background: ``start-replication-task --detach`` and the API's StartReplicationTask.

The task runs in a new session (``python -m binlake start-replication-task``), so it outlives the command or
server that started it; its stdout and stderr go to ``<state>/tasks/<task>/process.out``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from binlake.dms import StartType
from binlake.engine.task import task_dir
from binlake.errors import BinlakeError
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

CLAIM_WAIT_SECONDS = 30


def start_detached(
    state_dir: Path, store: StateStore, identifier: str, start_type: StartType, flags: list[str]
) -> tuple[tasks_api.ReplicationTask, int, Path]:
    """Start ``identifier`` in a background process; return the task once that process claimed it, its pid and
    where its output goes. ``flags`` are extra start-replication-task flags (``--cdc-start-position X``)."""
    task = tasks_api.refresh(store, tasks_api.get(store, identifier))
    if task.status in tasks_api.ACTIVE_STATUSES:
        raise BinlakeError(
            f"replication task {identifier} is already {task.status} (process {task.pid})",
            fix=f"stop-replication-task --replication-task-arn {identifier} first",
        )
    log_path = task_dir(store, identifier) / "process.out"
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "binlake",
                "--state-dir",
                str(state_dir),
                "start-replication-task",
                "--replication-task-arn",
                identifier,
                "--start-replication-task-type",
                start_type.value,
                "--quiet",
                *flags,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env={**os.environ, "BINLAKE_DETACHED": "1"},
        )
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    while time.monotonic() < deadline:
        task = tasks_api.get(store, identifier)
        if task.pid == child.pid or child.poll() is not None:
            break
        time.sleep(0.1)
    if child.poll() not in (None, 0):
        task = tasks_api.get(store, identifier)
        raise BinlakeError(
            f"replication task {identifier} failed to start: {task.last_failure_message or 'see ' + str(log_path)}"
        )
    return task, child.pid, log_path
