"""The state repositories (state/) against the SQLite file itself, read with the sqlite3 module as another
process (the CLI, the dashboard) would: what one writes is what the table holds, positions come back parsed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from binlake.dms import TableState, TaskStatus
from binlake.position import BinlogPosition
from binlake.state import checkpoints, statistics
from binlake.state import events as events_api
from binlake.state import metrics as samples
from binlake.state import tasks as tasks_api
from binlake.state.store import STATE_FILE, StateStore, utcnow

TASK = "t1"


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    state = StateStore(tmp_path / "state")
    tasks_api.create(
        state,
        tasks_api.ReplicationTask(
            TASK, "src", "lake", "full-load-and-cdc", "{}", "{}", TaskStatus.READY.value,
            None, None, None, None, utcnow(), None, None, None, None,
        ),
    )  # fmt: skip
    statistics.reset_for_load(state, TASK, "shop", "orders", "shop", "orders", ["id"], TableState.BEFORE_LOAD, 10)
    statistics.reset_for_load(state, TASK, "shop", "gone", "shop", "gone", [], TableState.BEFORE_LOAD, 0)
    return state


def raw(store: StateStore, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(store.state_dir / STATE_FILE) as db:
        return db.execute(sql, params).fetchall()


def test_table_statistics_round_trip(store: StateStore) -> None:
    statistics.full_load_started(store, TASK, "shop", "orders")
    statistics.set_snapshot_position(store, TASK, "shop", "orders", BinlogPosition("mysql-bin.000012", 345))
    statistics.set_full_load_rows(store, TASK, "shop", "orders", 7)
    statistics.full_load_finished(store, TASK, "shop", "orders", 9, 2, 1)
    statistics.set_state(store, TASK, "shop", "gone", TableState.TABLE_CANCELLED)
    assert raw(
        store,
        "SELECT table_state, full_load_rows, load_files, zero_dates, snapshot_position, primary_key "
        "FROM table_statistics WHERE task = ? AND table_name = 'orders'",
        TASK,
    ) == [("Table completed", 9, 2, 1, "mysql-bin.000012:345", '["id"]')]
    orders = statistics.get(store, TASK, "shop", "orders")
    assert orders is not None
    assert orders.snapshot_position == BinlogPosition("mysql-bin.000012", 345)
    assert orders.primary_key == ("id",) and orders.label == "shop.orders"
    assert [s.table_name for s in statistics.for_task(store, TASK)] == ["gone", "orders"]
    assert statistics.live_tables(store, TASK) == [("shop", "orders")]
    assert statistics.live_tables(store, TASK, "other") == []
    assert statistics.get(store, TASK, "shop", "missing") is None


def test_register_completed_keeps_an_existing_row(store: StateStore) -> None:
    statistics.set_full_load_rows(store, TASK, "shop", "orders", 5)
    statistics.register_completed(store, TASK, "shop", "orders", "x", "y", ["k"])
    statistics.register_completed(store, TASK, "shop", "new", "shop", "new", ["k"])
    assert raw(store, "SELECT table_name, target_table, full_load_rows, table_state FROM table_statistics "
               "WHERE task = ? ORDER BY table_name", TASK) == [
        ("gone", "gone", 0, "Before load"),
        ("new", "new", 0, "Table completed"),
        ("orders", "orders", 5, "Before load"),
    ]  # fmt: skip


def test_intent_then_checkpoint_commit(store: StateStore) -> None:
    start, end = BinlogPosition("mysql-bin.000001", 4), BinlogPosition("mysql-bin.000001", 900)
    checkpoints.record_intent(store, TASK, 1, start, end, ["a.parquet"])
    checkpoints.extend_intent(store, TASK, 1, BinlogPosition("mysql-bin.000002", 120), ["a.parquet", "b.parquet"])
    checkpoints.record_intent(store, TASK, 2, None, end, ["c.parquet"])
    [first, second] = checkpoints.unfinished_intents(store, TASK)
    assert (first.batch, first.start_position, first.end_position, first.files) == (
        1, start, BinlogPosition("mysql-bin.000002", 120), ["a.parquet", "b.parquet"],
    )  # fmt: skip
    assert second.start_position is None
    checkpoint = checkpoints.Checkpoint(
        BinlogPosition("mysql-bin.000002", 120), "0-1-7", "2026-01-16T12:00:00.000+00:00", 5, "b.parquet",
        {"xa1": BinlogPosition("mysql-bin.000001", 500)},
    )  # fmt: skip
    checkpoints.commit(store, TASK, checkpoint, {("shop", "orders"): (3, 1, 1)}, {("shop", "orders"): 2}, batch=1)
    assert [i.batch for i in checkpoints.unfinished_intents(store, TASK)] == [2]
    assert raw(store, "SELECT cdc_checkpoint, cdc_checkpoint_gtid, cdc_changes_total, last_cdc_file, "
               "cdc_open_transactions FROM tasks WHERE identifier = ?", TASK) == [
        ("mysql-bin.000002:120", "0-1-7", 5, "b.parquet", '{"xa1": "mysql-bin.000001:500"}')
    ]  # fmt: skip
    assert raw(store, "SELECT inserts, updates, deletes, ddls FROM table_statistics WHERE table_name = 'orders'") == [
        (3, 1, 1, 2)
    ]
    # A later checkpoint without GTID, commit time or file keeps those; no open transaction is stored as NULL.
    checkpoints.commit(store, TASK, checkpoints.Checkpoint(BinlogPosition("mysql-bin.000002", 300), None, None))
    task = tasks_api.get(store, TASK)
    assert task.checkpoint_position == BinlogPosition("mysql-bin.000002", 300)
    assert (task.cdc_checkpoint_gtid, task.last_cdc_file, task.cdc_open_transactions) == ("0-1-7", "b.parquet", None)
    statistics.set_snapshot_position(store, TASK, "shop", "orders", BinlogPosition("mysql-bin.000001", 44))
    resume = checkpoints.resume_state(store, TASK)
    assert resume.last_file == "b.parquet" and resume.open_transactions == {}
    assert resume.snapshots == {("shop", "orders"): BinlogPosition("mysql-bin.000001", 44)}


def test_commit_is_all_or_nothing(store: StateStore) -> None:
    checkpoints.record_intent(store, TASK, 1, None, BinlogPosition("f.000001", 4), ["a"])
    with pytest.raises(sqlite3.ProgrammingError):  # a counter that cannot be stored fails the whole transaction
        checkpoints.commit(
            store, TASK, checkpoints.Checkpoint(BinlogPosition("f.000001", 99), None, None),
            {("shop", "orders"): (object(), 0, 0)}, batch=1,  # type: ignore[dict-item]
        )  # fmt: skip
    assert raw(store, "SELECT cdc_checkpoint FROM tasks") == [(None,)]
    assert [i.batch for i in checkpoints.unfinished_intents(store, TASK)] == [1]


def test_claim_once_and_stop_requests(store: StateStore) -> None:
    assert tasks_api.claim(store, TASK, 4242)
    assert not tasks_api.claim(store, TASK, 4343)  # starting is active: a second start loses
    assert raw(store, "SELECT status, pid FROM tasks") == [("starting", 4242)]
    assert tasks_api.get(store, TASK).active
    assert not tasks_api.stop_requested(store, TASK)
    tasks_api.update(store, TASK, desired_state="stopped")
    assert tasks_api.stop_requested(store, TASK)
    assert tasks_api.stop_requested(store, "no-such-task")
    assert set(tasks_api.ACTIVE_STATUSES) == {"starting", "running", "stopping"}


def test_events_and_metric_samples(store: StateStore) -> None:
    events_api.add(store, TASK, "failure", "boom")
    found = events_api.list_events(store, "2000-01-01", task=TASK, categories=["failure"])
    assert [(e.category, e.message) for e in found] == [("failure", "boom")]
    assert events_api.list_events(store, "2000-01-01", task="other") == []
    samples.record(store, TASK, 100.0, {"CPUUtilization": 5})
    samples.record(store, TASK, 200.0, {"CPUUtilization": 7, "MemoryUsage": 1})
    samples.record(store, TASK, 300.0, {"CPUUtilization": 9})
    assert samples.latest(store, TASK) == (300.0, {"CPUUtilization": 9.0})
    assert samples.since(store, TASK, 150.0)[:2] == [(200.0, "CPUUtilization", 7.0), (200.0, "MemoryUsage", 1.0)]
    # Older than 150 s goes (1 row); of the rest only the newest row is kept (the two rows of t=200 go).
    assert samples.prune(store, TASK, older_than=150.0, keep=1) == 3
    assert raw(store, "SELECT time, name, value FROM metrics") == [(300.0, "CPUUtilization", 9.0)]


def test_a_start_clears_the_previous_runs_read_position(store: StateStore) -> None:
    """A restarted task (a reload's full load first) has not read the binlog yet: tests and the progress display
    wait for this run's read position, not the one the last run left."""
    tasks_api.update(store, TASK, cdc_read_position="mysql-bin.000003:4", status=TaskStatus.STOPPED.value)
    assert tasks_api.claim(store, TASK, 4242)
    assert raw(store, "SELECT status, pid, cdc_read_position FROM tasks WHERE identifier = ?", TASK) == [
        (TaskStatus.STARTING.value, 4242, None)
    ]
    assert not tasks_api.claim(store, TASK, 4343)  # a running task is not claimed again
