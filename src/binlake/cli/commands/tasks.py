"""Replication task commands: create, describe, delete, start, stop, describe-table-statistics."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from binlake.cli.main import context
from binlake.cli.progress import draw_progress
from binlake.cli.render import Output, console, err_console, render
from binlake.cli.start_task import check_finished, describe, run_task
from binlake.config.endpoint import read_json_argument
from binlake.config.filters import keep, parse_filters
from binlake.dms import StartType
from binlake.engine import task as engine
from binlake.engine.detach import start_detached
from binlake.engine.lifecycle import new_task
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

TASK_FILTERS = ("replication-task-arn", "replication-task-id", "migration-type", "endpoint-arn")
REGION_HELP = "Accepted for AWS CLI compatibility; ignored."
STATS_COLUMNS = ["SchemaName", "TableName", "Inserts", "Updates", "Deletes", "Ddls", "FullLoadRows", "TableState"]
TASK_COLUMNS = [
    "ReplicationTaskIdentifier",
    "MigrationType",
    "Status",
    "StopReason",
    "SourceEndpointArn",
    "TargetEndpointArn",
    "FullLoadProgressPercent",
    "LastFailureMessage",
]


def register(app: typer.Typer) -> None:
    app.command("create-replication-task")(create_replication_task)
    app.command("describe-replication-tasks")(describe_replication_tasks)
    app.command("delete-replication-task")(delete_replication_task)
    app.command("start-replication-task")(start_replication_task)
    app.command("stop-replication-task")(stop_replication_task)
    app.command("describe-table-statistics")(describe_table_statistics)


def create_replication_task(
    ctx: typer.Context,
    replication_task_identifier: str = typer.Option(..., "--replication-task-identifier"),
    source_endpoint_arn: str = typer.Option(..., "--source-endpoint-arn"),
    target_endpoint_arn: str = typer.Option(..., "--target-endpoint-arn"),
    migration_type: str = typer.Option(..., "--migration-type", help="full-load, cdc or full-load-and-cdc"),
    table_mappings: str = typer.Option(..., "--table-mappings", help="JSON, or file://mappings.json"),
    replication_task_settings: str = typer.Option("", "--replication-task-settings", help="JSON, or file://..."),
    replication_instance_arn: str = typer.Option("", "--replication-instance-arn", help=REGION_HELP),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Create a replication task from endpoints, table mappings and task settings.

    Example: binlake create-replication-task --replication-task-identifier orders-task --source-endpoint-arn src
    --target-endpoint-arn lake --migration-type full-load --table-mappings file://mappings.json"""
    store = context(ctx).store
    task = new_task(
        store,
        replication_task_identifier,
        source_endpoint_arn,
        target_endpoint_arn,
        migration_type,
        read_json_argument(table_mappings, "--table-mappings"),
        read_json_argument(replication_task_settings, "--replication-task-settings")
        if replication_task_settings
        else "",
    )
    render({"ReplicationTask": tasks_api.describe(task, [])}, output, "Replication task created", TASK_COLUMNS)


def _flat(shape: dict[str, object]) -> dict[str, object]:
    stats = shape.get("ReplicationTaskStats") or {}
    assert isinstance(stats, dict)
    return {**shape, **stats}


def describe_replication_tasks(
    ctx: typer.Context,
    filters: list[str] = typer.Option(None, "--filters", help='e.g. "Name=replication-task-arn,Values=my-task"'),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """List replication tasks with their status and progress.

    Example: binlake describe-replication-tasks --output json | jq '.ReplicationTasks[].Status'"""
    store = context(ctx).store
    wanted = parse_filters(filters, TASK_FILTERS)
    shapes = []
    for task in tasks_api.list_all(store):
        fields = {
            "replication-task-arn": task.identifier,
            "replication-task-id": task.identifier,
            "migration-type": task.migration_type,
        }
        endpoint_filter = wanted.get("endpoint-arn")
        if endpoint_filter and not endpoint_filter & {task.source_endpoint, task.target_endpoint}:
            continue
        if keep({k: v for k, v in wanted.items() if k != "endpoint-arn"}, fields):
            shapes.append(describe(store, task))
    if output == Output.json:
        render({"ReplicationTasks": shapes}, output, "Replication tasks")
    else:
        render({"ReplicationTasks": [_flat(s) for s in shapes]}, output, "Replication tasks", TASK_COLUMNS)


def delete_replication_task(
    ctx: typer.Context,
    replication_task_arn: str = typer.Option(..., "--replication-task-arn", "--replication-task-identifier"),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Delete a replication task that is not running (its target files stay).

    Example: binlake delete-replication-task --replication-task-arn orders-task"""
    task = tasks_api.delete(context(ctx).store, replication_task_arn)
    shape = tasks_api.describe(task, [])
    shape["Status"] = "deleting"
    render({"ReplicationTask": shape}, output, "Replication task deleted", TASK_COLUMNS)


def describe_table_statistics(
    ctx: typer.Context,
    replication_task_arn: str = typer.Option(..., "--replication-task-arn", "--replication-task-identifier"),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Show per-table statistics: FullLoadRows, Inserts, Updates, Deletes, TableState.

    Example: binlake describe-table-statistics --replication-task-arn orders-task --output json"""
    store = context(ctx).store
    task = tasks_api.get(store, replication_task_arn)
    stats = [tasks_api.describe_table_statistics(r) for r in tasks_api.table_statistics(store, task.identifier)]
    render(
        {"ReplicationTaskArn": task.identifier, "TableStatistics": stats}
        if output == Output.json
        else {"TableStatistics": stats},
        output,
        f"Table statistics of {task.identifier}",
        STATS_COLUMNS,
    )


def stop_replication_task(
    ctx: typer.Context,
    replication_task_arn: str = typer.Option(..., "--replication-task-arn", "--replication-task-identifier"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until the task has stopped."),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Ask a running task to stop at its next batch boundary.

    Example: binlake stop-replication-task --replication-task-arn orders-task"""
    store = context(ctx).store
    task = engine.request_stop(store, replication_task_arn)
    deadline = time.monotonic() + 60
    while wait and time.monotonic() < deadline:
        task = tasks_api.refresh(store, tasks_api.get(store, replication_task_arn))
        if not task.active:
            break
        time.sleep(0.2)
    render({"ReplicationTask": describe(store, task)}, output, "Replication task", TASK_COLUMNS)


def start_replication_task(
    ctx: typer.Context,
    replication_task_arn: str = typer.Option(..., "--replication-task-arn", "--replication-task-identifier"),
    start_replication_task_type: StartType = typer.Option(StartType.START_REPLICATION, "--start-replication-task-type"),
    cdc_start_position: str = typer.Option(
        None, "--cdc-start-position", help="CDC from this binlog position, e.g. mysql-bin.000003:4."
    ),
    cdc_start_time: str = typer.Option(None, "--cdc-start-time", help="CDC from this time (epoch or ISO 8601)."),
    detach: bool = typer.Option(False, "--detach", help="Run in the background; log in the state directory."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Run a replication task (in the foreground, or in the background with --detach).

    Example: binlake start-replication-task --replication-task-arn orders-task
    --start-replication-task-type start-replication"""
    cli = context(ctx)
    store = cli.store
    if detach:
        extra = [("--cdc-start-position", cdc_start_position), ("--cdc-start-time", cdc_start_time)]
        flags = [item for flag, value in extra if value for item in (flag, value)]
        _start_detached(cli.state_dir, store, replication_task_arn, start_replication_task_type, output, flags)
        return
    show_progress = not quiet and output != Output.json and sys.stdout.isatty()
    task, shape = run_task(
        store,
        replication_task_arn,
        start_replication_task_type,
        cdc_start_position,
        cdc_start_time,
        follow=draw_progress if show_progress else None,
    )
    if output == Output.json:
        render({"ReplicationTask": shape}, output, "")
    elif not quiet:
        render({"ReplicationTasks": [_flat(shape)]}, output, "Replication task", TASK_COLUMNS)
        stats = [tasks_api.describe_table_statistics(r) for r in tasks_api.table_statistics(store, task.identifier)]
        render({"TableStatistics": stats}, output, "Table statistics", STATS_COLUMNS)
    check_finished(task)


def _start_detached(
    state_dir: Path, store: StateStore, identifier: str, start_type: StartType, output: Output, flags: list[str]
) -> None:
    task, pid, log_path = start_detached(state_dir, store, identifier, start_type, flags)
    if output == Output.json:
        render({"ReplicationTask": describe(store, task)}, output, "")
    else:
        console.print(f"Replication task {identifier} started in the background (process {pid}); log: {log_path}")
    err_console.file.flush()
