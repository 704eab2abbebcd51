"""Helpers shared by test modules (a test module never imports another: tests/test_architecture.py): CDC task
set-up and waits, one-line error checks, metric samples, a terminal, decoded binlog rows."""

from __future__ import annotations

import os
import pty
import queue
import select
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from binlake.capture.binlog.reader import RowChanges
from binlake.capture.binlog.rows import build_arrays
from binlake.position import BinlogPosition
from tests.conftest import Binlake, Result, mappings
from tests.lake import (
    task_row,
    wait_for,
)


def create_cdc_task(binlake: Binlake, name: str, schema: str, migration: str = "full-load-and-cdc",
                    target: str = "lake-cdc", table: str = "%") -> None:  # fmt: skip
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", name, "--source-endpoint-arn", "src",
        "--target-endpoint-arn", target, "--migration-type", migration, "--table-mappings", mappings(schema, table),
    )  # fmt: skip


def start_detached(
    binlake: Binlake, name: str, start_type: str = "start-replication", *extra: str, env: dict[str, str] | None = None
) -> int:
    result = binlake.run_process(
        "start-replication-task", "--replication-task-arn", name, "--start-replication-task-type", start_type,
        "--detach", *extra, env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return int(task_row(binlake.state_dir, name)["pid"])


def wait_streaming(binlake: Binlake, name: str) -> None:
    wait_for(lambda: task_row(binlake.state_dir, name).get("cdc_read_position"), what="CDC running")


def master_position(admin) -> BinlogPosition:
    cur = admin.cursor()
    cur.execute("SHOW MASTER STATUS")
    file, pos = cur.fetchone()[:2]
    return BinlogPosition(file, int(pos))


def wait_caught_up(binlake: Binlake, name: str, admin, timeout: float = 60) -> None:
    target = master_position(admin)

    def done() -> bool:
        row = task_row(binlake.state_dir, name)
        assert row["status"] not in ("failed",), row["last_failure_message"]
        checkpoint = row.get("cdc_checkpoint")
        return bool(checkpoint) and BinlogPosition.parse(checkpoint) >= target

    wait_for(done, timeout, what=f"checkpoint at {target}")


def stop(binlake: Binlake, name: str) -> None:
    result = binlake.run_process("stop-replication-task", "--replication-task-arn", name)
    assert result.exit_code == 0, result.stderr
    assert task_row(binlake.state_dir, name)["status"] == "stopped"


def execute(admin, *statements: str) -> None:
    cur = admin.cursor()
    for statement in statements:
        cur.execute(statement)


def assert_one_line_error(result: Result, *fragments: str, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


SAMPLE_ENV = {"BINLAKE_METRICS_INTERVAL": "0.3"}


def samples(state_dir: Path, task: str) -> dict[str, list[tuple[float, float]]]:
    """Every stored sample of ``task``: metric name -> [(time, value)] in time order."""
    with sqlite3.connect(state_dir / "state.db") as db:
        rows = db.execute("SELECT name, time, value FROM metrics WHERE task = ? ORDER BY time", (task,)).fetchall()
    found: dict[str, list[tuple[float, float]]] = {}
    for name, at, value in rows:
        found.setdefault(name, []).append((at, value))
    return found


def read_lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def next_line(lines: queue.Queue[str], predicate, what: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if predicate(line):
            return line
    raise AssertionError(f"{what} not printed within {timeout:.0f}s")


def run_on_terminal(args: list[str], timeout: float = 60) -> str:
    """Run a command with a pseudo-terminal as stdout and return everything it printed."""
    main, child = pty.openpty()
    proc = subprocess.Popen(args, stdin=child, stdout=child, stderr=child, env={**os.environ, "COLUMNS": "160"})
    os.close(child)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(main)
    return b"".join(chunks).decode(errors="replace")


def decoded_rows(items: list[Any], table: str) -> list[dict[str, Any]]:
    """Row images of ``table`` as Arrow would store them: names → Python values of the column's Arrow type."""
    rows = []
    for item in items:
        if isinstance(item, RowChanges) and item.decoder.table_map.table == table:
            specs = item.decoder.specs
            arrays = build_arrays(specs, list(zip(*item.rows, strict=True)))
            columns = {spec.name: array.to_pylist() for spec, array in zip(specs, arrays, strict=True)}
            rows += [{name: values[i] for name, values in columns.items()} for i in range(len(item.rows))]
    return rows


def db_name(database: str) -> str:
    return database.split("_")[0] + "_db"


def mysql_rows(admin, sql: str) -> list[tuple]:
    cur = admin.cursor()
    cur.execute(sql)
    return [tuple(row) for row in cur.fetchall()]
