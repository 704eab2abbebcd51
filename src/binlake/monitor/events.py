"""describe-events: the events the engine records (state changes, failures, DDL, recoveries) in DMS's shape."""

from __future__ import annotations

import time
from typing import Any

from binlake.errors import BinlakeError
from binlake.monitor.periods import iso
from binlake.state import events as events_api
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

SOURCE_TYPE = "replication-task"
# DMS's categories for a replication task, and binlake's own ('ddl', 'warning', 'recovery').
CATEGORIES = ("creation", "state change", "failure", "deletion", "configuration change", "ddl", "warning", "recovery")


def describe_events(
    store: StateStore,
    source_identifier: str | None = None,
    source_type: str = SOURCE_TYPE,
    start_time: float | None = None,
    end_time: float | None = None,
    duration_minutes: float | None = None,
    categories: list[str] | None = None,
    max_records: int | None = None,
) -> list[dict[str, Any]]:
    """Events in time order, DMS's ``Events`` shape. Without a start time, the last ``duration_minutes``
    (default 60) before ``end_time`` (default now)."""
    if source_type != SOURCE_TYPE:
        raise BinlakeError(
            f"--source-type {source_type} has no events in binlake",
            fix=f"use --source-type {SOURCE_TYPE} (binlake records events of replication tasks)",
        )
    if source_identifier is not None:
        tasks_api.get(store, source_identifier)  # an unknown task is an error, not an empty list
    for category in categories or []:
        if category not in CATEGORIES:
            raise BinlakeError(f"--event-categories {category!r} is not a category", fix=", ".join(CATEGORIES))
    end = time.time() if end_time is None else end_time
    if start_time is None:
        start_time = end - 60 * (60 if duration_minutes is None else duration_minutes)
    rows = events_api.list_events(store, iso(start_time), iso(end), source_identifier, categories)
    if max_records:
        rows = rows[-max_records:]
    return [
        {
            "SourceIdentifier": row.task,
            "SourceType": SOURCE_TYPE,
            "Message": row.message,
            "EventCategories": [row.category],
            "Date": row.event_time,
            "SourceArn": row.task,
        }
        for row in rows
    ]
