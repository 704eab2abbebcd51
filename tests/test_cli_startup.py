"""binlake's start-up imports only what the command line needs (cli/entry.py), and says the same as before.

`binlake --version` answers without the CLI framework, pyarrow or DuckDB; a command imports its own module only;
and every command's help and usage errors are those of the fully registered CLI (the lazy table in cli/entry.py
cannot drift from what the command modules register).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
import typer.main

from binlake import __version__, native
from binlake.cli.entry import COMMAND_MODULES, command_word, version_requested
from binlake.cli.main import _app_for, _register, app
from tests.conftest import Binlake, create_task, mappings

MODULES = ("endpoints", "tasks", "lake", "monitor", "sandbox", "not_here", "api")


def imported_modules(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime -m binlake *args``; its result and the modules it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "binlake", *args], capture_output=True, text=True, cwd=cwd
    )
    modules = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return done, modules


def test_version_imports_no_cli_framework_pyarrow_or_duckdb(tmp_path: Path) -> None:
    done, modules = imported_modules("--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"binlake {__version__} ({native.describe()})\n"
    assert not {"typer", "click", "rich", "pyarrow", "duckdb", "MySQLdb"} & modules


def test_version_after_state_dir_and_before_a_command_still_answers(tmp_path: Path) -> None:
    done, modules = imported_modules(
        "--state-dir", str(tmp_path / "s"), "--version", "describe-endpoints", cwd=tmp_path
    )
    assert (done.returncode, done.stdout) == (0, f"binlake {__version__} ({native.describe()})\n")
    assert "typer" not in modules


def test_a_task_command_imports_neither_duckdb_nor_the_api_server_nor_the_dashboard(tmp_path: Path) -> None:
    done, modules = imported_modules(
        "--state-dir", str(tmp_path / "s"), "describe-replication-tasks", "--output", "json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ReplicationTasks": []}
    assert not {"duckdb", "binlake.api.server", "binlake.monitor.server", "binlake.catalog.crawler"} & modules


@pytest.mark.parametrize(
    ("argv", "word", "version"),
    [
        (["start-replication-task", "--replication-task-arn", "t"], "start-replication-task", False),
        (["--state-dir", "x", "crawl"], "crawl", False),
        (["--state-dir=x", "logs", "tail"], "logs", False),
        (["--version"], None, True),
        (["--state-dir", "--version", "crawl"], "crawl", False),  # --version is the state dir's value here
        (["--help", "--version"], None, False),
        ([], None, False),
        (["crawl", "--version"], "crawl", False),
    ],
)
def test_the_command_word_is_found_as_click_parses_the_root_options(
    argv: list[str], word: str | None, version: bool
) -> None:
    assert command_word(argv) == word
    assert version_requested(argv) == version


def _registered_names(module: str) -> set[str]:
    single = typer.Typer()
    importlib.import_module(f"binlake.cli.commands.{module}").register(single)
    names = {info.name for info in single.registered_commands}
    return names | {info.name for info in single.registered_groups}


def test_the_lazy_table_names_every_command_of_every_module() -> None:
    registered = {name: module for module in MODULES for name in _registered_names(module)}
    assert registered == COMMAND_MODULES
    _register()
    assert set(typer.main.get_command(app).commands) == set(COMMAND_MODULES)  # type: ignore[attr-defined]


def _leaves(command: object, path: list[str]) -> list[tuple[list[str], object]]:
    subs = getattr(command, "commands", None)
    if subs is None:
        return [(path, command)]
    return [leaf for name, sub in subs.items() for leaf in _leaves(sub, [*path, name])]


def _help(root: typer.Typer, path: list[str]) -> str:
    from binlake.cli.options import adapt

    command = typer.main.get_command(root)
    adapt(command)
    ctx = command.make_context("binlake", [], resilient_parsing=True)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
        ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
    return ctx.get_help()


def test_every_command_reads_the_same_help_when_its_module_alone_is_loaded() -> None:
    _register()
    leaves = _leaves(typer.main.get_command(app), [])
    assert len(leaves) > 25
    for path, _command in leaves:
        assert _help(_app_for(path[0]), path) == _help(app, path), path


def test_a_task_process_exits_without_teardown_with_its_output_files_and_state_complete(
    admin, binlake: Binlake, bucket: Path, database: str, endpoints
) -> None:
    """start-replication-task ends with os._exit (cli/entry.py): what it printed, the files and the task's
    state are all there, as the source server has the rows; a failed task still says why and exits 1."""
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY, name VARCHAR(20))")
    cur.executemany(f"INSERT INTO `{database}`.t VALUES (%s, %s)", [(i, f"n{i}") for i in range(2000)])
    admin.commit()
    create_task(binlake, "load", mappings(database, "t"))
    done = binlake.run_process("start-replication-task", "--replication-task-arn", "load", "--output", "json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["ReplicationTask"]["Status"] == "stopped"
    cur.execute(f"SELECT id, name FROM `{database}`.t ORDER BY id")
    assert pq.read_table(bucket / "hub" / database / "t" / "LOAD00000001.parquet").to_pylist() == [
        {"id": i, "name": n} for i, n in cur.fetchall()
    ]
    stats = binlake.ok("describe-table-statistics", "--replication-task-arn", "load", "--output", "json").json()
    assert [(s["FullLoadRows"], s["TableState"]) for s in stats["TableStatistics"]] == [(2000, "Table completed")]

    cur.execute(f"DROP TABLE `{database}`.t")
    failed = binlake.run_process(
        "start-replication-task", "--replication-task-arn", "load", "--start-replication-task-type", "reload-target"
    )
    assert failed.exit_code == 1
    assert failed.stderr.startswith("Error: ") and "Traceback" not in failed.stderr


def test_the_plain_start_takes_exactly_the_typer_commands_options() -> None:
    """cli/start_task.py parses start-replication-task itself; every option it takes is the typer command's, and
    the typer command's others (--detach, --help) send the command line to typer."""
    from binlake.cli.options import adapt
    from binlake.cli.start_task import FLAG_OPTIONS, VALUE_OPTIONS

    root = typer.main.get_command(_app_for("start-replication-task"))
    adapt(root)
    command = root.commands["start-replication-task"]  # type: ignore[attr-defined]
    typer_options = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    assert set(VALUE_OPTIONS) | set(FLAG_OPTIONS) == typer_options - {"--detach"}
    flags = {opt for param in command.params if getattr(param, "is_flag", False) for opt in param.opts}
    assert flags == set(FLAG_OPTIONS) | {"--detach"}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["start-replication-task", "--replication-task-arn", "t", "--quiet"], {"identifier": "t", "quiet": True}),
        (
            ["--state-dir=s", "start-replication-task", "--replication-task-identifier=t", "--output", "json"],
            {"state_dir": "s", "identifier": "t", "output": "json"},
        ),
        (
            [
                "--state-dir", "s", "start-replication-task", "--replication-task-arn", "t", "--quiet",
                "--start-replication-task-type", "resume-processing", "--region", "us-east-1",
                "--cdc-start-position", "mysql-bin.000002:4", "--cdc-start-time", "1700000000",
            ],
            {
                "state_dir": "s", "identifier": "t", "quiet": True, "start_type": "resume-processing",
                "cdc_start_position": "mysql-bin.000002:4", "cdc_start_time": "1700000000",
            },
        ),
        (["start-replication-task", "--replication-task-arn", "t"], {"identifier": "t", "output": "json"}),
        (["start-replication-task", "--replication-task-arn", "a", "--replication-task-arn", "b", "--quiet"],
         {"identifier": "b", "quiet": True}),
        # Left to typer: its help, its errors, --detach, tables and progress, anything unusual.
        (["start-replication-task", "--replication-task-arn", "t", "--help"], None),
        (["start-replication-task", "--replication-task-arn", "t", "--quiet", "--detach"], None),
        (["start-replication-task", "--replication-task-arn", "t", "--output", "table"], None),
        (["start-replication-task", "--replication-task-arn", "t", "--output", "yaml"], None),
        (["start-replication-task", "--replication-task-arn", "t", "--start-replication-task-type", "later"], None),
        (["start-replication-task", "--replication-task-arn", "t", "--quite"], None),
        (["start-replication-task", "--replication-task-arn", "t", "extra"], None),
        (["start-replication-task", "--replication-task-arn", "-t"], None),
        (["start-replication-task", "--replication-task-arn"], None),
        (["start-replication-task", "--quiet"], None),
        (["start-replication-task", "--replication-task-arn", "t", "--quiet=yes"], None),
        (["--verbose", "start-replication-task", "--replication-task-arn", "t"], None),
        (["describe-replication-tasks"], None),
    ],
)  # fmt: skip
def test_a_start_that_prints_json_or_nothing_is_parsed_without_typer(
    argv: list[str], expected: dict[str, object] | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from binlake.cli.start_task import StartCommand, plain_command

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BINLAKE_STATE_DIR", raising=False)
    monkeypatch.delenv("BINLAKE_DEFAULT_OUTPUT", raising=False)
    command = plain_command(argv)  # off a terminal: --output defaults to json, as the typer command's does
    if expected is None:
        assert command is None
        return
    fields = {"output": "json", **expected, "state_dir": (tmp_path / str(expected.get("state_dir", ".binlake")))}
    assert command == StartCommand(**fields)  # type: ignore[arg-type]


def test_the_plain_start_reads_the_state_dir_and_the_output_default_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from binlake.cli.start_task import plain_command

    monkeypatch.setenv("BINLAKE_STATE_DIR", str(tmp_path / "env-state"))
    monkeypatch.setenv("BINLAKE_DEFAULT_OUTPUT", "table")
    command = plain_command(["start-replication-task", "--replication-task-arn", "t", "--quiet"])
    assert command is not None and (command.state_dir, command.output) == (tmp_path / "env-state", "table")
    assert plain_command(["start-replication-task", "--replication-task-arn", "t"]) is None  # tables: typer's


def test_a_full_load_task_process_starts_without_the_cli_framework_or_the_binlog_reader(
    admin, binlake: Binlake, bucket: Path, database: str, endpoints, tmp_path: Path
) -> None:
    """The task process of a full-load task imports neither typer, pydantic nor rich (cli/start_task.py), nor
    PyMySQL and the binlog reader (engine/task.py); it prints what the typer command prints."""
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY, name VARCHAR(20))")
    cur.executemany(f"INSERT INTO `{database}`.t VALUES (%s, %s)", [(i, f"n{i}") for i in range(500)])
    admin.commit()
    create_task(binlake, "load", mappings(database, "t"))
    create_task(binlake, "again", mappings(database, "t"))
    args = ["--state-dir", str(binlake.state_dir), "start-replication-task", "--replication-task-arn", "load"]
    done, modules = imported_modules(*args, "--output", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not {"typer", "click", "pydantic", "rich", "pymysql", "binlake.capture.binlog.reader"} & modules
    plain = json.loads(done.stdout)["ReplicationTask"]
    assert plain["Status"] == "stopped" and plain["ReplicationTaskStats"]["TablesLoaded"] == 1
    through_typer = binlake.ok("start-replication-task", "--replication-task-arn", "again", "--output", "json")
    assert "typer" in sys.modules
    varying = ("ReplicationTaskIdentifier", "ReplicationTaskArn", "ReplicationTaskCreationDate",
               "ReplicationTaskStartDate", "ReplicationTaskStats")  # fmt: skip
    typer_shape = json.loads(through_typer.stdout)["ReplicationTask"]
    assert {k: v for k, v in plain.items() if k not in varying} == {
        k: v for k, v in typer_shape.items() if k not in varying
    }
    assert set(plain["ReplicationTaskStats"]) == set(typer_shape["ReplicationTaskStats"])

    quiet, _ = imported_modules(*args, "--quiet", "--output", "table", cwd=tmp_path)
    assert (quiet.returncode, quiet.stdout) == (0, "")
    missing = binlake.run_process("start-replication-task", "--replication-task-arn", "nothing", "--quiet")
    assert (missing.exit_code, missing.stdout) == (1, "")
    assert missing.stderr == binlake("start-replication-task", "--replication-task-arn", "nothing", "--quiet").stderr
    assert missing.stderr.startswith("Error: replication task nothing ") and missing.stderr.count("\n") == 1
