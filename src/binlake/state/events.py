"""A task's events (state changes, failures, DDL, recoveries): the only code that reads or writes ``events``."""

from __future__ import annotations

from dataclasses import dataclass

from binlake.state.store import StateStore


@dataclass(frozen=True)
class Event:
    task: str
    event_time: str  # ISO 8601, UTC, milliseconds
    category: str
    message: str


def add(store: StateStore, task: str, category: str, message: str) -> None:
    store.add_event(task, category, message)


def list_events(
    store: StateStore,
    since: str,
    until: str | None = None,
    task: str | None = None,
    categories: list[str] | None = None,
) -> list[Event]:
    """Events at or after ``since`` (and at or before ``until``), of one task or all, in the order recorded."""
    sql = "SELECT task, event_time, category, message FROM events WHERE event_time >= ?"
    params: list[str] = [since]
    if until is not None:
        sql += " AND event_time <= ?"
        params.append(until)
    if task is not None:
        sql += " AND task = ?"
        params.append(task)
    if categories:
        sql += f" AND category IN ({', '.join('?' * len(categories))})"
        params.extend(categories)
    rows = store.query(sql + " ORDER BY event_time, id", tuple(params))
    return [Event(row["task"], row["event_time"], row["category"], row["message"]) for row in rows]
