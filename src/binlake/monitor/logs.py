"""Task logs: ``logs tail`` and ``logs describe-log-streams`` over ``<state>/tasks/<task>/``.

A task log line is ``2026-11-25 15:30:20,980 INFO [thread] logger: message`` (local time); lines that do
not start that way (a traceback) belong to the record above them. ``/aws/dms/tasks/<task>`` names a task's
log group as in the guide.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from binlake.errors import BinlakeError
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

GROUP_PREFIX = "/aws/dms/tasks/"
TASK_LOG = "task.log"
PROCESS_OUT = "process.out"  # stdout and stderr of a detached task
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
FOLLOW_POLL_SECONDS = 0.25


def task_of_group(name: str) -> str:
    """The task a log group names: ``/aws/dms/tasks/<task>`` or the task identifier itself."""
    return name[len(GROUP_PREFIX) :] if name.startswith(GROUP_PREFIX) else name


def log_dir(store: StateStore, group: str) -> tuple[str, Path]:
    task = tasks_api.get(store, task_of_group(group)).identifier  # an unknown task is an error
    return task, store.state_dir / "tasks" / task


def level_number(level: str) -> int:
    number = LEVELS.get(level.upper())
    if number is None:
        raise BinlakeError(f"--level {level!r} is not a log level", fix=f"use one of {', '.join(LEVELS)}")
    return number


class FilterPattern:
    """CloudWatch Logs' plain-text filter patterns: every term must appear (``"a phrase"`` in quotes), ``?term``
    makes terms alternatives (any one must appear), ``-term`` must not appear. Case-sensitive, as in CloudWatch."""

    def __init__(self, text: str | None) -> None:
        self.required: list[str] = []
        self.optional: list[str] = []
        self.excluded: list[str] = []
        for prefix, quoted, bare in re.findall(r'([?-]?)(?:"([^"]*)"|(\S+))', text or ""):
            term = quoted or bare
            {"?": self.optional, "-": self.excluded}.get(prefix, self.required).append(term)

    def matches(self, text: str) -> bool:
        if any(term in text for term in self.excluded):
            return False
        if self.optional and not any(term in text for term in self.optional):
            return False
        return all(term in text for term in self.required)


@dataclass
class Record:
    """One log record: its first line's time and level, and every line of it."""

    at: float | None
    level: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _header(line: str) -> tuple[float, int] | None:
    match = _LINE.match(line)
    if not match:
        return None
    moment = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")  # local time, as logging writes it
    return moment.timestamp() + int(match.group(2)) / 1000, LEVELS[match.group(3)]


def records(lines: Iterator[str] | list[str]) -> Iterator[Record]:
    current: Record | None = None
    for line in lines:
        header = _header(line)
        if header is None and current is not None:
            current.lines.append(line)
            continue
        if current is not None:
            yield current
        current = Record(header[0], header[1], [line]) if header else Record(None, LEVELS["INFO"], [line])
    if current is not None:
        yield current


@dataclass
class TailFilter:
    since: float | None = None
    level: int = 0
    pattern: FilterPattern | None = None

    def keeps(self, record: Record) -> bool:
        if self.since is not None and record.at is not None and record.at < self.since:
            return False
        if record.level < self.level:
            return False
        return self.pattern is None or self.pattern.matches(record.text)


def tail(path: Path, keep: TailFilter) -> Iterator[str]:
    """The lines of the records in ``path`` that ``keep`` keeps."""
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as handle:
        for record in records(line.rstrip("\n") for line in handle):
            if keep.keeps(record):
                yield from record.lines


def follow(path: Path, keep: TailFilter, stop: threading.Event | None = None) -> Iterator[str]:
    """``tail``, then every record appended later, until ``stop`` is set (or forever). A line is judged as it
    arrives: a traceback line goes with the record it continues."""
    stop = stop or threading.Event()
    offset, partial = 0, ""
    last: Record | None = None
    while not stop.is_set():
        if path.exists():
            size = path.stat().st_size
            if size < offset:  # the log was replaced: read it again from its start
                offset, partial = 0, ""
            if size > offset:
                with path.open("rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
                offset += len(data)
                text = partial + data.decode("utf-8", errors="replace")
                *complete, partial = text.split("\n")
                for line in complete:
                    header = _header(line)
                    if header is not None or last is None:
                        at, level = header if header else (None, LEVELS["INFO"])
                        last = Record(at, level, [line])
                    else:
                        last.lines.append(line)
                    if keep.keeps(Record(last.at, last.level, last.lines)):
                        yield line
                continue
        stop.wait(FOLLOW_POLL_SECONDS)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def describe_log_streams(store: StateStore, group: str) -> list[dict[str, Any]]:
    """CloudWatch Logs' ``logStreams`` shape for a task's log files."""
    _task, directory = log_dir(store, group)
    streams = []
    for name in (TASK_LOG, PROCESS_OUT):
        path = directory / name
        if not path.exists():
            continue
        stat = path.stat()
        first = next((r.at for r in records(_first_lines(path)) if r.at is not None), None)
        streams.append(
            {
                "logStreamName": name,
                "creationTime": _ms(stat.st_ctime),
                "firstEventTimestamp": _ms(first) if first else None,
                "lastEventTimestamp": _ms(stat.st_mtime),
                "lastIngestionTime": _ms(stat.st_mtime),
                "storedBytes": stat.st_size,
                "path": str(path),
            }
        )
    return streams


def _first_lines(path: Path, count: int = 20) -> list[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        return [line.rstrip("\n") for _, line in zip(range(count), handle, strict=False)]
