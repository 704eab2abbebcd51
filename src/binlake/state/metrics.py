"""Metric samples (one row per task, time and metric name): the only code that reads or writes ``metrics``."""

from __future__ import annotations

from binlake.state.store import StateStore


def record(store: StateStore, task: str, at: float, values: dict[str, float]) -> None:
    rows = [(task, at, name, float(value)) for name, value in values.items()]
    with store.transaction() as db:
        db.executemany("INSERT INTO metrics (task, time, name, value) VALUES (?, ?, ?, ?)", rows)


def prune(store: StateStore, task: str, older_than: float, keep: int) -> int:
    """Delete samples older than ``older_than`` (of every task) and the oldest beyond ``keep`` rows of ``task``."""
    deleted = store.execute("DELETE FROM metrics WHERE time < ?", (older_than,))
    rows = store.query("SELECT time FROM metrics WHERE task = ? ORDER BY time DESC LIMIT 1 OFFSET ?", (task, keep))
    if rows:
        deleted += store.execute("DELETE FROM metrics WHERE task = ? AND time <= ?", (task, rows[0]["time"]))
    return deleted


def since(store: StateStore, task: str, start: float) -> list[tuple[float, str, float]]:
    """(time, name, value) of every sample of ``task`` at or after ``start``, in time order."""
    rows = store.query(
        "SELECT time, name, value FROM metrics WHERE task = ? AND time >= ? ORDER BY time", (task, start)
    )
    return [(row["time"], row["name"], row["value"]) for row in rows]


def latest(store: StateStore, task: str) -> tuple[float, dict[str, float]] | None:
    """The newest sample of ``task``: its time and every metric's value then."""
    rows = store.query("SELECT MAX(time) AS at FROM metrics WHERE task = ?", (task,))
    at = rows[0]["at"] if rows else None
    if at is None:
        return None
    values = store.query("SELECT name, value FROM metrics WHERE task = ? AND time = ?", (task, at))
    return at, {r["name"]: r["value"] for r in values}


def recorded(store: StateStore) -> list[tuple[str, str]]:
    """(task, metric name) of every series with at least one sample, sorted."""
    rows = store.query("SELECT DISTINCT task, name FROM metrics ORDER BY task, name")
    return [(row["task"], row["name"]) for row in rows]
