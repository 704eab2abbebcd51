"""The ``binlake`` command: AWS CLI verbs and flags over the binlake library.

Errors a user can fix print as one line and exit 1; usage errors exit 2; anything else is a bug and
shows its traceback.
"""

from __future__ import annotations

import copy
import importlib
import os
import sys
from pathlib import Path

import typer

try:  # typer 0.2x ships its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer depends on click
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

from binlake.cli.entry import COMMAND_MODULES, DEFAULT_STATE_DIR, STATE_DIR_ENV, command_word, version_line
from binlake.cli.options import adapt
from binlake.cli.render import err_console
from binlake.errors import BinlakeError
from binlake.state.store import StateStore

app = typer.Typer(
    name="binlake",
    help="Change data capture from MySQL/MariaDB into a DMS-layout data lake.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Context:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._store: StateStore | None = None

    @property
    def store(self) -> StateStore:
        if self._store is None:
            self._store = StateStore(self.state_dir)
        return self._store

    @property
    def sandbox_dir(self) -> Path:
        return self.state_dir / "sandbox"


@app.callback(invoke_without_command=True)
def main_options(
    ctx: typer.Context,
    state_dir: Path = typer.Option(
        None,
        "--state-dir",
        envvar=STATE_DIR_ENV,
        help=f"Where binlake keeps its state [default: ./{DEFAULT_STATE_DIR}].",
    ),
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        typer.echo(version_line())
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    ctx.obj = Context((state_dir or Path(DEFAULT_STATE_DIR)).absolute())


def context(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


_registered = False
# The command modules in the order of the full CLI's help.
MODULES = ("endpoints", "tasks", "lake", "monitor", "sandbox", "not_here", "api")
_single: dict[str, typer.Typer] = {}


def _register() -> None:
    global _registered
    if _registered:
        return
    for name in MODULES:
        importlib.import_module(f"binlake.cli.commands.{name}").register(app)
    _registered = True


def _app_for(word: str | None) -> typer.Typer:
    """The CLI that runs the command ``word``: the root callback with only that command's module (and the
    endpoints module, whose --region is the one every command gets), or everything when ``word`` is not a
    known command (help, usage errors and their suggestions need them all). See cli/entry.py."""
    module = COMMAND_MODULES.get(word or "")
    if module is None:
        _register()
        return app
    if module not in _single:
        single = copy.copy(app)
        single.registered_commands, single.registered_groups = [], []
        for name in MODULES:
            if name in ("endpoints", module):
                importlib.import_module(f"binlake.cli.commands.{name}").register(single)
        _single[module] = single
    return _single[module]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(_app_for(command_word(args)))
    adapt(command)
    try:
        result = command.main(args=args, prog_name="binlake", standalone_mode=False)
    except BinlakeError as exc:
        err_console.print(f"Error: {exc}", markup=False)
        return 1
    except click_exceptions.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        return 0
    except click_exceptions.UsageError as exc:
        where = f"binlake {exc.ctx.command_path.partition(' ')[2]}".strip() if exc.ctx else "binlake"
        err_console.print(f"Error: {exc.format_message()} (fix: see '{where} --help')", markup=False)
        return 2
    except typer.Abort:
        err_console.print("Aborted.")
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())
