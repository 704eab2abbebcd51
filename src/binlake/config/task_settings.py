"""ReplicationTaskSettings: the DMS JSON sections binlake acts on, and those it accepts as they are."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from binlake.config.error_behavior import ErrorBehavior
from binlake.errors import BinlakeError

PREP_MODES = ("DO_NOTHING", "DROP_AND_CREATE", "TRUNCATE_BEFORE_LOAD")
# Sections of DMS task settings that carry nothing binlake acts on yet; accepted so a pasted DMS
# settings document works unchanged.
PASSIVE_SECTIONS = (
    "TargetMetadata",
    "Logging",
    "ControlTablesSettings",
    "StreamBufferSettings",
    "ChangeProcessingDdlHandlingPolicy",
    "ValidationSettings",
    "CharacterSetSettings",
    "BeforeImageSettings",
    "LoopbackPreventionSettings",
    "PostProcessingRules",
    "TTSettings",
    "FailTaskWhenCleanTaskResourceFailed",
)


@dataclass
class FullLoadSettings:
    TargetTablePrepMode: str = "DROP_AND_CREATE"
    """DROP_AND_CREATE and TRUNCATE_BEFORE_LOAD remove the table's objects before loading; DO_NOTHING keeps them."""
    MaxFullLoadSubTasks: int = 8
    """Tables loaded in parallel (1-49)."""
    CommitRate: int = 10_000
    """Rows read from the source per batch (DMS's records transferred together)."""
    CreatePkAfterFullLoad: bool = False
    StopTaskCachedChangesApplied: bool = False
    StopTaskCachedChangesNotApplied: bool = False
    TransactionConsistencyTimeout: int = 600


@dataclass
class ChangeProcessingTuning:
    MemoryLimitTotal: int = 64
    """MB of one open transaction's row events held in memory; past it they are spilled to disk in the
    task's directory (DMS's default is 1024 on its larger instances)."""
    MemoryKeepTime: int = 60
    BatchApplyPreserveTransaction: bool = True
    BatchApplyTimeoutMin: int = 1
    BatchApplyTimeoutMax: int = 30
    BatchApplyMemoryLimit: int = 500
    BatchSplitSize: int = 0
    MinTransactionSize: int = 1000
    CommitTimeout: int = 1
    StatementCacheSize: int = 50


@dataclass
class ReplicationTaskSettings:
    FullLoadSettings: FullLoadSettings = field(default_factory=FullLoadSettings)
    ChangeProcessingTuning: ChangeProcessingTuning = field(default_factory=ChangeProcessingTuning)
    ErrorBehavior: ErrorBehavior = field(default_factory=ErrorBehavior)
    passive: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> ReplicationTaskSettings:
        if not text or not text.strip():
            return cls()
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BinlakeError(
                f"--replication-task-settings is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        if not isinstance(raw, dict):
            raise BinlakeError("--replication-task-settings must be a JSON object")
        settings = cls()
        for section, value in raw.items():
            if section == "FullLoadSettings":
                settings.FullLoadSettings = _parse_full_load(value)
            elif section == "ChangeProcessingTuning":
                settings.ChangeProcessingTuning = _parse_change_processing(value)
            elif section == "ErrorBehavior":
                settings.ErrorBehavior = ErrorBehavior.parse(value)
            elif section in PASSIVE_SECTIONS:
                settings.passive[section] = value
            else:
                raise BinlakeError(
                    f"unknown task settings section {section!r}",
                    fix="use FullLoadSettings, ErrorBehavior or one of DMS's sections "
                    f"({', '.join(PASSIVE_SECTIONS[:4])}, ...)",
                )
        return settings

    def to_json(self) -> str:
        return json.dumps(
            {
                "FullLoadSettings": asdict(self.FullLoadSettings),
                "ChangeProcessingTuning": asdict(self.ChangeProcessingTuning),
                "ErrorBehavior": asdict(self.ErrorBehavior),
                **self.passive,
            }
        )


def _parse_full_load(value: Any) -> FullLoadSettings:
    if not isinstance(value, dict):
        raise BinlakeError("FullLoadSettings must be a JSON object")
    known = {f.name for f in fields(FullLoadSettings)}
    for key in value:
        if key not in known:
            raise BinlakeError(f"unknown FullLoadSettings key {key!r}", fix=f"known keys: {', '.join(sorted(known))}")
    settings = FullLoadSettings(**value)
    if settings.TargetTablePrepMode not in PREP_MODES:
        raise BinlakeError(
            f"TargetTablePrepMode {settings.TargetTablePrepMode!r} is not supported", fix=f"use {PREP_MODES}"
        )
    if not isinstance(settings.MaxFullLoadSubTasks, int) or not 1 <= settings.MaxFullLoadSubTasks <= 49:
        raise BinlakeError("MaxFullLoadSubTasks must be a whole number from 1 to 49")
    if not isinstance(settings.CommitRate, int) or not 1 <= settings.CommitRate <= 100_000:
        raise BinlakeError("CommitRate must be a whole number from 1 to 100000")
    return settings


def _parse_change_processing(value: Any) -> ChangeProcessingTuning:
    if not isinstance(value, dict):
        raise BinlakeError("ChangeProcessingTuning must be a JSON object")
    known = {f.name for f in fields(ChangeProcessingTuning)}
    for key in value:
        if key not in known:
            raise BinlakeError(
                f"unknown ChangeProcessingTuning key {key!r}", fix=f"known keys: {', '.join(sorted(known))}"
            )
    settings = ChangeProcessingTuning(**value)
    limit = settings.MemoryLimitTotal
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1_048_576:
        raise BinlakeError(
            f"MemoryLimitTotal {limit!r} is not a size in MB",
            fix="give a whole number of MB from 1 to 1048576 (default 64)",
        )
    return settings
