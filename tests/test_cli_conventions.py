"""The AWS CLI's conventions the guide's commands rely on: JSON by default off a terminal (so `| jq` works),
--region everywhere, LF line ends, and tables that tell NULL from '' and 1 row from 2 rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pytest
import typer

from binlake.cli.commands.not_here import INSTEAD
from binlake.cli.main import _register, app
from tests.conftest import Binlake
from tests.helpers import run_on_terminal


def _leaf_commands() -> list[list[str]]:
    _register()
    paths: list[list[str]] = []

    def walk(command, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs is None:
            paths.append(path)
            return
        for name, sub in subs.items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return [path for path in paths if path[0] not in INSTEAD]  # those take any arguments


def test_describe_output_is_json_off_a_terminal_and_a_table_on_one(
    binlake: Binlake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BINLAKE_DEFAULT_OUTPUT")
    piped = binlake.ok("describe-replication-tasks")
    assert piped.json() == {"ReplicationTasks": []}  # what `| jq '.ReplicationTasks'` reads
    assert binlake.ok("describe-endpoints").json() == {"Endpoints": []}
    terminal = run_on_terminal(
        [sys.executable, "-m", "binlake", "--state-dir", str(binlake.state_dir), "describe-replication-tasks"]
    )
    assert terminal.strip() == "Replication tasks: none"
    monkeypatch.setenv("BINLAKE_DEFAULT_OUTPUT", "table")  # the user's own default, as `aws configure`
    assert binlake.ok("describe-replication-tasks").stdout.strip() == "Replication tasks: none"
    assert binlake.ok("describe-replication-tasks", "--output", "json").json() == {"ReplicationTasks": []}


@pytest.mark.parametrize("command", _leaf_commands(), ids=" ".join)
def test_every_command_accepts_region(binlake: Binlake, command: list[str]) -> None:
    result = binlake(*command, "--region", "us-east-1", "--help")
    assert result.exit_code == 0, result.stderr
    assert "--region" in result.stdout


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.duckdb"
    duckdb.connect(str(path)).close()
    return path


def test_query_csv_ends_lines_with_lf(binlake: Binlake, catalog: Path) -> None:
    result = binlake.ok("query", "SELECT 1 AS n, 'a' AS s UNION ALL SELECT 2, NULL", "--catalog", str(catalog),
                        "--output", "csv")  # fmt: skip
    assert result.stdout == "n,s\n1,a\n2,\n"


def test_query_table_tells_null_from_empty_and_counts_rows_in_words(binlake: Binlake, catalog: Path) -> None:
    one = binlake.ok("query", "SELECT NULL AS missing, '' AS empty", "--catalog", str(catalog), "--output", "table")
    lines = one.stdout.splitlines()
    assert lines[0] == "1 row"
    assert [cell.strip() for cell in lines[4].strip("│").split("│")] == ["NULL", ""]
    two = binlake.ok("query", "SELECT 1 AS n UNION ALL SELECT 2", "--catalog", str(catalog), "--output", "table")
    assert two.stdout.splitlines()[0] == "2 rows"
    as_json = binlake.ok("query", "SELECT NULL AS missing, '' AS empty", "--catalog", str(catalog), "--output", "json")
    assert json.loads(as_json.stdout) == [{"missing": None, "empty": ""}]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["modify-replication-instance", "--replication-instance-arn", "i", "--replication-instance-class",
          "dms.c5.xlarge", "--apply-immediately"], "binlake has no replication instance"),
        (["iam", "get-role", "--role-name", "dms-vpc-role"], "binlake uses no IAM roles"),
        (["describe-replication-instances", "--region", "us-east-1"], "binlake has no replication instance"),
    ],
)  # fmt: skip
def test_aws_only_commands_say_what_binlake_does_instead(binlake: Binlake, argv: list[str], says: str) -> None:
    result = binlake(*argv)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {says}") and "(fix: " in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
