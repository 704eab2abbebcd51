"""``start-replication-task`` in this process: the run shared by the typer command and the plain command line.

Every task process prints at most its end state as JSON, or one error line: a detached task, a task the API
server starts, a foreground task with ``--quiet`` or ``--output json``. Such a command line is parsed here
(``plain_command``) and run without the CLI framework: typer builds a pydantic validator for each option and
rich draws progress and tables, 0.3 s of start-up that a 1M-row full load waited for before its first row
(8 % of the C client's time for the whole table). Anything else (``--help``, ``--detach``, a progress display,
tables, an option this parser does not take) goes through typer (cli/main.py), whose messages stay the only
ones; tests/test_cli_startup.py holds the options here to the typer command's.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from binlake.cli.entry import DEFAULT_STATE_DIR, ROOT_OPTIONS_WITH_VALUE, STATE_DIR_ENV
from binlake.cli.options import default_output
from binlake.cli.output import Output, print_json
from binlake.dms import StartType
from binlake.engine.task import TaskRunner
from binlake.errors import BinlakeError
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

COMMAND = "start-replication-task"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
REFRESH_SECONDS = 0.5  # how often the task thread is joined (and a progress display redrawn)
# The options plain_command takes: option → field of StartCommand. ``--region`` is accepted and ignored.
VALUE_OPTIONS = {
    "--replication-task-arn": "identifier",
    "--replication-task-identifier": "identifier",
    "--start-replication-task-type": "start_type",
    "--cdc-start-position": "cdc_start_position",
    "--cdc-start-time": "cdc_start_time",
    "--output": "output",
    "--region": "",
}
FLAG_OPTIONS = {"--quiet": "quiet"}
# Progress display while the task runs: called with the store, the runner and the task's thread.
Follow = Callable[[StateStore, TaskRunner, threading.Thread], None]


@dataclass
class StartCommand:
    state_dir: Path
    identifier: str = ""
    start_type: str = StartType.START_REPLICATION.value
    cdc_start_position: str | None = None
    cdc_start_time: str | None = None
    output: str = ""
    quiet: bool = False


def plain_command(args: list[str]) -> StartCommand | None:
    """``args`` (a whole binlake command line) as a start-replication-task that prints JSON or nothing, or None
    when typer has to read it: another command, help, --detach, tables or progress, anything unusual."""
    state_dir = os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR
    i = 0
    while i < len(args) and args[i] != COMMAND:
        name, value, i = _option(args, i)
        if name not in ROOT_OPTIONS_WITH_VALUE or value is None:
            return None
        state_dir = value
    command = StartCommand(Path(state_dir).absolute())
    i += 1
    while i < len(args):
        name, value, i = _option(args, i)
        if name in FLAG_OPTIONS and value is None:
            setattr(command, FLAG_OPTIONS[name], True)
        elif name in VALUE_OPTIONS and value is not None:
            if VALUE_OPTIONS[name]:
                setattr(command, VALUE_OPTIONS[name], value)
        else:
            return None
    if not command.identifier or command.start_type not in {t.value for t in StartType}:
        return None
    if command.output not in ("", *(o.value for o in Output)):
        return None
    if not command.output:
        command.output = default_output(Output).value
    if command.output == Output.table and not command.quiet:
        return None  # tables, and on a terminal progress bars: rich's
    return command


def _option(args: list[str], i: int) -> tuple[str, str | None, int]:
    """The option at ``args[i]``: its name, its value (None for a flag, or when none can be told apart) and the
    index after it. A value that looks like an option is left to typer."""
    arg = args[i]
    if not arg.startswith("--") or arg == "--":
        return "", None, i + 1
    name, equals, value = arg.partition("=")
    if equals:
        return name, value, i + 1
    if name in FLAG_OPTIONS:
        return name, None, i + 1
    if i + 1 < len(args) and not args[i + 1].startswith("-"):
        return name, args[i + 1], i + 2
    return "", None, i + 1


def run_plain(command: StartCommand) -> int:
    """Run the task as the typer command would with the same options; its exit code."""
    try:
        task, shape = run_task(
            StateStore(command.state_dir),
            command.identifier,
            StartType(command.start_type),
            command.cdc_start_position,
            command.cdc_start_time,
        )
        if command.output == Output.json:
            print_json({"ReplicationTask": shape})
        check_finished(task)
    except BinlakeError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def run_task(
    store: StateStore,
    identifier: str,
    start_type: StartType,
    cdc_start_position: str | None = None,
    cdc_start_time: str | None = None,
    follow: Follow | None = None,
) -> tuple[tasks_api.ReplicationTask, dict[str, object]]:
    """Run the task in this process until it ends; the task and its DescribeReplicationTasks shape."""
    runner = TaskRunner(store, identifier)
    task = follow_task(store, runner, start_type, cdc_start_position, cdc_start_time, follow)
    return task, describe(store, task)


def check_finished(task: tasks_api.ReplicationTask) -> None:
    if task.status == "failed":
        raise BinlakeError(f"replication task {task.identifier} failed: {task.last_failure_message}")


def describe(store: StateStore, task: tasks_api.ReplicationTask) -> dict[str, object]:
    task = tasks_api.refresh(store, task)
    return tasks_api.describe(task, tasks_api.table_statistics(store, task.identifier))


def follow_task(
    store: StateStore,
    runner: TaskRunner,
    start_type: StartType,
    cdc_start_position: str | None = None,
    cdc_start_time: str | None = None,
    follow: Follow | None = None,
) -> tasks_api.ReplicationTask:
    """Run the task in a worker thread until it ends, ``follow`` showing its progress meanwhile.

    SIGINT (Ctrl-C) and SIGTERM stop the task as stop-replication-task does: at the next batch boundary,
    ``stopped`` with STOPPED_BY_USER, resumable. The worker and every thread it starts block both signals,
    so a signal never interrupts a read from the source or a write to the target half-way.
    """
    outcome: dict[str, object] = {}

    def work() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            outcome["task"] = runner.run(start_type, cdc_start_position, cdc_start_time)
        except BaseException as exc:
            outcome["error"] = exc

    def stop(signum: int, _frame: object) -> None:
        runner.request_stop(signal.Signals(signum).name)

    in_main = threading.current_thread() is threading.main_thread()  # only the main thread may set handlers
    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS} if in_main else {}
    try:
        worker = threading.Thread(target=work, name="task", daemon=True)
        worker.start()
        if follow is not None:
            follow(store, runner, worker)
        while worker.is_alive():
            worker.join(REFRESH_SECONDS)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["task"]  # type: ignore[return-value]
