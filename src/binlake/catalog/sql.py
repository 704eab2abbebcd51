"""DuckDB SQL over a table's files: the change log, and the current state merged from it.

Order of changes: LOAD files first, then CDC files by name (names sort in commit order), then row
position inside a file. The current state keeps each key's last change and drops keys whose last change
is a delete (invariant 5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple


class Bookkeeping(NamedTuple):
    """The names of the columns the views and verify add to a table's own: ``_is_cdc``, ``_file`` and ``_row``
    (the changes views' ordering columns), the Spark and Athena/Trino alias ``_order`` of the commit-order
    column, and the inner columns of the SQL. ``bookkeeping`` gives them per table."""

    is_cdc: str = "_is_cdc"
    file: str = "_file"
    row: str = "_row"
    order: str = "_order"
    path: str = "_binlake_path"  # DuckDB's file path (read_parquet's filename)
    rank: str = "_binlake_rank"
    times: str = "_binlake_n"  # how many copies of a row a table without a key holds
    copy: str = "_binlake_i"
    op: str = "_binlake_op"  # Spark's <table>__files: Op, the commit-order column, file name and row index
    order_value: str = "_binlake_order"
    file_name: str = "_binlake_file"
    row_index: str = "_binlake_row"
    hash: str = "_binlake_h"  # verify: a row's hash beside its key, the source's and the target's
    in_source: str = "_in_source"
    in_target: str = "_in_target"


def bookkeeping(columns: Iterable[str]) -> Bookkeeping:
    """Bookkeeping names that differ from every one of ``columns`` (a table's columns, Op and the commit-order
    column included): the usual ones, each with as many more leading underscores as it takes. A source column
    may have any name, and a column of the same name would be read in place of the view's own, or hide it."""
    taken, names = list(columns), Bookkeeping()
    while any(_may_equal(column, name) for column in taken for name in names):
        names = Bookkeeping(*("_" + name for name in names))
    return names


def _may_equal(column: str, name: str) -> bool:
    """Whether an engine may take ``column`` for the lowercase ASCII ``name``: names are compared ignoring
    case, and Java folds some non-ASCII letters to ASCII ones (ſ to s, the Kelvin sign to k)."""
    return len(column) == len(name) and all(
        c.lower() == n or not c.isascii() for c, n in zip(column, name, strict=True)
    )


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def glob_escape(path: str) -> str:
    """``path`` as a glob pattern that matches only itself: ``*``, ``?`` and ``[`` become one-character
    classes (``[*]``), which DuckDB's and fsspec's globs both read literally, so a table named ``a*`` never
    reads table ``ab``'s files."""
    return re.sub(r"[*?\[]", lambda m: f"[{m.group(0)}]", path)


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def table_glob(location: str) -> str:
    """Every file of a table folder, once: ``**`` matches zero or more folders, so the table's own LOAD and
    CDC files and those in date-partition folders (``DatePartitionEnabled``, any depth) are one pattern. A
    second ``*.parquet`` pattern would read the top-level files twice."""
    return f"{glob_escape(location)}/**/*.parquet"


def changes_sql(
    paths: Sequence[str], names: Bookkeeping, columns: Sequence[str] | None = None, order_column: str = ""
) -> str:
    """The change log of one table: ``Op`` (LOAD rows are 'I'), ordering columns named by ``names``, and its
    columns.

    With ``columns`` None the columns are the files' columns at query time (``*``), so a view of it shows a
    column added later (renamed by DuckDB if it is named like an ordering column: ``_file_1``). ``Op`` comes
    from a typed empty relation united by name with the files, so the SQL binds whether or not any CDC file
    (the only files with ``Op``) exists yet; so does the commit-order column ``order_column``
    (CdcCommitOrderColumnName), NULL in LOAD rows.
    """
    sources = "[" + ", ".join(literal(p) for p in paths) + "]"
    if columns is None:
        selected = f'* EXCLUDE ("Op", {ident(names.path)}, file_row_number)'
    else:
        selected = ", ".join(ident(c) for c in columns)
    name = f"regexp_extract({ident(names.path)}, '[^/]+$')"
    typed = f", NULL::VARCHAR AS {ident(order_column)}" if order_column else ""
    # The ordering columns come before the files' columns: a column added after the crawl with one of their
    # names is then the one DuckDB renames (``_file_1``), and the order stays the view's own.
    return (
        f"SELECT COALESCE(\"Op\", 'I') AS \"Op\", NOT starts_with({name}, 'LOAD') AS {ident(names.is_cdc)}, "
        f"{name} AS {ident(names.file)}, file_row_number AS {ident(names.row)}, {selected} "
        f'FROM (SELECT NULL::VARCHAR AS "Op"{typed} WHERE false UNION ALL BY NAME SELECT * FROM read_parquet('
        f"{sources}, filename = {literal(names.path)}, file_row_number = true, union_by_name = true))"
    )


STALE = "run binlake crawl"  # every error of a view that no longer matches its files says so
KEY_MISSING = (
    "a row of this table has no value in a primary key column the view was crawled with (the key column was "
    f"renamed or dropped): {STALE}, and reload the table if its primary key changed"
)


def current_sql(
    changes: str, key: Sequence[str], names: Bookkeeping, guard: bool = False, order_column: str = ""
) -> str:
    """The current state from a change-log relation (a view name or a parenthesised query) whose ordering
    columns are named by ``names``: each key's last change, unless it is a delete. Every column of ``changes``
    but the bookkeeping ones is kept.

    With ``guard``, a row whose key is NULL (a primary key column is never NULL in the source, so the file
    lacks the column: renamed or dropped after the crawl) fails the query with ``KEY_MISSING`` instead of
    merging every such row as one key. With ``order_column`` (CdcCommitOrderColumnName) changes are ordered by
    it first (LOAD rows, where it is NULL, before every change); it is not a column of the current state."""
    partition = ", ".join(ident(k) for k in key)
    source = changes
    if guard:
        missing = " OR ".join(f"{ident(k)} IS NULL" for k in key)
        source = f"(SELECT * FROM {changes} WHERE CASE WHEN {missing} THEN error({literal(KEY_MISSING)}) ELSE true END)"
    is_cdc, file, row, rank = (ident(n) for n in (names.is_cdc, names.file, names.row, names.rank))
    by = f"{ident(order_column)} DESC NULLS LAST, " if order_column else ""
    return (
        f'SELECT * EXCLUDE ("Op", {_hidden(names, order_column)}, {rank}) FROM (SELECT *, row_number() OVER '
        f"(PARTITION BY {partition} ORDER BY {is_cdc} DESC, {by}{file} DESC, {row} DESC) AS {rank} "
        f"FROM {source}) WHERE {rank} = 1 AND \"Op\" <> 'D'"
    )


def multiset_sql(changes: str, names: Bookkeeping, order_column: str = "") -> str:
    """The current state of a table without a primary key, as a multiset of whole rows: LOAD rows and every
    insert or update after image count +1, every delete before image -1 (an update of such a table is
    written as the delete of its before image and the insert of its after image). Order does not matter (and
    ``order_column``, which differs between a row's insert and its delete, is left out)."""
    count, copy = ident(names.times), ident(names.copy)
    return (
        f'SELECT * EXCLUDE ({count}, {copy}) FROM (SELECT * EXCLUDE ("Op", {_hidden(names, order_column)}), '
        f"sum(CASE WHEN \"Op\" = 'D' THEN -1 ELSE 1 END)::BIGINT AS {count} "
        f"FROM {changes} GROUP BY ALL) AS _binlake_rows, range(_binlake_rows.{count}) AS _binlake_copies({copy})"
    )


def _hidden(names: Bookkeeping, order_column: str) -> str:
    """The ordering columns of a change log, as an EXCLUDE list."""
    hidden = [names.is_cdc, names.file, names.row, *([order_column] if order_column else [])]
    return ", ".join(ident(n) for n in hidden)
