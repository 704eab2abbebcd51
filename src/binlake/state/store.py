"""The state store: SQLite in WAL mode under the state directory, shared by a running task and the CLI.

Each process opens its own connection; writers serialise on SQLite's lock (busy_timeout), readers never
block. Passwords never reach it: endpoints keep only where the password lives.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from binlake.errors import BinlakeError

STATE_FILE = "state.db"
MARKER_FILE = "BINLAKE_STATE"

SCHEMA = """
CREATE TABLE IF NOT EXISTS endpoints (
    identifier TEXT PRIMARY KEY,
    endpoint_type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    identifier TEXT PRIMARY KEY,
    source_endpoint TEXT NOT NULL,
    target_endpoint TEXT NOT NULL,
    migration_type TEXT NOT NULL,
    table_mappings TEXT NOT NULL,
    settings TEXT NOT NULL,
    status TEXT NOT NULL,
    stop_reason TEXT,
    last_failure_message TEXT,
    desired_state TEXT,
    pid INTEGER,
    created_at TEXT NOT NULL,
    started_at TEXT,
    stopped_at TEXT,
    full_load_started_at TEXT,
    full_load_finished_at TEXT,
    cdc_checkpoint TEXT,
    cdc_checkpoint_gtid TEXT,
    cdc_checkpoint_commit_time TEXT,
    cdc_read_position TEXT,
    cdc_source_time TEXT,
    cdc_changes_total INTEGER NOT NULL DEFAULT 0,
    last_cdc_file TEXT,
    cdc_open_transactions TEXT
);
CREATE TABLE IF NOT EXISTS cdc_intents (
    task TEXT NOT NULL,
    batch INTEGER NOT NULL,
    start_position TEXT,
    end_position TEXT NOT NULL,
    files TEXT NOT NULL,
    PRIMARY KEY (task, batch)
);
CREATE TABLE IF NOT EXISTS table_statistics (
    task TEXT NOT NULL,
    schema_name TEXT NOT NULL,
    table_name TEXT NOT NULL,
    target_schema TEXT NOT NULL,
    target_table TEXT NOT NULL,
    inserts INTEGER NOT NULL DEFAULT 0,
    deletes INTEGER NOT NULL DEFAULT 0,
    updates INTEGER NOT NULL DEFAULT 0,
    ddls INTEGER NOT NULL DEFAULT 0,
    full_load_rows INTEGER NOT NULL DEFAULT 0,
    full_load_condtnl_chk_failed_rows INTEGER NOT NULL DEFAULT 0,
    full_load_error_rows INTEGER NOT NULL DEFAULT 0,
    full_load_start_time TEXT,
    full_load_end_time TEXT,
    last_update_time TEXT,
    table_state TEXT NOT NULL,
    estimated_rows INTEGER NOT NULL DEFAULT 0,
    load_files INTEGER NOT NULL DEFAULT 0,
    zero_dates INTEGER NOT NULL DEFAULT 0,
    cdc_zero_dates INTEGER NOT NULL DEFAULT 0,
    snapshot_position TEXT,
    primary_key TEXT,
    PRIMARY KEY (task, schema_name, table_name)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task TEXT NOT NULL,
    event_time TEXT NOT NULL,
    category TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_task ON events (task, event_time);
CREATE TABLE IF NOT EXISTS metrics (
    task TEXT NOT NULL,
    time REAL NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_by_task ON metrics (task, time);
"""


# Columns added after a state directory may have been created; added in place on open.
ADDED_COLUMNS = (
    ("tasks", "cdc_checkpoint", "TEXT"),
    ("tasks", "cdc_checkpoint_gtid", "TEXT"),
    ("tasks", "cdc_checkpoint_commit_time", "TEXT"),
    ("tasks", "cdc_read_position", "TEXT"),
    ("tasks", "cdc_source_time", "TEXT"),
    ("tasks", "cdc_changes_total", "INTEGER NOT NULL DEFAULT 0"),
    ("tasks", "last_cdc_file", "TEXT"),
    ("tasks", "cdc_open_transactions", "TEXT"),
    ("table_statistics", "primary_key", "TEXT"),
    ("table_statistics", "cdc_zero_dates", "INTEGER NOT NULL DEFAULT 0"),
)


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class StateStore:
    """One process's handle on the state directory; safe to share between its threads."""

    def __init__(self, state_dir: Path, *, create: bool = True) -> None:
        self.state_dir = Path(state_dir)
        marker = self.state_dir / MARKER_FILE
        if self.state_dir.exists() and any(self.state_dir.iterdir()) and not marker.exists():
            raise BinlakeError(
                f"{self.state_dir} is not a binlake state directory",
                fix="pass --state-dir with an empty or binlake directory",
            )
        if not self.state_dir.exists() and not create:
            raise BinlakeError(f"state directory {self.state_dir} does not exist", fix="check --state-dir")
        self._lock = threading.RLock()
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            marker.touch()
            self._db = sqlite3.connect(
                self.state_dir / STATE_FILE, timeout=30, check_same_thread=False, isolation_level=None
            )
        except (OSError, sqlite3.OperationalError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise BinlakeError(
                f"cannot create the state directory {self.state_dir} ({reason})",
                fix="pass --state-dir (or set BINLAKE_STATE_DIR) to a directory you can write, e.g. ./.binlake",
            ) from None
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit (a checkpoint, an intent) is on disk when it returns, so a power loss cannot undo
        # it after the files it describes were published (invariant 2); NORMAL may lose the last commits.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        for table, column, kind in ADDED_COLUMNS:
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    # -- events ---------------------------------------------------------------
    def add_event(self, task: str, category: str, message: str) -> None:
        self.execute(
            "INSERT INTO events (task, event_time, category, message) VALUES (?, ?, ?, ?)",
            (task, utcnow(), category, message),
        )
