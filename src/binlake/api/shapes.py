"""binlake's DMS shapes (what ``--output json`` prints) made into the API's: ARNs for identifiers and epoch
seconds for the ISO times the state store keeps, as botocore's JSON protocol expects timestamps."""

from __future__ import annotations

from typing import Any

from binlake.api.arns import Arns
from binlake.monitor.periods import epoch

TASK_TIMES = ("ReplicationTaskCreationDate", "ReplicationTaskStartDate")
TASK_STATS_TIMES = ("StartDate", "StopDate", "FullLoadStartDate", "FullLoadFinishDate")
TABLE_TIMES = ("FullLoadStartTime", "FullLoadEndTime", "LastUpdateTime")


def _epochs(shape: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    for name in names:
        if shape.get(name):
            shape[name] = epoch(shape[name])
    return shape


def task(shape: dict[str, Any], arns: Arns) -> dict[str, Any]:
    """A ReplicationTask shape from tasks.describe(); binlake's own ``CdcState`` is left out (not in DMS's)."""
    shape = {key: value for key, value in shape.items() if key != "CdcState"}
    shape["ReplicationTaskArn"] = arns.task(shape["ReplicationTaskIdentifier"])
    shape["SourceEndpointArn"] = arns.endpoint(shape["SourceEndpointArn"])
    shape["TargetEndpointArn"] = arns.endpoint(shape["TargetEndpointArn"])
    shape["ReplicationInstanceArn"] = arns.instance
    shape["ReplicationTaskStats"] = _epochs(dict(shape["ReplicationTaskStats"]), TASK_STATS_TIMES)
    return _epochs(shape, TASK_TIMES)


def table_statistics(shape: dict[str, Any]) -> dict[str, Any]:
    """DMS's TableStatistics has no ZeroDates (binlake's describe-table-statistics adds one)."""
    return _epochs({key: value for key, value in shape.items() if key != "ZeroDates"}, TABLE_TIMES)


def endpoint(shape: dict[str, Any], arns: Arns) -> dict[str, Any]:
    shape = dict(shape)
    shape["EndpointArn"] = arns.endpoint(shape["EndpointIdentifier"])
    return shape


def connection(shape: dict[str, Any], arns: Arns) -> dict[str, Any]:
    shape = {key: value for key, value in shape.items() if key != "Warnings"}
    shape["EndpointArn"] = arns.endpoint(shape["EndpointIdentifier"])
    shape["ReplicationInstanceArn"] = arns.instance
    shape["ReplicationInstanceIdentifier"] = arns.instance.rsplit(":", 1)[1]
    return shape


def event(shape: dict[str, Any]) -> dict[str, Any]:
    """DMS's Event has no SourceArn (binlake's describe-events adds one)."""
    shape = {key: value for key, value in shape.items() if key != "SourceArn"}
    shape["Date"] = epoch(shape["Date"])
    return shape
