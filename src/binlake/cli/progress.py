"""The live full-load display: per-table rows done of the estimate and rows/s, read from the state store."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from binlake.cli.render import console
from binlake.dms import StartType
from binlake.engine.task import TaskRunner
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

REFRESH_SECONDS = 0.5


def follow_task(
    store: StateStore,
    runner: TaskRunner,
    start_type: StartType,
    cdc_start_position: str | None = None,
    cdc_start_time: str | None = None,
) -> tasks_api.ReplicationTask:
    """Run the task in a worker thread and draw its tables' progress, then its CDC status, until it ends."""
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["task"] = runner.run(start_type, cdc_start_position, cdc_start_time)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="task", daemon=True)
    worker.start()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    bars: dict[str, TaskID] = {}
    started: dict[str, float] = {}
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            cdc = CdcLine()
            while worker.is_alive():
                _draw(store, runner.identifier, progress, bars, started)
                cdc.draw(store, runner.identifier, progress)
                worker.join(REFRESH_SECONDS)
            _draw(store, runner.identifier, progress, bars, started)
    except KeyboardInterrupt:
        runner.stop_event.set()
        worker.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["task"]  # type: ignore[return-value]


def _draw(store: StateStore, task: str, progress: Progress, bars: dict[str, TaskID], started: dict[str, float]) -> None:
    for row in tasks_api.table_statistics(store, task):
        label = f"{row['schema_name']}.{row['table_name']}"
        done = row["full_load_rows"]
        total = max(row["estimated_rows"], done, 1)
        if row["table_state"] == "Table completed":
            total = done or 1
        now = time.monotonic()
        if done and label not in started:
            started[label] = now
        elapsed = now - started.get(label, now)
        rate = f"{done / elapsed:,.0f}" if elapsed > 0.5 else "-"
        detail = f"{done:>12,} / {total:,} rows {rate:>10} rows/s  {row['table_state']}"
        if label not in bars:
            bars[label] = progress.add_task(label, total=total, detail=detail)
        progress.update(bars[label], completed=done, total=total, detail=detail)


class CdcLine:
    """One status line while CDC runs: read position, source lag, changes per second."""

    def __init__(self) -> None:
        self.bar: TaskID | None = None
        self.samples: list[tuple[float, int]] = []

    def draw(self, store: StateStore, task_id: str, progress: Progress) -> None:
        task = tasks_api.get(store, task_id)
        if not task.cdc_read_position:
            return
        now = time.monotonic()
        self.samples = [s for s in self.samples if now - s[0] < 10] + [(now, task.cdc_changes_total)]
        span = self.samples[-1][0] - self.samples[0][0]
        rate = (self.samples[-1][1] - self.samples[0][1]) / span if span > 0 else 0.0
        lag = "-"
        if task.cdc_source_time:
            lag = f"{max(0.0, time.time() - datetime.fromisoformat(task.cdc_source_time).timestamp()):.0f}s"
        text = f"CDC at {task.cdc_read_position}  lag {lag}"
        detail = f"{task.cdc_changes_total:,} changes  {rate:,.0f} changes/s"
        if self.bar is None:
            self.bar = progress.add_task(text, total=None, detail=detail)
        progress.update(self.bar, description=text, detail=detail)
