"""ErrorBehavior: DMS's task settings for errors; binlake acts on the recoverable-error retry settings.

A recoverable error is one the environment causes and may end by itself: the source restarting, a network
drop, ``max_connections`` reached, a read-only failover, an S3 5xx. DMS restarts the task from its checkpoint,
``RecoverableErrorInterval`` seconds later, then (with throttling) at doubling intervals up to
``RecoverableErrorThrottlingMax``; binlake does the same with the same defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from binlake.errors import BinlakeError


@dataclass
class ErrorBehavior:
    RecoverableErrorCount: int = -1
    """Attempts to recover from an environmental error before the task fails; -1 retries without limit, 0 never."""
    RecoverableErrorInterval: float = 5
    """Seconds before the first attempt to recover (DMS default 5)."""
    RecoverableErrorThrottling: bool = True
    """Double the wait after each failed attempt (5, 10, 20, ... seconds), up to RecoverableErrorThrottlingMax."""
    RecoverableErrorThrottlingMax: float = 1800
    """Longest wait between attempts, in seconds (DMS default 1800)."""
    RecoverableErrorStopRetryAfterThrottlingMax: bool = True
    """With throttling, fail the task once an attempt after the longest wait failed too (DMS default true:
    about 73 minutes of retries with the other defaults); false keeps retrying every ThrottlingMax seconds."""
    # DMS's record, table and apply error policies: accepted so a pasted DMS document works; binlake stops
    # the task on any such error (invariant 8: unknown means stop), which is DMS's STOP_TASK.
    DataErrorPolicy: str = "LOG_ERROR"
    DataTruncationErrorPolicy: str = "LOG_ERROR"
    DataMaskingErrorPolicy: str = "STOP_TASK"
    DataErrorEscalationPolicy: str = "SUSPEND_TABLE"
    DataErrorEscalationCount: int = 0
    EventErrorPolicy: str = "IGNORE"
    TableErrorPolicy: str = "SUSPEND_TABLE"
    TableErrorEscalationPolicy: str = "STOP_TASK"
    TableErrorEscalationCount: int = 0
    ApplyErrorDeletePolicy: str = "IGNORE_RECORD"
    ApplyErrorInsertPolicy: str = "LOG_ERROR"
    ApplyErrorUpdatePolicy: str = "LOG_ERROR"
    ApplyErrorEscalationPolicy: str = "LOG_ERROR"
    ApplyErrorEscalationCount: int = 0
    ApplyErrorFailOnTruncationDdl: bool = False
    FullLoadIgnoreConflicts: bool = True
    FailOnTransactionConsistencyBreached: bool = False
    FailOnNoTablesCaptured: bool = True

    @classmethod
    def parse(cls, value: Any) -> ErrorBehavior:
        if not isinstance(value, dict):
            raise BinlakeError("ErrorBehavior must be a JSON object", fix='e.g. {"RecoverableErrorCount": -1}')
        known = {f.name for f in fields(cls)}
        for key in value:
            if key not in known:
                raise BinlakeError(
                    f"unknown ErrorBehavior key {key!r}",
                    fix="use DMS's names, e.g. RecoverableErrorCount, RecoverableErrorInterval, "
                    "RecoverableErrorThrottling, RecoverableErrorThrottlingMax",
                )
        behavior = cls(**value)
        count = behavior.RecoverableErrorCount
        if isinstance(count, bool) or not isinstance(count, int) or count < -1:
            raise BinlakeError(
                f"RecoverableErrorCount {count!r} is not valid", fix="use -1 (no limit), 0 (never retry) or a count"
            )
        for name in ("RecoverableErrorInterval", "RecoverableErrorThrottlingMax"):
            seconds = getattr(behavior, name)
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise BinlakeError(f"{name} {seconds!r} is not valid", fix=f"set {name} to a number of seconds >= 0")
        for name in ("RecoverableErrorThrottling", "RecoverableErrorStopRetryAfterThrottlingMax"):
            if not isinstance(getattr(behavior, name), bool):
                raise BinlakeError(f"{name} must be true or false", fix=f'e.g. "{name}": true')
        return behavior

    def waits(self) -> Iterator[float]:
        """Seconds to wait before each attempt to recover; ends when the task must give up."""
        wait, attempt = float(self.RecoverableErrorInterval), 0
        ceiling = float(self.RecoverableErrorThrottlingMax)
        while self.RecoverableErrorCount < 0 or attempt < self.RecoverableErrorCount:
            attempt += 1
            yield min(wait, ceiling) if self.RecoverableErrorThrottling else wait
            if self.RecoverableErrorThrottling:
                if wait >= ceiling and self.RecoverableErrorStopRetryAfterThrottlingMax:
                    return
                wait = min(wait * 2, ceiling) if wait else 0.0
