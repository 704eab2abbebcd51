"""DuckDB SQL over a table's files: the change log, and the current state merged from it.

Order of changes: LOAD files first, then CDC files by name (names sort in commit order), then row
position inside a file. The current state keeps each key's last change and drops keys whose last change
is a delete (invariant 5).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

BOOKKEEPING = ("_is_cdc", "_file", "_row")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def glob_escape(path: str) -> str:
    """``path`` as a glob pattern that matches only itself: ``*``, ``?`` and ``[`` become one-character
    classes (``[*]``), which DuckDB's and fsspec's globs both read literally, so a table named ``a*`` never
    reads table ``ab``'s files."""
    return re.sub(r"[*?\[]", lambda m: f"[{m.group(0)}]", path)


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def changes_sql(paths: Sequence[str], columns: Sequence[str], has_op: bool) -> str:
    """The change log of one table: ``Op`` (LOAD rows are 'I'), its columns, and ordering columns."""
    sources = "[" + ", ".join(literal(p) for p in paths) + "]"
    op = "COALESCE(\"Op\", 'I')" if has_op else "'I'"
    selected = ", ".join(ident(c) for c in columns)
    return (
        f'SELECT {op} AS "Op", {selected}, '
        "NOT starts_with(regexp_extract(filename, '[^/]+$'), 'LOAD') AS _is_cdc, "
        "regexp_extract(filename, '[^/]+$') AS _file, file_row_number AS _row "
        f"FROM read_parquet({sources}, filename = true, file_row_number = true, union_by_name = true)"
    )


def current_sql(changes: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """The current state from a change-log relation (a view name or a parenthesised query)."""
    selected = ", ".join(ident(c) for c in columns)
    partition = ", ".join(ident(k) for k in key)
    return (
        f"SELECT {selected} FROM (SELECT *, row_number() OVER (PARTITION BY {partition} "
        f"ORDER BY _is_cdc DESC, _file DESC, _row DESC) AS _binlake_rank FROM {changes}) "
        "WHERE _binlake_rank = 1 AND \"Op\" <> 'D'"
    )
