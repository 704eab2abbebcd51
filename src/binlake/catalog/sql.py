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


def table_glob(location: str) -> str:
    """Every file of a table folder, once: ``**`` matches zero or more folders, so the table's own LOAD and
    CDC files and those in date-partition folders (``DatePartitionEnabled``, any depth) are one pattern. A
    second ``*.parquet`` pattern would read the top-level files twice."""
    return f"{glob_escape(location)}/**/*.parquet"


def changes_sql(paths: Sequence[str], columns: Sequence[str] | None = None, order_column: str = "") -> str:
    """The change log of one table: ``Op`` (LOAD rows are 'I'), its columns, and ordering columns.

    With ``columns`` None the columns are the files' columns at query time (``*``), so a view of it shows a
    column added later. ``Op`` comes from a typed empty relation united by name with the files, so the SQL
    binds whether or not any CDC file (the only files with ``Op``) exists yet; so does the commit-order
    column ``order_column`` (CdcCommitOrderColumnName), NULL in LOAD rows.
    """
    sources = "[" + ", ".join(literal(p) for p in paths) + "]"
    if columns is None:
        selected = '* EXCLUDE ("Op", filename, file_row_number)'
    else:
        selected = ", ".join(ident(c) for c in columns)
    name = "regexp_extract(filename, '[^/]+$')"
    typed = f", NULL::VARCHAR AS {ident(order_column)}" if order_column else ""
    return (
        f'SELECT COALESCE("Op", \'I\') AS "Op", {selected}, '
        f"NOT starts_with({name}, 'LOAD') AS _is_cdc, {name} AS _file, file_row_number AS _row "
        f'FROM (SELECT NULL::VARCHAR AS "Op"{typed} WHERE false UNION ALL BY NAME '
        f"SELECT * FROM read_parquet({sources}, filename = true, file_row_number = true, union_by_name = true))"
    )


STALE = "run binlake crawl"  # every error of a view that no longer matches its files says so
KEY_MISSING = (
    "a row of this table has no value in a primary key column the view was crawled with (the key column was "
    f"renamed or dropped): {STALE}, and reload the table if its primary key changed"
)


def current_sql(changes: str, key: Sequence[str], guard: bool = False, order_column: str = "") -> str:
    """The current state from a change-log relation (a view name or a parenthesised query): each key's last
    change, unless it is a delete. Every column of ``changes`` but the bookkeeping ones is kept.

    With ``guard``, a row whose key is NULL (a primary key column is never NULL in the source, so the file
    lacks the column: renamed or dropped after the crawl) fails the query with ``KEY_MISSING`` instead of
    merging every such row as one key. With ``order_column`` (CdcCommitOrderColumnName) changes are ordered by
    it first (LOAD rows, where it is NULL, before every change); it is not a column of the current state."""
    partition = ", ".join(ident(k) for k in key)
    source = changes
    if guard:
        missing = " OR ".join(f"{ident(k)} IS NULL" for k in key)
        source = f"(SELECT * FROM {changes} WHERE CASE WHEN {missing} THEN error({literal(KEY_MISSING)}) ELSE true END)"
    hidden = ", ".join(BOOKKEEPING) + (f", {ident(order_column)}" if order_column else "")
    by = f"{ident(order_column)} DESC NULLS LAST, " if order_column else ""
    return (
        f'SELECT * EXCLUDE ("Op", {hidden}, _binlake_rank) FROM (SELECT *, row_number() OVER '
        f"(PARTITION BY {partition} ORDER BY _is_cdc DESC, {by}_file DESC, _row DESC) AS _binlake_rank "
        f"FROM {source}) WHERE _binlake_rank = 1 AND \"Op\" <> 'D'"
    )


def multiset_sql(changes: str, order_column: str = "") -> str:
    """The current state of a table without a primary key, as a multiset of whole rows: LOAD rows and every
    insert or update after image count +1, every delete before image -1 (an update of such a table is
    written as the delete of its before image and the insert of its after image). Order does not matter (and
    ``order_column``, which differs between a row's insert and its delete, is left out)."""
    hidden = ", ".join(BOOKKEEPING) + (f", {ident(order_column)}" if order_column else "")
    return (
        f'SELECT * EXCLUDE (_binlake_n, _binlake_i) FROM (SELECT * EXCLUDE ("Op", {hidden}), '
        "sum(CASE WHEN \"Op\" = 'D' THEN -1 ELSE 1 END)::BIGINT AS _binlake_n "
        f"FROM {changes} GROUP BY ALL) AS _binlake_rows, range(_binlake_rows._binlake_n) AS _binlake_copies(_binlake_i)"
    )
