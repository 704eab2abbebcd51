"""CloudWatch operations for namespace ``AWS/DMS`` over the samples binlake records (monitor/metrics.py):
GetMetricStatistics, GetMetricData (MetricStat queries) and ListMetrics.

A task's metrics carry DMS's dimensions, ``ReplicationInstanceIdentifier`` (``local``) and
``ReplicationTaskIdentifier`` (the task). Datapoints are the samples in each ``Period`` from ``StartTime``;
a query that matches no series gets no datapoints, as CloudWatch answers.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from binlake.api.arns import INSTANCE_ID, TASK, Arns, identifier
from binlake.api.cbor import Timestamp
from binlake.api.faults import ApiError
from binlake.monitor import metrics
from binlake.state import metrics as samples
from binlake.state.store import StateStore

Params = dict[str, Any]
NAMESPACE = "AWS/DMS"
TASK_DIMENSION = "ReplicationTaskIdentifier"
INSTANCE_DIMENSION = "ReplicationInstanceIdentifier"
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")
MAX_DATAPOINTS = 1440


def _invalid(message: str, code: str = "InvalidParameterValue") -> ApiError:
    return ApiError(code, message)


def seconds(value: Any, name: str) -> float:
    """A timestamp as the protocols deliver it (epoch number, or ISO 8601 from the query protocol)."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise _invalid(f"The parameter {name} must be a timestamp.")


def _task_of(dimensions: list[dict[str, str]]) -> str | None:
    """The task named by the dimensions, None when they name no binlake series."""
    found = {d.get("Name"): d.get("Value") for d in dimensions}
    if set(found) - {TASK_DIMENSION, INSTANCE_DIMENSION} or found.get(INSTANCE_DIMENSION, INSTANCE_ID) != INSTANCE_ID:
        return None
    task = found.get(TASK_DIMENSION)
    return identifier(task, TASK) if task else None


def _statistic(name: str, values: list[float]) -> float:
    if name == "SampleCount":
        return float(len(values))
    if name == "Sum":
        return math.fsum(values)
    if name == "Average":
        return math.fsum(values) / len(values)
    if name == "Minimum":
        return min(values)
    if name == "Maximum":
        return max(values)
    match = _PERCENTILE.match(name)
    assert match, name
    ordered = sorted(values)
    rank = max(math.ceil(float(match.group(1)) / 100 * len(ordered)) - 1, 0)
    return ordered[rank]


def _check_statistic(name: str) -> None:
    if name not in STATISTICS and not _PERCENTILE.match(name):
        raise _invalid(f"The parameter Statistics/Stat {name!r} is not one of {', '.join(STATISTICS)} or pNN.")


class CloudWatchOperations:
    OPERATIONS = frozenset({"GetMetricStatistics", "GetMetricData", "ListMetrics"})

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def _buckets(
        self, namespace: str, metric: str, dimensions: list[dict[str, str]], start: float, end: float, period: int
    ) -> list[tuple[float, list[float]]]:
        """(bucket start, sample values) of each period that has samples, oldest first."""
        if period <= 0 or (period >= 60 and period % 60) or (period < 60 and period not in (1, 5, 10, 20, 30)):
            raise _invalid("The parameter Period must be 1, 5, 10, 20, 30, 60 or a multiple of 60.")
        if end <= start:
            raise _invalid("The parameter StartTime must be less than the parameter EndTime.")
        task = _task_of(dimensions)
        if namespace != NAMESPACE or task is None or metric not in metrics.BY_NAME:
            return []
        series = metrics.window(self.store, task, start, (metric,))[metric]
        buckets: dict[int, list[float]] = {}
        for at, value in zip(series.times, series.values, strict=True):
            if at < end:
                buckets.setdefault(int((at - start) // period), []).append(value)
        return [(start + index * period, values) for index, values in sorted(buckets.items())]

    def get_metric_statistics(self, params: Params, arns: Arns) -> Params:
        metric = params.get("MetricName", "")
        statistics = list(params.get("Statistics") or [])
        extended = list(params.get("ExtendedStatistics") or [])
        if not statistics and not extended:
            raise _invalid("Either Statistics or ExtendedStatistics must be given.", "MissingParameter")
        for name in statistics:
            _check_statistic(name)
        start, end = seconds(params.get("StartTime"), "StartTime"), seconds(params.get("EndTime"), "EndTime")
        period = int(params.get("Period") or 0)
        if (end - start) / max(period, 1) > MAX_DATAPOINTS:
            raise _invalid(
                f"You have requested up to {int((end - start) / period)} datapoints, which exceeds the limit of "
                f"{MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing "
                "the time range.",
                "InvalidParameterCombination",
            )
        unit = metrics.BY_NAME[metric].unit if metric in metrics.BY_NAME else "None"
        buckets = self._buckets(params.get("Namespace", ""), metric, params.get("Dimensions") or [], start, end, period)
        if params.get("Unit") and params["Unit"] != unit:
            buckets = []
        datapoints = []
        for at, values in buckets:
            point: Params = {"Timestamp": Timestamp(at), "Unit": unit}
            point.update({name: _statistic(name, values) for name in statistics})
            if extended:
                point["ExtendedStatistics"] = {name: _statistic(name, values) for name in extended}
            datapoints.append(point)
        return {"Label": metric, "Datapoints": datapoints}

    def get_metric_data(self, params: Params, arns: Arns) -> Params:
        start, end = seconds(params.get("StartTime"), "StartTime"), seconds(params.get("EndTime"), "EndTime")
        ascending = params.get("ScanBy") == "TimestampAscending"
        results = []
        for query in params.get("MetricDataQueries") or []:
            if "MetricStat" not in query:
                raise _invalid(f"Query {query.get('Id')}: binlake answers MetricStat queries, not expressions.")
            stat = query["MetricStat"]
            metric = stat.get("Metric") or {}
            _check_statistic(stat.get("Stat", ""))
            buckets = self._buckets(
                metric.get("Namespace", ""),
                metric.get("MetricName", ""),
                metric.get("Dimensions") or [],
                start,
                end,
                int(stat.get("Period") or 0),
            )
            if not ascending:
                buckets.reverse()
            if str(query.get("ReturnData", True)).lower() == "false":
                continue
            results.append(
                {
                    "Id": query.get("Id", ""),
                    "Label": query.get("Label") or metric.get("MetricName", ""),
                    "Timestamps": [Timestamp(at) for at, _ in buckets],
                    "Values": [_statistic(stat["Stat"], values) for _, values in buckets],
                    "StatusCode": "Complete",
                }
            )
        return {"MetricDataResults": results, "Messages": []}

    def list_metrics(self, params: Params, arns: Arns) -> Params:
        if params.get("Namespace") not in (None, NAMESPACE):
            return {"Metrics": []}
        wanted = params.get("Dimensions") or []
        found = []
        for task, name in samples.recorded(self.store):
            if params.get("MetricName") not in (None, name):
                continue
            dimensions = [
                {"Name": INSTANCE_DIMENSION, "Value": INSTANCE_ID},
                {"Name": TASK_DIMENSION, "Value": task},
            ]
            have = {d["Name"]: d["Value"] for d in dimensions}
            if all(f.get("Name") in have and f.get("Value") in (None, have[f["Name"]]) for f in wanted):
                found.append({"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dimensions})
        return {"Metrics": found}
