"""The live full-load display: per-table rows done of the estimate and rows/s, read from the state store."""

from __future__ import annotations

import threading
import time

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from binlake.cli.render import console
from binlake.cli.start_task import REFRESH_SECONDS
from binlake.engine.task import TaskRunner
from binlake.monitor import metrics
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore


def draw_progress(store: StateStore, runner: TaskRunner, worker: threading.Thread) -> None:
    """Draw the task's tables (rows done of the estimate, rows/s), then its CDC status, until ``worker`` ends."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    bars: dict[str, TaskID] = {}
    rates: dict[str, Rate] = {}
    with Progress(*columns, console=console, transient=False) as progress:
        cdc = CdcLine()
        while worker.is_alive():
            _draw(store, runner.identifier, progress, bars, rates)
            cdc.draw(store, runner.identifier, progress)
            worker.join(REFRESH_SECONDS)
        _draw(store, runner.identifier, progress, bars, rates)


class Rate:
    """Rows per second over the last ``WINDOW`` seconds: the current speed, not the average since the start."""

    WINDOW = 5.0

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []

    def add(self, now: float, count: int) -> float | None:
        self.samples = [s for s in self.samples if now - s[0] <= self.WINDOW] + [(now, count)]
        (first_at, first), (last_at, last) = self.samples[0], self.samples[-1]
        return (last - first) / (last_at - first_at) if last_at - first_at > 0.5 else None


def _draw(store: StateStore, task: str, progress: Progress, bars: dict[str, TaskID], rates: dict[str, Rate]) -> None:
    for row in tasks_api.table_statistics(store, task):
        label = row.label
        done = row.full_load_rows
        total = max(row.estimated_rows, done, 1)
        if row.table_state == "Table completed":
            total = done or 1
        speed = rates.setdefault(label, Rate()).add(time.monotonic(), done)
        rate = f"{speed:,.0f}" if speed is not None and row.table_state == "Full load" else "-"
        detail = f"{done:>12,} / {total:,} rows {rate:>10} rows/s  {row.table_state}"
        if label not in bars:
            bars[label] = progress.add_task(label, total=total, detail=detail)
        progress.update(bars[label], completed=done, total=total, detail=detail)


class CdcLine:
    """One status line while CDC runs: read position, source latency, changes per second.

    The lag is the task's own CDCLatencySource metric: on an idle source the binlog carries only heartbeats,
    so "now minus the last change's time" would grow forever while the task is caught up (lag 0, as DMS says).
    """

    def __init__(self) -> None:
        self.bar: TaskID | None = None
        self.rate = Rate()

    def draw(self, store: StateStore, task_id: str, progress: Progress) -> None:
        task = tasks_api.get(store, task_id)
        if not task.cdc_read_position:
            return
        rate = self.rate.add(time.monotonic(), task.cdc_changes_total) or 0.0
        text = f"CDC at {task.cdc_read_position}  lag {cdc_lag(store, task_id)}"
        detail = f"{task.cdc_changes_total:,} changes  {rate:,.0f} changes/s"
        if self.bar is None:
            self.bar = progress.add_task(text, total=None, detail=detail)
        progress.update(self.bar, description=text, detail=detail)


def cdc_lag(store: StateStore, task_id: str) -> str:
    """The latest CDCLatencySource sample, e.g. '0s'; '-' before the first sample."""
    sample = metrics.latest(store, task_id)
    if sample is None or "CDCLatencySource" not in sample[1]:
        return "-"
    return f"{sample[1]['CDCLatencySource']:.0f}s"
