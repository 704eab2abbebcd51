"""Creating a replication task: every argument checked before anything is stored."""

from __future__ import annotations

import logging

from binlake.config.endpoint import Endpoint, S3Settings
from binlake.config.mappings import TableMappings
from binlake.config.task_settings import ReplicationTaskSettings
from binlake.dms import MigrationType, TaskStatus
from binlake.engine.target_folders import check_target_folders
from binlake.errors import BinlakeError
from binlake.source.connection import endpoint_address
from binlake.source.server import Source
from binlake.state import endpoints as endpoints_api
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore, utcnow

log = logging.getLogger(__name__)


def new_task(
    store: StateStore,
    identifier: str,
    source_endpoint: str,
    target_endpoint: str,
    migration_type: str,
    table_mappings: str,
    settings: str,
) -> tasks_api.ReplicationTask:
    if not identifier or not identifier[0].isalpha() or not all(ch.isalnum() or ch == "-" for ch in identifier):
        raise BinlakeError(
            f"task identifier {identifier!r} is not valid",
            fix="use letters, digits and hyphens, starting with a letter",
        )
    valid_types = [m.value for m in MigrationType]
    if migration_type not in valid_types:
        raise BinlakeError(
            f"migration type {migration_type!r} is not valid", fix=f"use one of {', '.join(valid_types)}"
        )
    source = endpoints_api.get(store, source_endpoint)
    target = endpoints_api.get(store, target_endpoint)
    if not source.is_source:
        raise BinlakeError(f"endpoint {source_endpoint} is a target endpoint", fix="pass a source endpoint")
    if target.is_source:
        raise BinlakeError(f"endpoint {target_endpoint} is a source endpoint", fix="pass a target endpoint")
    parsed_mappings = TableMappings.parse(table_mappings)
    assert target.S3Settings is not None
    _check_target_folders(source, parsed_mappings, target.S3Settings)
    parsed_settings = ReplicationTaskSettings.parse(settings)
    task = tasks_api.ReplicationTask(
        identifier=identifier,
        source_endpoint=source_endpoint,
        target_endpoint=target_endpoint,
        migration_type=migration_type,
        table_mappings=table_mappings,
        settings=parsed_settings.to_json(),
        status=TaskStatus.READY.value,
        stop_reason=None,
        last_failure_message=None,
        desired_state=None,
        pid=None,
        created_at=utcnow(),
        started_at=None,
        stopped_at=None,
        full_load_started_at=None,
        full_load_finished_at=None,
    )
    return tasks_api.create(store, task)


def _check_target_folders(source: Endpoint, mappings: TableMappings, s3: S3Settings) -> None:
    """Two selected tables that would share a target folder are refused now, when the source can be read;
    when it cannot, the task's start checks again."""
    try:
        names = Source(endpoint_address(source)).list_tables()
    except BinlakeError as exc:
        log.info("Target folders not checked now (%s); the task checks them when it starts", exc)
        return
    tables = [(schema, table) for schema, table in names if mappings.selects(schema, table)]
    check_target_folders(tables, mappings, s3)
