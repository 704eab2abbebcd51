"""The dashboard's JSON documents, in DMS's shapes, built from the state store (never an endpoint or a secret)."""

from __future__ import annotations

import time
from typing import Any

from binlake.monitor import events, metrics, report
from binlake.monitor.periods import epoch
from binlake.monitor.targets import Target
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

DEFAULT_WINDOW_SECONDS = 15 * 60
MAX_POINTS = 600
RECENT_EVENTS = 20


def tasks_document(store: StateStore) -> dict[str, Any]:
    """Every task with its status, its TableStatistics and its latest metric values."""
    shapes = []
    for task in tasks_api.list_all(store):
        task = tasks_api.refresh(store, task)
        stats = tasks_api.table_statistics(store, task.identifier)
        shape = tasks_api.describe(task, stats)
        shape.pop("TableMappings", None)
        shape.pop("ReplicationTaskSettings", None)
        shape["TableStatistics"] = [tasks_api.describe_table_statistics(r) for r in stats]
        sample = metrics.latest(store, task.identifier)
        if sample and sample[0] < (epoch(task.created_at) or 0.0):
            sample = None  # a sample of an earlier task of the same name
        shape["LatestMetrics"] = sample[1] if sample else {}
        shape["LatestMetricsTime"] = sample[0] if sample else None
        shapes.append(shape)
    return {"ReplicationTasks": shapes, "Time": time.time()}


def metrics_document(
    store: StateStore, task_id: str, targets: dict[str, Target], window_seconds: float = DEFAULT_WINDOW_SECONDS
) -> dict[str, Any]:
    document = report.report(store, task_id, time.time() - window_seconds, targets, MAX_POINTS)
    document["Events"] = events.describe_events(store, task_id, start_time=0.0)[-RECENT_EVENTS:]
    return document
