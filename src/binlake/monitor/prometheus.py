"""Prometheus text exposition (format 0.0.4) of every task: status, table statistics, and the latest metric
sample of each running task. Metric names keep DMS's spelling after a ``binlake_`` prefix."""

from __future__ import annotations

from collections.abc import Iterable

from binlake.monitor import metrics
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TABLE_STATISTICS = {  # DMS's TableStatistics field -> state store column
    "FullLoadRows": "full_load_rows",
    "Inserts": "inserts",
    "Updates": "updates",
    "Deletes": "deletes",
    "Ddls": "ddls",
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) or abs(value) >= 1e15 else str(int(value))


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {_number(value)}" for labels, value in samples]
    return lines


def render(store: StateStore) -> str:
    tasks = [tasks_api.refresh(store, t) for t in tasks_api.list_all(store)]
    lines = _family(
        "binlake_task_status",
        "gauge",
        "1 for the replication task's current Status.",
        ((_labels(replication_task=t.identifier, status=t.status), 1) for t in tasks),
    )
    stats = [(t.identifier, row) for t in tasks for row in tasks_api.table_statistics(store, t.identifier)]
    for field, column in TABLE_STATISTICS.items():
        lines += _family(
            f"binlake_{field}",
            "counter" if field != "FullLoadRows" else "gauge",
            f"TableStatistics {field} of each table.",
            (
                (_labels(replication_task=task, schema_name=r.schema_name, table_name=r.table_name), getattr(r, column))
                for task, r in stats
            ),
        )
    lines += _family(
        "binlake_table_state",
        "gauge",
        "1 for each table's current TableState.",
        (
            (
                _labels(
                    replication_task=task,
                    schema_name=r.schema_name,
                    table_name=r.table_name,
                    table_state=r.table_state,
                ),
                1,
            )
            for task, r in stats
        ),
    )
    latest = {t.identifier: metrics.latest(store, t.identifier) for t in tasks if t.active}
    for metric in metrics.METRICS:
        samples = [
            (_labels(replication_task=task), sample[1][metric.name])
            for task, sample in latest.items()
            if sample is not None and metric.name in sample[1]
        ]
        lines += _family(f"binlake_{metric.name}", "gauge", f"{metric.description} ({metric.unit})", samples)
    return "\n".join(lines) + "\n"
