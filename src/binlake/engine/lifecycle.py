"""Creating a replication task: every argument checked before anything is stored."""

from __future__ import annotations

from binlake.config.mappings import TableMappings
from binlake.config.task_settings import ReplicationTaskSettings
from binlake.dms import MigrationType, TaskStatus
from binlake.errors import BinlakeError
from binlake.state import endpoints as endpoints_api
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore, utcnow


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
    TableMappings.parse(table_mappings)
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
