"""Commands of the guide's troubleshooting that have no meaning for binlake: each says, in one line, what
binlake does instead, and exits 1 (nothing was done)."""

from __future__ import annotations

from collections.abc import Callable

import typer

from binlake.errors import BinlakeError

INSTEAD = {
    "modify-replication-instance": (
        "binlake has no replication instance: a task runs as one process on this machine",
        "for more speed give the machine more cores or memory, raise FullLoadSettings.MaxFullLoadSubTasks, "
        "or run one task per source (see docs/benchmarks.md)",
    ),
    "create-replication-instance": (
        "binlake has no replication instance: a task runs as one process on this machine",
        "create endpoints and a task, then start-replication-task",
    ),
    "describe-replication-instances": (
        "binlake has no replication instance: a task runs as one process on this machine",
        "binlake describe-replication-tasks shows each task's process (Status, metrics: CPUUtilization)",
    ),
    "iam": (
        "binlake uses no IAM roles: it reads the source with the endpoint's MySQL user and writes the bucket "
        "with the local file permissions or the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY it is given",
        "binlake test-connection --endpoint-arn <endpoint> checks both ends' access",
    ),
}
PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def register(app: typer.Typer) -> None:
    for name, (message, fix) in INSTEAD.items():
        app.command(name, context_settings=PASS_THROUGH, help=f"Not in binlake: {message}.", hidden=False)(
            _explain(message, fix)
        )


def _explain(message: str, fix: str) -> Callable[[typer.Context], None]:
    def command(ctx: typer.Context) -> None:
        raise BinlakeError(message, fix=fix)

    return command
