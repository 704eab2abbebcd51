"""Reading a table back from the lake in tests: its files, and the merged current state (invariant 5)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from binlake.target.naming import CDC_FILE, LOAD_FILE


def table_dir(bucket: Path, schema: str, table: str, folder: str = "hub") -> Path:
    return bucket / folder / schema / table


def load_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if LOAD_FILE.match(p.name))


def cdc_files(directory: Path) -> list[Path]:
    return sorted((p for p in directory.rglob("*") if CDC_FILE.match(p.name)), key=lambda p: p.name)


def cdc_rows(directory: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in cdc_files(directory):
        rows.extend(pq.read_table(path).to_pylist())
    return rows


def merged(directory: Path, key: tuple[str, ...], drop: tuple[str, ...] = ("Op",)) -> dict[tuple, dict[str, Any]]:
    """LOAD rows, then every CDC change in file order and row order, applied by primary key; deletes drop."""
    state: dict[tuple, dict[str, Any]] = {}
    for path in load_files(directory):
        for row in pq.read_table(path).to_pylist():
            row = {k: v for k, v in row.items() if k not in drop}
            state[tuple(row[k] for k in key)] = row
    for row in cdc_rows(directory):
        op = row["Op"]
        row = {k: v for k, v in row.items() if k not in drop}
        if op == "D":
            state.pop(tuple(row[k] for k in key), None)
        else:
            state[tuple(row[k] for k in key)] = row
    return state


def source_state(admin, schema: str, table: str, key: tuple[str, ...]) -> dict[tuple, dict[str, Any]]:
    cur = admin.cursor()
    cur.execute(f"SELECT * FROM `{schema}`.`{table}`")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return {tuple(r[k] for k in key): r for r in rows}


def task_row(state_dir: Path, task: str) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(state_dir / "state.db")) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM tasks WHERE identifier = ?", (task,)).fetchone()
        return dict(row) if row else {}


def statistics(state_dir: Path, task: str) -> dict[str, dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(state_dir / "state.db")) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT * FROM table_statistics WHERE task = ?", (task,)).fetchall()
        return {r["table_name"]: dict(r) for r in rows}


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout:.0f}s")


def target_settings(bucket: Path, **extra: Any) -> str:
    return json.dumps({"BucketName": str(bucket), "BucketFolder": "hub", **extra})
