"""Every command of the CLI (the typer app, walked) is in the README and has its own --help text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from binlake.cli import main as cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def command_tree() -> dict[tuple[str, ...], Any]:
    """Every leaf command of the app by its path (``("logs", "tail")``)."""
    cli._register()
    found: dict[tuple[str, ...], Any] = {}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        subcommands = getattr(command, "commands", None)  # a group (typer may ship its own copy of click)
        if subcommands is not None:
            for name, sub in subcommands.items():
                walk(sub, (*path, name))
        else:
            found[path] = command

    walk(typer.main.get_command(cli.app), ())
    return found


def commands() -> list[tuple[str, ...]]:
    return sorted(command_tree())


def test_the_walk_finds_the_commands() -> None:
    found = commands()
    assert ("start-replication-task",) in found and ("logs", "tail") in found and ("sandbox", "start") in found
    assert len(found) >= 25


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_command_is_documented_in_the_readme(path: tuple[str, ...]) -> None:
    assert re.search(rf"binlake {re.escape(' '.join(path))}(?![\w-])", README), f"binlake {' '.join(path)}"


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_command_has_help_text(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    command = command_tree()[path]
    if not command.get_help_option_names(command.make_context(path[-1], [], resilient_parsing=True)):
        # The guide's AWS-only commands take any arguments (--help too) and answer with what binlake does instead;
        # their help is the line `binlake --help` lists.
        assert (command.help or "").startswith("Not in binlake: "), path
        assert cli.main(["--help"]) == 0
        assert re.search(rf"^ +{path[-1]} +Not in", capsys.readouterr().out, re.MULTILINE), path
        return
    assert cli.main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert f"Usage: binlake {' '.join(path)}" in out
    described = out.split("\n\n", 2)[1].strip() if out.count("\n\n") >= 2 else ""
    assert described and not described.startswith("Options"), out
