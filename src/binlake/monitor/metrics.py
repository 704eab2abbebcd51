"""Task metrics with DMS's names and meanings, stored as samples (task, time, name, value) in the state store.

Times are seconds since the epoch (float). Retention is bounded by age and by a cap per task; the sampler
prunes as it writes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from binlake.state import metrics as samples
from binlake.state.store import StateStore


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    description: str


METRICS: tuple[Metric, ...] = (
    Metric(
        "CDCLatencySource",
        "Seconds",
        "Seconds between the last change read from the source's binlog and now; 0 when caught up and idle.",
    ),
    Metric(
        "CDCLatencyTarget",
        "Seconds",
        "Seconds between the oldest change not yet written to the target and now; 0 when caught up and idle.",
    ),
    Metric(
        "CDCIncomingChanges",
        "Count",
        "Row changes read from the binlog and not yet written to the target (committed transactions held in memory).",
    ),
    Metric(
        "CDCChangesMemoryTarget",
        "Count",
        "Row changes in memory waiting to be written to the target (binlake does not spill to disk).",
    ),
    Metric("CDCThroughputRowsSource", "Count/Second", "Row changes read from the source's binlog per second."),
    Metric("CDCThroughputRowsTarget", "Count/Second", "Row changes written to the target (checkpointed) per second."),
    Metric("FullLoadThroughputRowsSource", "Count/Second", "Rows read from the source per second during full load."),
    Metric("FullLoadThroughputRowsTarget", "Count/Second", "Rows written to the target per second during full load."),
    Metric("CPUUtilization", "Percent", "CPU of the task process; 100 is one core fully used, more with threads."),
    Metric("MemoryUsageBytes", "Bytes", "Resident memory of the task process."),
)
BY_NAME = {m.name: m for m in METRICS}
NAMES = tuple(BY_NAME)

# DMS metrics binlake does not measure, with the reason (shown by `binlake metrics`).
NOT_MEASURED = {
    "CDCChangesMemorySource": "an open transaction is held by the binlog reader until its COMMIT and not counted",
    "CDCChangesDiskSource": "binlake never spills changes to disk",
    "CDCChangesDiskTarget": "binlake never spills changes to disk",
}

DEFAULT_RETENTION_HOURS = 24.0
MAX_SAMPLES_PER_TASK = 200_000  # rows (one per metric per sample): about 50 h at 5 s with ten metrics


def retention_seconds() -> float:
    """How long samples are kept: BINLAKE_METRICS_RETENTION_HOURS (default 24)."""
    return float(os.environ.get("BINLAKE_METRICS_RETENTION_HOURS") or DEFAULT_RETENTION_HOURS) * 3600


def record(store: StateStore, task: str, at: float, values: dict[str, float]) -> None:
    samples.record(store, task, at, values)


def prune(store: StateStore, task: str, now: float, keep_seconds: float, cap: int = MAX_SAMPLES_PER_TASK) -> int:
    """Delete samples older than ``keep_seconds`` (of every task) and the oldest beyond ``cap`` rows of ``task``."""
    return samples.prune(store, task, now - keep_seconds, cap)


@dataclass
class Series:
    """One metric's samples in time order."""

    name: str
    times: list[float]
    values: list[float]

    @property
    def latest(self) -> float | None:
        return self.values[-1] if self.values else None


def window(store: StateStore, task: str, since: float, names: tuple[str, ...] = NAMES) -> dict[str, Series]:
    """Every sample of ``task`` at or after ``since``, per metric name (empty series for metrics without one)."""
    series = {name: Series(name, [], []) for name in names}
    for at, name, value in samples.since(store, task, since):
        found = series.get(name)
        if found is not None:
            found.times.append(at)
            found.values.append(value)
    return series


def latest(store: StateStore, task: str) -> tuple[float, dict[str, float]] | None:
    """The newest sample of ``task``: its time and every metric's value then."""
    return samples.latest(store, task)


def downsample(series: Series, max_points: int) -> Series:
    """At most ``max_points`` points: averages of consecutive runs of samples (a chart needs no more)."""
    count = len(series.values)
    if count <= max_points or max_points <= 0:
        return series
    step = -(-count // max_points)
    times, values = [], []
    for start in range(0, count, step):
        chunk = series.values[start : start + step]
        times.append(series.times[min(start + len(chunk) - 1, count - 1)])
        values.append(sum(chunk) / len(chunk))
    return Series(series.name, times, values)
