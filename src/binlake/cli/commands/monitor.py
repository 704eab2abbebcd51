"""Monitoring commands: describe-events, logs tail / describe-log-streams, metrics, dashboard."""

from __future__ import annotations

import sys
from typing import Any

import typer

from binlake.cli.main import context
from binlake.cli.render import Output, console, err_console, print_json, render
from binlake.errors import BinlakeError
from binlake.monitor import events as events_api
from binlake.monitor import logs as logs_api
from binlake.monitor.periods import parse_duration, parse_since
from binlake.monitor.report import report
from binlake.monitor.server import DEFAULT_HOST, DEFAULT_PORT, MonitorServer
from binlake.monitor.targets import hint, load_targets

REGION_HELP = "Accepted for AWS CLI compatibility; ignored."
TARGET_HELP = "A target such as 'CDCLatencySource<30' (repeatable); defaults are the guide's table."
EVENT_COLUMNS = ["Date", "SourceIdentifier", "EventCategories", "Message"]
METRIC_COLUMNS = ["MetricName", "Latest", "Minimum", "Average", "Maximum", "Unit", "Target", "Result"]

logs_app = typer.Typer(help="Task logs, as aws logs reads CloudWatch Logs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("describe-events")(describe_events)
    app.add_typer(logs_app, name="logs")
    app.command("metrics")(metrics)
    app.command("dashboard")(dashboard)


def describe_events(
    ctx: typer.Context,
    source_identifier: str = typer.Option(None, "--source-identifier", help="A replication task; all when omitted."),
    source_type: str = typer.Option(events_api.SOURCE_TYPE, "--source-type"),
    duration: float = typer.Option(60, "--duration", help="Minutes before --end-time (or now) to list."),
    start_time: str = typer.Option(None, "--start-time", help="ISO 8601 time; overrides --duration."),
    end_time: str = typer.Option(None, "--end-time", help="ISO 8601 time [default: now]."),
    event_categories: list[str] = typer.Option(None, "--event-categories", help="e.g. failure, 'state change'."),
    max_records: int = typer.Option(None, "--max-records", help="Only the newest N events."),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """List a task's events: state changes, failures, table errors, DDL, recoveries.

    Example: binlake describe-events --source-identifier orders-task --source-type replication-task --duration 60"""
    found = events_api.describe_events(
        context(ctx).store,
        source_identifier,
        source_type,
        parse_since(start_time, "--start-time") if start_time else None,
        parse_since(end_time, "--end-time") if end_time else None,
        duration,
        event_categories,
        max_records,
    )
    if output == Output.table:
        found = [{**event, "EventCategories": ", ".join(event["EventCategories"])} for event in found]
    render({"Events": found}, output, "Events", EVENT_COLUMNS)


@logs_app.command("tail")
def logs_tail(
    ctx: typer.Context,
    group: str = typer.Argument(..., help="The task, or its log group /aws/dms/tasks/<task>."),
    follow: bool = typer.Option(False, "--follow", help="Keep printing new lines until Ctrl-C."),
    since: str = typer.Option("10m", "--since", help="10m, 1h, 2d, or an ISO 8601 time (as aws logs tail)."),
    level: str = typer.Option(None, "--level", help="Only records at this level or above, e.g. ERROR."),
    filter_pattern: str = typer.Option(
        None, "--filter-pattern", help='Terms that must appear; "a phrase", ?any, -not.'
    ),
    log_stream_names: list[str] = typer.Option(None, "--log-stream-names", help="task.log (default) or process.out."),
    region: str = typer.Option("", "--region", help=REGION_HELP),
) -> None:
    """Print a task's log, like aws logs tail.

    Example: binlake logs tail /aws/dms/tasks/orders-task --follow --level WARNING"""
    _task, directory = logs_api.log_dir(context(ctx).store, group)
    keep = logs_api.TailFilter(
        since=parse_since(since),
        level=logs_api.level_number(level) if level else 0,
        pattern=logs_api.FilterPattern(filter_pattern) if filter_pattern else None,
    )
    streams = log_stream_names or [logs_api.TASK_LOG]
    for name in streams:
        if name not in (logs_api.TASK_LOG, logs_api.PROCESS_OUT):
            raise BinlakeError(f"--log-stream-names {name} is not a task log", fix="use task.log or process.out")
    if not follow:
        for name in streams:
            for line in logs_api.tail(directory / name, keep):
                sys.stdout.write(line + "\n")
        return
    try:
        for line in logs_api.follow(directory / streams[0], keep):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass


@logs_app.command("describe-log-streams")
def describe_log_streams(
    ctx: typer.Context,
    log_group_name: str = typer.Option(..., "--log-group-name", help="/aws/dms/tasks/<task>, or the task."),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """List a task's log files (task.log, and process.out of a detached task).

    Example: binlake logs describe-log-streams --log-group-name /aws/dms/tasks/orders-task"""
    streams = logs_api.describe_log_streams(context(ctx).store, log_group_name)
    render({"logStreams": streams}, output, "Log streams", ["logStreamName", "storedBytes", "path"])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}".rstrip("0").rstrip(".")


def metrics(
    ctx: typer.Context,
    task: str = typer.Argument(None, help="The replication task."),
    replication_task_arn: str = typer.Option(None, "--replication-task-arn", help="The task, as a flag."),
    window: str = typer.Option("15m", "--window", help="How far back: 15m, 1h, 1d."),
    target: list[str] = typer.Option(None, "--target", help=TARGET_HELP),
    serve: bool = typer.Option(False, "--serve", help="Serve Prometheus /metrics (and the dashboard) instead."),
    host: str = typer.Option(DEFAULT_HOST, "--host", help="With --serve: the address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="With --serve: the port (0 picks a free one)."),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Show a task's metrics (DMS's names) over a window, checked against the guide's targets.

    Example: binlake metrics orders-task --window 1h; binlake metrics --serve --port 9100 (Prometheus)"""
    cli = context(ctx)
    targets = load_targets(cli.state_dir, target)
    if serve:
        _serve(MonitorServer(cli.store, targets, host, port), "Prometheus metrics: {url}metrics")
        return
    name = task or replication_task_arn
    if not name:
        raise BinlakeError("which task?", fix="binlake metrics TASK (see binlake describe-replication-tasks)")
    document = report(cli.store, name, parse_since(window, "--window"), targets)
    if output == Output.json:
        print_json(document)
        return
    checks = {c["MetricName"]: c for c in document["Checks"]}
    rows = []
    for metric in document["Metrics"]:
        row = {key: _cell(metric[key]) for key in ("Latest", "Minimum", "Average", "Maximum")}
        found = checks.get(metric["MetricName"])
        result = (
            ""
            if not found
            else "not judged"
            if found["TargetMet"] is None
            else "ok"
            if found["TargetMet"]
            else "MISSED"
        )
        rows.append({**metric, **row, "Target": found["Target"] if found else "", "Result": result})
    title = (
        f"Metrics of {document['ReplicationTaskIdentifier']} ({document['Status']}), "
        f"last {parse_duration(window, '--window') / 60:g} minutes, {document['Samples']} samples"
    )
    render({"Metrics": rows}, output, title, METRIC_COLUMNS)
    for metric, reason in document["NotMeasured"].items():
        console.print(f"{metric}: not measured ({reason})", style="dim")
    for found in document["Checks"]:
        if found["TargetMet"] is False:
            err_console.print(
                f"Warning: {found['MetricName']} is {_cell(found['Observed'])} ({found['Basis']}), "
                f"target {found['Target']}. {hint(found['MetricName'], name)}",
                markup=False,
            )


def dashboard(
    ctx: typer.Context,
    host: str = typer.Option(DEFAULT_HOST, "--host", help="The address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="The port (0 picks a free one)."),
    target: list[str] = typer.Option(None, "--target", help=TARGET_HELP),
) -> None:
    """Serve a live dashboard of tasks, table statistics and metrics (and Prometheus /metrics).

    Example: binlake dashboard --port 8080, then open http://127.0.0.1:8080/"""
    cli = context(ctx)
    _serve(MonitorServer(cli.store, load_targets(cli.state_dir, target), host, port), "Dashboard: {url}")


def _serve(server: MonitorServer, banner: str) -> None:
    console.print(banner.format(url=server.url) + " (Ctrl-C to stop)", markup=False)
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
