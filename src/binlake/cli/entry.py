"""The ``binlake`` entry point: start-up that imports only what the command line needs.

Importing every command module (with pyarrow, DuckDB, the API server, the dashboard) before parsing took about a
second of CPU and 135 MB for any command, ``--version`` included, and in every detached or benchmarked task
process. Here ``--version`` answers without the CLI framework, and a command imports only its own module (see
``COMMAND_MODULES``); ``--help``, a command word not in the table, or no command at all registers everything as
before, so help and usage errors read as they always did.
"""

from __future__ import annotations

import contextlib
import sys

# Command word → its module in binlake.cli.commands (tests/test_cli_startup.py holds this to what the modules
# register). A command missing here still works: it only costs the full start-up.
COMMAND_MODULES = {
    "create-endpoint": "endpoints",
    "describe-endpoints": "endpoints",
    "delete-endpoint": "endpoints",
    "test-connection": "endpoints",
    "create-replication-task": "tasks",
    "describe-replication-tasks": "tasks",
    "delete-replication-task": "tasks",
    "start-replication-task": "tasks",
    "stop-replication-task": "tasks",
    "describe-table-statistics": "tasks",
    "crawl": "lake",
    "query": "lake",
    "inspect": "lake",
    "verify": "lake",
    "describe-events": "monitor",
    "logs": "monitor",
    "metrics": "monitor",
    "dashboard": "monitor",
    "sandbox": "sandbox",
    "sample": "sandbox",
    "modify-replication-instance": "not_here",
    "create-replication-instance": "not_here",
    "describe-replication-instances": "not_here",
    "iam": "not_here",
    "api": "api",
}
# The root options (cli/main.py's callback) that take a value.
ROOT_OPTIONS_WITH_VALUE = ("--state-dir",)
DEFAULT_STATE_DIR = ".binlake"
STATE_DIR_ENV = "BINLAKE_STATE_DIR"


def command_word(args: list[str]) -> str | None:
    """The command of a binlake command line (the first argument after the root options), or None when a root
    flag (``--version``, ``--help``, an unknown one) comes first or there is no command."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ROOT_OPTIONS_WITH_VALUE:
            i += 2
        elif any(arg.startswith(f"{option}=") for option in ROOT_OPTIONS_WITH_VALUE):
            i += 1
        elif arg.startswith("-"):
            return None
        else:
            return arg
    return None


def version_requested(args: list[str]) -> bool:
    """True when the root option ``--version`` comes before any command (it is eager: it wins there)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--version":
            return True
        if arg in ROOT_OPTIONS_WITH_VALUE:
            i += 2
        elif any(arg.startswith(f"{option}=") for option in ROOT_OPTIONS_WITH_VALUE):
            i += 1
        else:
            return False
    return False


def version_line() -> str:
    """What ``binlake --version`` prints: the version and which path (compiled, python) each part uses."""
    from binlake import __version__, native

    return f"binlake {__version__} ({native.describe()})"


def run() -> None:
    args = sys.argv[1:]
    code = main(args)
    if command_word(args) in EXIT_WITHOUT_TEARDOWN:
        exit_now(code)
    sys.exit(code)


def main(args: list[str]) -> int:
    """Run the binlake command line ``args``; its exit code."""
    if version_requested(args):
        print(version_line())
        return 0
    code = _run_plain_start(args)
    if code is None:
        from binlake.cli.main import main as typer_main

        code = typer_main(args)
    return code


def _run_plain_start(args: list[str]) -> int | None:
    """A start-replication-task that prints JSON or nothing runs without typer and rich (cli/start_task.py);
    None for any other command line."""
    if command_word(args) != "start-replication-task":
        return None
    from binlake.cli import start_task

    command = start_task.plain_command(args)
    return None if command is None else start_task.run_plain(command)


# Commands that end with nothing left to do: the task's files are durable and its state committed when
# start-replication-task returns (exceptions, a bug's traceback, still take the ordinary way out).
EXIT_WITHOUT_TEARDOWN = ("start-replication-task",)


def exit_now(code: int) -> None:
    """Flush the logs and the output, then end the process without the interpreter's teardown: freeing every
    module, pyarrow's memory pool and the client library took 0.2 s of CPU after a full load of 1M rows,
    about 5 % of the C client's time for the whole table."""
    import logging
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: nothing more can reach it
            stream.flush()
    os._exit(code)
