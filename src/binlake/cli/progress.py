"""The live full-load display: per-table rows done of the estimate and rows/s, read from the state store."""

from __future__ import annotations

import threading
import time

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from binlake.cli.render import console
from binlake.dms import StartType
from binlake.engine.task import TaskRunner
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

REFRESH_SECONDS = 0.5


def follow_full_load(store: StateStore, runner: TaskRunner, start_type: StartType) -> tasks_api.ReplicationTask:
    """Run the task in a worker thread and draw its tables' progress until it ends."""
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["task"] = runner.run(start_type)
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="task", daemon=True)
    worker.start()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:>12,.0f} / {task.total:,.0f} rows"),
        TextColumn("{task.fields[rate]:>10} rows/s"),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
    )
    bars: dict[str, TaskID] = {}
    started: dict[str, float] = {}
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            while worker.is_alive():
                _draw(store, runner.identifier, progress, bars, started)
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
        if label not in bars:
            bars[label] = progress.add_task(label, total=total, rate=rate, state=row["table_state"])
        progress.update(bars[label], completed=done if done else 0, total=total, rate=rate, state=row["table_state"])
