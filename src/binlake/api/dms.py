"""DMS operations (``AmazonDMSv20160101.<Operation>``) over binlake's endpoints, tasks, statistics and events.

Each operation takes the request's JSON and returns the response's, in DMS's field names. Lookups come first,
so a missing task or endpoint is ``ResourceNotFoundFault`` and a task in the wrong state
``InvalidResourceStateFault``, as DMS answers; any other refusal from binlake is ``InvalidParameterValueException``
with binlake's one-line cause and fix.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from binlake.api import shapes
from binlake.api.arns import ENDPOINT, TASK, Arns, identifier
from binlake.api.faults import already_exists, bad_parameter, bad_state, not_found
from binlake.api.params import as_fault, as_parameter_error, filters, keep, page
from binlake.config.endpoint import new_endpoint
from binlake.dms import StartType, TaskStatus
from binlake.engine import task as engine
from binlake.engine.connectivity import test_endpoint
from binlake.engine.detach import start_detached
from binlake.engine.lifecycle import new_task
from binlake.engine.start_point import parse_start_position, parse_start_time
from binlake.errors import BinlakeError
from binlake.monitor import events as events_api
from binlake.source.connection import endpoint_address
from binlake.state import endpoints as endpoints_api
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

Params = dict[str, Any]
TASK_FILTERS = {
    "replication-task-arn": TASK,
    "replication-task-id": None,
    "migration-type": None,
    "endpoint-arn": ENDPOINT,
}
ENDPOINT_FILTERS = {"endpoint-arn": ENDPOINT, "endpoint-id": None, "endpoint-type": None, "engine-name": None}
TABLE_FILTERS: dict[str, str | None] = {"schema-name": None, "table-name": None, "table-state": None}
RELOAD_STOP_SECONDS = 60
CONNECTION_FILTERS = {"endpoint-arn": ENDPOINT, "replication-instance-arn": None}


class DmsOperations:
    OPERATIONS = frozenset(
        {
            "CreateEndpoint",
            "DescribeEndpoints",
            "DeleteEndpoint",
            "TestConnection",
            "DescribeConnections",
            "CreateReplicationTask",
            "DescribeReplicationTasks",
            "StartReplicationTask",
            "StopReplicationTask",
            "DeleteReplicationTask",
            "DescribeTableStatistics",
            "DescribeEvents",
            "ReloadTables",
        }
    )

    def __init__(self, store: StateStore, state_dir: Path) -> None:
        self.store = store
        self.state_dir = state_dir
        self.connections: dict[str, dict[str, Any]] = {}  # test-connection results, by endpoint
        self._lock = threading.Lock()

    # -- lookups ------------------------------------------------------------
    def _task(self, arn: str) -> tasks_api.ReplicationTask:
        name = identifier(arn or "", TASK)
        if tasks_api.find(self.store, name) is None:
            raise not_found(f"Replication task {arn} not found")
        return tasks_api.refresh(self.store, tasks_api.get(self.store, name))

    def _endpoint(self, arn: str) -> str:
        name = identifier(arn or "", ENDPOINT)
        if not any(e.EndpointIdentifier == name for e in endpoints_api.list_all(self.store)):
            raise not_found(f"Endpoint {arn} not found")
        return name

    def _task_shape(self, task: tasks_api.ReplicationTask, arns: Arns) -> Params:
        task = tasks_api.refresh(self.store, task)
        return shapes.task(tasks_api.describe(task, tasks_api.table_statistics(self.store, task.identifier)), arns)

    # -- endpoints ----------------------------------------------------------
    def create_endpoint(self, params: Params, arns: Arns) -> Params:
        name = params.get("EndpointIdentifier", "")
        if any(e.EndpointIdentifier == name for e in endpoints_api.list_all(self.store)):
            raise already_exists(f"Endpoint {name} already exists")
        if params.get("Password"):
            raise bad_parameter(
                "binlake stores no passwords: leave Password out and pass MySQLSettings.SecretsManagerSecretId "
                "as env:VARIABLE or file:/path (where the API server reads the password)"
            )
        secret_ref = (params.get("MySQLSettings") or {}).get("SecretsManagerSecretId", "")
        s3_settings = params.get("S3Settings")
        with as_parameter_error():
            endpoint = new_endpoint(
                name,
                params.get("EndpointType", ""),
                params.get("EngineName", ""),
                server_name=params.get("ServerName", ""),
                port=int(params.get("Port") or 0),
                username=params.get("Username", ""),
                database_name=params.get("DatabaseName", ""),
                ssl_mode=params.get("SslMode", "none"),
                certificate=params.get("CertificateArn", ""),
                password_ref=secret_ref,
                s3_settings=json.dumps(s3_settings) if s3_settings else "",
            )
            endpoints_api.create(self.store, endpoint)
        return {"Endpoint": shapes.endpoint(endpoint.describe(), arns)}

    def describe_endpoints(self, params: Params, arns: Arns) -> Params:
        wanted = filters(params, ENDPOINT_FILTERS)
        if "endpoint-type" in wanted:
            wanted["endpoint-type"] = {v.lower() for v in wanted["endpoint-type"]}
        found = [
            shapes.endpoint(e.describe(), arns)
            for e in endpoints_api.list_all(self.store)
            if keep(
                wanted,
                {
                    "endpoint-arn": e.EndpointIdentifier,
                    "endpoint-id": e.EndpointIdentifier,
                    "endpoint-type": e.EndpointType,
                    "engine-name": e.EngineName,
                },
            )
        ]
        if wanted and not found:
            raise not_found("No endpoints found matching provided filters")
        return page(found, params, "Endpoints")

    def delete_endpoint(self, params: Params, arns: Arns) -> Params:
        name = self._endpoint(params.get("EndpointArn", ""))
        with as_fault(bad_state):
            endpoint = endpoints_api.delete(self.store, name)
        self.connections.pop(name, None)
        return {"Endpoint": {**shapes.endpoint(endpoint.describe(), arns), "Status": "deleting"}}

    def test_connection(self, params: Params, arns: Arns) -> Params:
        name = self._endpoint(params.get("EndpointArn", ""))
        endpoint = endpoints_api.get(self.store, name)
        try:
            address = endpoint_address(endpoint) if endpoint.is_source else None
            result = test_endpoint(endpoint, address).describe()["Connection"]
        except BinlakeError as exc:  # the password's file or variable is missing: a failed test, as in DMS
            result = {"EndpointIdentifier": name, "Status": "failed", "LastFailureMessage": str(exc)}
        assert isinstance(result, dict)
        shape = shapes.connection(result, arns)
        with self._lock:
            self.connections[name] = shape
        return {"Connection": shape}

    def describe_connections(self, params: Params, arns: Arns) -> Params:
        wanted = filters(params, CONNECTION_FILTERS)
        wanted.pop("replication-instance-arn", None)
        with self._lock:
            found = [c for name, c in sorted(self.connections.items()) if keep(wanted, {"endpoint-arn": name})]
        return page(found, params, "Connections")

    # -- tasks --------------------------------------------------------------
    def create_replication_task(self, params: Params, arns: Arns) -> Params:
        name = params.get("ReplicationTaskIdentifier", "")
        if tasks_api.find(self.store, name) is not None:
            raise already_exists(f"Replication task {name} already exists")
        source = self._endpoint(params.get("SourceEndpointArn", ""))
        target = self._endpoint(params.get("TargetEndpointArn", ""))
        with as_parameter_error():
            task = new_task(
                self.store,
                name,
                source,
                target,
                params.get("MigrationType", ""),
                params.get("TableMappings", ""),
                params.get("ReplicationTaskSettings", ""),
            )
        return {"ReplicationTask": self._task_shape(task, arns)}

    def describe_replication_tasks(self, params: Params, arns: Arns) -> Params:
        wanted = filters(params, TASK_FILTERS)
        endpoint_filter = wanted.pop("endpoint-arn", None)
        found = []
        for task in tasks_api.list_all(self.store):
            if endpoint_filter and not endpoint_filter & {task.source_endpoint, task.target_endpoint}:
                continue
            fields = {
                "replication-task-arn": task.identifier,
                "replication-task-id": task.identifier,
                "migration-type": task.migration_type,
            }
            if keep(wanted, fields):
                shape = self._task_shape(task, arns)
                if params.get("WithoutSettings"):
                    shape.pop("ReplicationTaskSettings", None)
                found.append(shape)
        if (wanted or endpoint_filter) and not found:
            raise not_found("No Tasks found matching provided filters")
        return page(found, params, "ReplicationTasks")

    def delete_replication_task(self, params: Params, arns: Arns) -> Params:
        task = self._task(params.get("ReplicationTaskArn", ""))
        shape = self._task_shape(task, arns)
        with as_fault(bad_state):
            tasks_api.delete(self.store, task.identifier)
        return {"ReplicationTask": {**shape, "Status": "deleting"}}

    def start_replication_task(self, params: Params, arns: Arns) -> Params:
        task = self._task(params.get("ReplicationTaskArn", ""))
        text = params.get("StartReplicationTaskType", "")
        try:
            start_type = StartType(text)
        except ValueError:
            raise bad_parameter(
                f"StartReplicationTaskType {text!r} is not valid; use one of {', '.join(t.value for t in StartType)}"
            ) from None
        if task.status in tasks_api.ACTIVE_STATUSES:
            raise bad_state(f"Replication task {task.identifier} is already {task.status}")
        flags = []
        position = params.get("CdcStartPosition")
        start_time = params.get("CdcStartTime")
        with as_parameter_error():  # checked here, so a bad value is the caller's error, not a task that fails
            if position:
                parse_start_position(str(position))
                flags += ["--cdc-start-position", str(position)]
            if start_time is not None:  # epoch seconds on the wire; the flag takes whole seconds or ISO 8601
                text = str(int(start_time)) if isinstance(start_time, int | float) else str(start_time)
                parse_start_time(text)
                flags += ["--cdc-start-time", text]
        with as_fault(bad_state):
            task, _pid, _log = start_detached(self.state_dir, self.store, task.identifier, start_type, flags)
        return {"ReplicationTask": self._task_shape(task, arns)}

    def stop_replication_task(self, params: Params, arns: Arns) -> Params:
        task = self._task(params.get("ReplicationTaskArn", ""))
        with as_fault(bad_state):
            task = engine.request_stop(self.store, task.identifier)
        return {"ReplicationTask": self._task_shape(task, arns)}

    def reload_tables(self, params: Params, arns: Arns) -> Params:
        """DMS reloads tables of a running task; binlake stops the task at a batch boundary, marks the tables
        and resumes it: resume-processing loads them from a fresh snapshot, and CDC skips their changes up to
        it, so the rest of the task loses and repeats nothing."""
        task = self._task(params.get("ReplicationTaskArn", ""))
        option = params.get("ReloadOption") or "data-reload"
        if option != "data-reload":
            raise bad_parameter(f"ReloadOption {option!r} is not supported; binlake reloads data (data-reload)")
        if task.status != TaskStatus.RUNNING.value:
            raise bad_state(f"Replication task {task.identifier} is {task.status}; ReloadTables needs it running")
        wanted = [(t.get("SchemaName", ""), t.get("TableName", "")) for t in params.get("TablesToReload") or []]
        known = {(r.schema_name, r.table_name) for r in tasks_api.table_statistics(self.store, task.identifier)}
        unknown = [f"{schema}.{table}" for schema, table in wanted if (schema, table) not in known]
        if not wanted or unknown:
            raise bad_parameter(f"TablesToReload names no table of {task.identifier}: {', '.join(unknown) or 'none'}")
        with as_fault(bad_state):
            engine.request_stop(self.store, task.identifier)
        deadline = time.monotonic() + RELOAD_STOP_SECONDS
        while (
            tasks_api.refresh(self.store, tasks_api.get(self.store, task.identifier)).status
            in tasks_api.ACTIVE_STATUSES
        ):
            if time.monotonic() > deadline:
                raise bad_state(f"Replication task {task.identifier} did not stop within {RELOAD_STOP_SECONDS} s")
            time.sleep(0.1)
        tasks_api.mark_for_reload(self.store, task.identifier, wanted)
        with as_fault(bad_state):
            start_detached(self.state_dir, self.store, task.identifier, StartType.RESUME_PROCESSING, [])
        return {"ReplicationTaskArn": arns.task(task.identifier)}

    def describe_table_statistics(self, params: Params, arns: Arns) -> Params:
        task = self._task(params.get("ReplicationTaskArn", ""))
        wanted = filters(params, TABLE_FILTERS)
        rows = [tasks_api.describe_table_statistics(r) for r in tasks_api.table_statistics(self.store, task.identifier)]
        found = [
            shapes.table_statistics(r)
            for r in rows
            if keep(
                wanted, {"schema-name": r["SchemaName"], "table-name": r["TableName"], "table-state": r["TableState"]}
            )
        ]
        return {"ReplicationTaskArn": arns.task(task.identifier), **page(found, params, "TableStatistics")}

    def describe_events(self, params: Params, arns: Arns) -> Params:
        source = params.get("SourceIdentifier")
        if source is not None:
            source = self._task(source).identifier
        with as_parameter_error():
            found = events_api.describe_events(
                self.store,
                source,
                params.get("SourceType") or events_api.SOURCE_TYPE,
                params.get("StartTime"),
                params.get("EndTime"),
                params.get("Duration"),
                params.get("EventCategories"),
            )
        return page([shapes.event(e) for e in found], params, "Events")
