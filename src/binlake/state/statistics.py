"""Table statistics: one row per (task, source table), DMS's TableStatistics plus what a restart needs (the
table's snapshot position, its target key). The only code that reads or writes the ``table_statistics`` table."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from binlake.dms import TableState
from binlake.position import BinlogPosition
from binlake.state.store import StateStore, utcnow


@dataclass(frozen=True)
class TableStatistics:
    """One table of a task. Counters are DMS's (``Inserts``, ``FullLoadRows``, ...) in snake_case."""

    task: str
    schema_name: str
    table_name: str
    target_schema: str
    target_table: str
    table_state: str
    inserts: int = 0
    deletes: int = 0
    updates: int = 0
    ddls: int = 0
    full_load_rows: int = 0
    full_load_condtnl_chk_failed_rows: int = 0
    full_load_error_rows: int = 0
    full_load_start_time: str | None = None
    full_load_end_time: str | None = None
    last_update_time: str | None = None
    estimated_rows: int = 0
    load_files: int = 0
    zero_dates: int = 0  # zero or invalid dates the full load wrote as NULL
    cdc_zero_dates: int = 0  # ... and CDC since
    # The binlog position of the consistent snapshot its LOAD files hold (the CDC handoff point), if known.
    snapshot_position: BinlogPosition | None = None
    primary_key: tuple[str, ...] | None = None  # the target's key columns

    @property
    def label(self) -> str:
        return f"{self.schema_name}.{self.table_name}"

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> TableStatistics:
        values = {key: row[key] for key in row.keys()}  # noqa: SIM118 - sqlite3.Row iterates values
        position, key = values.pop("snapshot_position"), values.pop("primary_key")
        return cls(
            **values,
            snapshot_position=BinlogPosition.parse(position) if position else None,
            primary_key=tuple(json.loads(key)) if key else None,
        )


def for_task(store: StateStore, task: str) -> list[TableStatistics]:
    rows = store.query("SELECT * FROM table_statistics WHERE task = ? ORDER BY schema_name, table_name", (task,))
    return [TableStatistics.from_row(row) for row in rows]


def get(store: StateStore, task: str, schema: str, table: str) -> TableStatistics | None:
    rows = store.query(
        "SELECT * FROM table_statistics WHERE task = ? AND schema_name = ? AND table_name = ?", (task, schema, table)
    )
    return TableStatistics.from_row(rows[0]) if rows else None


def live_tables(store: StateStore, task: str, schema: str | None = None) -> list[tuple[str, str]]:
    """The task's (schema, table) pairs that are not cancelled, of one schema or of all, in name order."""
    sql = "SELECT schema_name, table_name FROM table_statistics WHERE task = ? AND table_state != ?"
    params: tuple[str, ...] = (task, TableState.TABLE_CANCELLED.value)
    if schema is not None:
        sql, params = sql + " AND schema_name = ?", (*params, schema)
    rows = store.query(sql + " ORDER BY schema_name, table_name", params)
    return [(row["schema_name"], row["table_name"]) for row in rows]


def register_completed(
    store: StateStore,
    task: str,
    schema: str,
    table: str,
    target_schema: str,
    target_table: str,
    target_key: list[str] | tuple[str, ...],
) -> None:
    """A table CDC alone brings in (a cdc-only task, or a table created mid-stream): complete from the start,
    as in DMS; an existing row is left as it is."""
    store.execute(
        "INSERT INTO table_statistics (task, schema_name, table_name, target_schema, target_table, "
        "table_state, last_update_time, primary_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (task, schema_name, table_name) DO NOTHING",
        (
            task,
            schema,
            table,
            target_schema,
            target_table,
            TableState.TABLE_COMPLETED.value,
            utcnow(),
            json.dumps(list(target_key)),
        ),
    )


def reset_for_load(
    store: StateStore,
    task: str,
    schema: str,
    table: str,
    target_schema: str,
    target_table: str,
    target_key: list[str] | tuple[str, ...],
    state: TableState,
    estimated_rows: int,
    keep_cdc_counters: bool = False,
) -> None:
    """A table about to be (re)loaded: its full-load figures start again; its CDC counters too, unless the load
    is a reload mid-stream (``keep_cdc_counters``)."""
    counters = "" if keep_cdc_counters else "inserts = 0, updates = 0, deletes = 0, ddls = 0, cdc_zero_dates = 0, "
    store.execute(
        "INSERT INTO table_statistics (task, schema_name, table_name, target_schema, target_table, "
        "table_state, estimated_rows, last_update_time, primary_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (task, schema_name, table_name) DO UPDATE SET target_schema = excluded.target_schema, "
        "primary_key = excluded.primary_key, "
        "target_table = excluded.target_table, table_state = excluded.table_state, "
        "estimated_rows = excluded.estimated_rows, full_load_rows = 0, full_load_error_rows = 0, "
        "full_load_start_time = NULL, full_load_end_time = NULL, load_files = 0, zero_dates = 0, "
        f"{counters}last_update_time = excluded.last_update_time",
        (
            task,
            schema,
            table,
            target_schema,
            target_table,
            state.value,
            estimated_rows,
            utcnow(),
            json.dumps(list(target_key)),
        ),
    )


def set_state(store: StateStore, task: str, schema: str, table: str, state: TableState) -> None:
    store.execute(
        "UPDATE table_statistics SET table_state = ?, last_update_time = ? "
        "WHERE task = ? AND schema_name = ? AND table_name = ?",
        (state.value, utcnow(), task, schema, table),
    )


def full_load_started(store: StateStore, task: str, schema: str, table: str) -> None:
    now = utcnow()
    store.execute(
        "UPDATE table_statistics SET table_state = ?, full_load_start_time = ?, last_update_time = ? "
        "WHERE task = ? AND schema_name = ? AND table_name = ?",
        (TableState.FULL_LOAD.value, now, now, task, schema, table),
    )


def set_snapshot_position(store: StateStore, task: str, schema: str, table: str, position: BinlogPosition) -> None:
    store.execute(
        "UPDATE table_statistics SET snapshot_position = ? WHERE task = ? AND schema_name = ? AND table_name = ?",
        (str(position), task, schema, table),
    )


def set_full_load_rows(store: StateStore, task: str, schema: str, table: str, rows: int) -> None:
    store.execute(
        "UPDATE table_statistics SET full_load_rows = ?, last_update_time = ? "
        "WHERE task = ? AND schema_name = ? AND table_name = ?",
        (rows, utcnow(), task, schema, table),
    )


def full_load_finished(
    store: StateStore, task: str, schema: str, table: str, rows: int, files: int, zero_dates: int
) -> None:
    now = utcnow()
    store.execute(
        "UPDATE table_statistics SET table_state = ?, full_load_rows = ?, full_load_end_time = ?, "
        "load_files = ?, zero_dates = ?, last_update_time = ? WHERE task = ? AND schema_name = ? "
        "AND table_name = ?",
        (TableState.TABLE_COMPLETED.value, rows, now, files, zero_dates, now, task, schema, table),
    )


def add_changes(
    db: sqlite3.Connection,
    task: str,
    changes: dict[tuple[str, str], tuple[int, int, int]],
    ddls: dict[tuple[str, str], int],
    zero_dates: dict[tuple[str, str], int] | None = None,
) -> None:
    """Add a CDC batch's (inserts, updates, deletes), DDL and zero-date counts per table, inside the checkpoint's
    own transaction (``db``), so the counters move exactly when the position does."""
    now = utcnow()
    for (schema, table), (inserts, updates, deletes) in changes.items():
        db.execute(
            "UPDATE table_statistics SET inserts = inserts + ?, updates = updates + ?, "
            "deletes = deletes + ?, last_update_time = ? WHERE task = ? AND schema_name = ? AND table_name = ?",
            (inserts, updates, deletes, now, task, schema, table),
        )
    for (schema, table), count in ddls.items():
        db.execute(
            "UPDATE table_statistics SET ddls = ddls + ?, last_update_time = ? WHERE task = ? AND "
            "schema_name = ? AND table_name = ?",
            (count, now, task, schema, table),
        )
    for (schema, table), count in (zero_dates or {}).items():
        db.execute(
            "UPDATE table_statistics SET cdc_zero_dates = cdc_zero_dates + ? WHERE task = ? AND schema_name = ? "
            "AND table_name = ?",
            (count, task, schema, table),
        )
