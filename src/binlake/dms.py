"""DMS vocabulary: the names users of `aws dms` already know, spelled as DMS spells them."""

from __future__ import annotations

from enum import StrEnum


class MigrationType(StrEnum):
    FULL_LOAD = "full-load"
    CDC = "cdc"
    FULL_LOAD_AND_CDC = "full-load-and-cdc"


class StartType(StrEnum):
    START_REPLICATION = "start-replication"
    RESUME_PROCESSING = "resume-processing"
    RELOAD_TARGET = "reload-target"


class TaskStatus(StrEnum):
    CREATING = "creating"
    READY = "ready"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    DELETING = "deleting"


class TableState(StrEnum):
    BEFORE_LOAD = "Before load"
    FULL_LOAD = "Full load"
    TABLE_COMPLETED = "Table completed"
    TABLE_CANCELLED = "Table cancelled"
    TABLE_ERROR = "Table error"


class EndpointType(StrEnum):
    SOURCE = "source"
    TARGET = "target"


SOURCE_ENGINES = ("mysql", "mariadb", "aurora")
TARGET_ENGINES = ("s3",)

# DMS's StopReason strings for a task that ended by itself.
STOP_REASON_FULL_LOAD_DONE = "FULL_LOAD_ONLY_FINISHED"
STOP_REASON_USER = "STOPPED_BY_USER"
