"""CloudWatch Logs operations (``Logs_20140328.<Operation>``) over a task's log files: log group
``/aws/dms/tasks/<task>``, log streams ``task.log`` and ``process.out`` (a detached task's output).

An event is one log record (a line and the traceback lines that continue it); its timestamp is the record's
time in milliseconds. Tokens are ``f/<n>`` (the next record to read, forward) and ``b/<n>`` (backward).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from binlake.api.arns import Arns
from binlake.api.faults import ApiError
from binlake.monitor import logs as logs_api
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

Params = dict[str, Any]
STREAMS = (logs_api.TASK_LOG, logs_api.PROCESS_OUT)
DEFAULT_LIMIT = 10_000


def _not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFoundException", message)


def _invalid(message: str) -> ApiError:
    return ApiError("InvalidParameterException", message)


def _events(path: Path) -> list[tuple[int, str]]:
    """(timestamp ms, message) of every record in ``path``; a record without a time takes its predecessor's."""
    if not path.exists():
        return []
    found: list[tuple[int, str]] = []
    last = int(path.stat().st_mtime * 1000)
    with path.open(encoding="utf-8", errors="replace") as handle:
        for record in logs_api.records(line.rstrip("\n") for line in handle):
            at = int(record.at * 1000) if record.at is not None else (found[-1][0] if found else last)
            found.append((at, record.text))
    return found


class LogsOperations:
    OPERATIONS = frozenset({"DescribeLogStreams", "GetLogEvents", "FilterLogEvents"})

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def _group(self, params: Params) -> Path:
        group = params.get("logGroupName") or ""
        task = logs_api.task_of_group(group)
        if not group.startswith(logs_api.GROUP_PREFIX) or tasks_api.find(self.store, task) is None:
            raise _not_found("The specified log group does not exist.")
        return self.store.state_dir / "tasks" / task

    def _stream(self, params: Params) -> Path:
        directory = self._group(params)
        name = params.get("logStreamName") or ""
        if name not in STREAMS or not (directory / name).exists():
            raise _not_found("The specified log stream does not exist.")
        return directory / name

    def describe_log_streams(self, params: Params, arns: Arns) -> Params:
        self._group(params)  # an unknown group is ResourceNotFoundException
        group = params["logGroupName"]
        prefix = params.get("logStreamNamePrefix") or ""
        streams = []
        for shape in logs_api.describe_log_streams(self.store, group):
            if not shape["logStreamName"].startswith(prefix):
                continue
            shape = {key: value for key, value in shape.items() if key != "path" and value is not None}
            shape["arn"] = (
                f"arn:aws:logs:{arns.region}:{arns.account}:log-group:{group}:log-stream:{shape['logStreamName']}"
            )
            streams.append(shape)
        if params.get("orderBy") == "LastEventTime":
            streams.sort(key=lambda s: s.get("lastEventTimestamp", 0))
        if params.get("descending"):
            streams.reverse()
        return {"logStreams": streams[: params.get("limit") or 50]}

    def get_log_events(self, params: Params, arns: Arns) -> Params:
        events = _window(_events(self._stream(params)), params.get("startTime"), params.get("endTime"))
        limit = params.get("limit") or DEFAULT_LIMIT
        token = params.get("nextToken")
        if token:
            direction, _, number = token.partition("/")
            if direction not in ("f", "b") or not number.isdigit():
                raise _invalid(f"The specified nextToken is invalid: {token}")
            position = int(number)
            forward = direction == "f"
        else:
            forward = bool(params.get("startFromHead"))
            position = 0 if forward else len(events)
        if forward:
            start, end = position, min(position + limit, len(events))
        else:
            start, end = max(position - limit, 0), position
        page = events[start:end]
        return {
            "events": [{"timestamp": at, "message": text, "ingestionTime": at} for at, text in page],
            "nextForwardToken": f"f/{end}",
            "nextBackwardToken": f"b/{start}",
        }

    def filter_log_events(self, params: Params, arns: Arns) -> Params:
        directory = self._group(params)
        names = params.get("logStreamNames") or [n for n in STREAMS if (directory / n).exists()]
        prefix = params.get("logStreamNamePrefix") or ""
        pattern = logs_api.FilterPattern(params.get("filterPattern")) if params.get("filterPattern") else None
        found = []
        for name in names:
            if name not in STREAMS or not name.startswith(prefix):
                raise _not_found(f"The specified log stream does not exist: {name}")
            for number, (at, text) in enumerate(
                _window(_events(directory / name), params.get("startTime"), params.get("endTime"))
            ):
                if pattern is None or pattern.matches(text):
                    found.append((at, name, number, text))
        found.sort(key=lambda event: (event[0], event[1], event[2]))
        skip = 0
        if params.get("nextToken"):
            token = params["nextToken"]
            if not str(token).isdigit():
                raise _invalid(f"The specified nextToken is invalid: {token}")
            skip = int(token)
        limit = params.get("limit") or DEFAULT_LIMIT
        page = found[skip : skip + limit]
        response: Params = {
            "events": [
                {
                    "logStreamName": name,
                    "timestamp": at,
                    "message": text,
                    "ingestionTime": at,
                    "eventId": f"{name}-{number}",
                }
                for at, name, number, text in page
            ],
            "searchedLogStreams": [{"logStreamName": n, "searchedCompletely": True} for n in names],
        }
        if skip + limit < len(found):
            response["nextToken"] = str(skip + limit)
        return response


def _window(events: list[tuple[int, str]], start: int | None, end: int | None) -> list[tuple[int, str]]:
    """Events at or after ``start`` and before ``end`` (ms), as CloudWatch Logs bounds them."""
    return [(at, text) for at, text in events if (start is None or at >= start) and (end is None or at < end)]
