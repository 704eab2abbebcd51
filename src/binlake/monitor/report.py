"""A task's metrics over a window, checked against the targets: what ``binlake metrics`` and the dashboard show.

How each target is judged:
- CDC latencies: the latest sample, while the task runs CDC (a stopped task has no lag to speak of);
- full-load throughput: the rows of the task's last full load over its duration, once it moved at least
  ``MIN_ROWS_TO_JUDGE`` rows (a few hundred rows measure connection setup, not throughput);
- CPUUtilization and any other metric: the average over the window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from binlake.monitor import metrics
from binlake.monitor.periods import epoch, iso
from binlake.monitor.targets import Target, hint
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

MIN_ROWS_TO_JUDGE = 1000
LATENCIES = ("CDCLatencySource", "CDCLatencyTarget")
FULL_LOAD = ("FullLoadThroughputRowsSource", "FullLoadThroughputRowsTarget")


@dataclass
class Check:
    metric: str
    target: Target
    observed: float | None
    basis: str
    met: bool | None  # None: not judged (``basis`` says why)

    def as_json(self, task: str) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "MetricName": self.metric,
            "Target": self.target.text,
            "Observed": self.observed,
            "Basis": self.basis,
            "TargetMet": self.met,
        }
        if self.met is False:
            shape["Hint"] = hint(self.metric, task)
        return shape


def _full_load_rate(store: StateStore, task: tasks_api.ReplicationTask) -> tuple[float | None, str]:
    start = epoch(task.full_load_started_at)
    if start is None:
        return None, "no full load"
    end = epoch(task.full_load_finished_at) or (time.time() if task.active else None)
    rows = sum(r.full_load_rows for r in tasks_api.table_statistics(store, task.identifier))
    if end is None or rows < MIN_ROWS_TO_JUDGE:
        return None, f"last full load moved {rows:,} rows, fewer than {MIN_ROWS_TO_JUDGE:,}"
    seconds = max(end - start, 1e-3)
    return rows / seconds, f"last full load: {rows:,} rows in {seconds:.2f} s"


def check(
    store: StateStore, task: tasks_api.ReplicationTask, series: dict[str, metrics.Series], target: Target
) -> Check:
    name = target.metric
    values = series[name].values if name in series else []
    observed: float | None
    if name in LATENCIES:
        if not task.active or not task.cdc_checkpoint:
            return Check(name, target, None, "task is not running CDC", None)
        if not values:
            return Check(name, target, None, "no sample yet", None)
        observed, basis = values[-1], "latest sample"
    elif name in FULL_LOAD:
        observed, basis = _full_load_rate(store, task)
        if observed is None:
            return Check(name, target, None, basis, None)
    else:
        if not values:
            return Check(name, target, None, "no sample in the window", None)
        observed, basis = sum(values) / len(values), f"average of {len(values)} samples"
    assert observed is not None
    return Check(name, target, observed, basis, target.met(observed))


def checks(
    store: StateStore, task: tasks_api.ReplicationTask, series: dict[str, metrics.Series], targets: dict[str, Target]
) -> list[Check]:
    return [check(store, task, series, target) for target in targets.values()]


def report(
    store: StateStore, task_id: str, since: float, targets: dict[str, Target], max_points: int = 0
) -> dict[str, Any]:
    """The metrics document: summary per metric, target checks, and the time series (CloudWatch's shape)."""
    task = tasks_api.refresh(store, tasks_api.get(store, task_id))
    # Samples of an earlier task of the same name (deleted, then created again) are not this task's.
    since = max(since, epoch(task.created_at) or 0.0)
    series = metrics.window(store, task_id, since)
    summary = []
    for metric in metrics.METRICS:
        values = series[metric.name].values
        summary.append(
            {
                "MetricName": metric.name,
                "Unit": metric.unit,
                "Latest": values[-1] if values else None,
                "Minimum": min(values) if values else None,
                "Average": sum(values) / len(values) if values else None,
                "Maximum": max(values) if values else None,
            }
        )
    results = []
    for metric in metrics.METRICS:
        shown = metrics.downsample(series[metric.name], max_points)
        results.append(
            {
                "Id": metric.name.lower(),
                "Label": metric.name,
                "Timestamps": [iso(t) for t in shown.times],
                "Values": shown.values,
                "StatusCode": "Complete",
            }
        )
    return {
        "ReplicationTaskIdentifier": task.identifier,
        "Status": task.status,
        "StartTime": iso(since),
        "EndTime": iso(time.time()),
        "Samples": len(series["CPUUtilization"].values),
        "Metrics": summary,
        "Targets": {name: t.as_json() for name, t in targets.items()},
        "Checks": [c.as_json(task.identifier) for c in checks(store, task, series, targets)],
        "NotMeasured": dict(metrics.NOT_MEASURED),
        "MetricDataResults": results,
    }
