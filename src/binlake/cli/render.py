"""Output: DMS's JSON shapes with --output json, readable tables otherwise."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from binlake.cli.output import Output as Output
from binlake.cli.output import print_json as print_json

# Off a terminal (pipes, files, CI logs) tables are not folded to 80 columns.
_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200
console = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)


def _cell(value: Any, null: str = "") -> str:
    if value is None:
        return null
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def print_records(title: str, records: list[dict[str, Any]], columns: list[str] | None = None, null: str = "") -> None:
    """A table of ``records``; ``null`` is how a missing value shows (query results: NULL, unlike '')."""
    if not records:
        console.print(f"{title}: none")
        return
    columns = columns or list(dict.fromkeys(key for record in records for key in record))
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(*(_cell(record.get(column), null) for column in columns))
    console.print(table)


def print_mapping(title: str, record: dict[str, Any]) -> None:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in record.items():
        table.add_row(key, _cell(value))
    console.print(table)


def render(data: dict[str, Any], output: Output, title: str, columns: list[str] | None = None) -> None:
    """``data`` is DMS's JSON shape: one key holding a list of records, or a single record."""
    if output == Output.json:
        print_json(data)
        return
    (_key, value), *_ = data.items()
    if isinstance(value, list):
        print_records(title, value, columns)
    else:
        print_mapping(title, value if isinstance(value, dict) else data)
