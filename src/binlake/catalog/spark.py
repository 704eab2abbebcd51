"""Spark views that follow the lake without a new crawl (Spark 4 syntax; tested with pyspark 4.3.0).

Three views per table, each ``WITH SCHEMA EVOLUTION`` (the view's columns are its query's columns at query
time, not at its creation), over ``parquet.`<folder>``` read with ``mergeSchema`` (every file's footer, so a
column added to the source after the crawl is a column of the views), ``recursiveFileLookup`` (date-partition
folders, each file once) and ``pathGlobFilter``. A path in a view is listed again by every query, so new CDC
files, new date folders and a reload's new LOAD files are read at once, with no ``REFRESH TABLE``.

* ``<table>__files``: the files' rows, plus ``Op`` and the commit-order column as ``_binlake_op`` and
  ``_binlake_order`` (these and every bookkeeping name are the table's ``TableView.names``). Before the first
  CDC file (and again right after a reload) no file has ``Op`` or the commit-order column: the file query is a
  ``LATERAL`` subquery of a one-row relation of typed NULLs named like them, so an absent column resolves to
  that NULL instead of failing the query.
* ``<table>__changes``: ``Op`` (LOAD rows 'I'), every column of the files, ordering columns. Its column list
  is a quoted regular expression (``spark.sql.parser.quotedRegexColumnNames``, which the view captures at its
  creation; the script sets it around this view only) that takes every column but the bookkeeping ones, since
  ``* EXCEPT`` fails on a column that may be absent.
* ``<table>``: the current state, ``* EXCEPT`` the bookkeeping columns; a table without a key groups by every
  column (``GROUP BY ALL``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from binlake.catalog.sql import KEY_MISSING, Bookkeeping, literal

if TYPE_CHECKING:
    from binlake.catalog.dialects import TableView

READ = "WITH ('mergeSchema' = 'true', 'recursiveFileLookup' = 'true', 'pathGlobFilter' = '*.parquet')"
REGEX = "spark.sql.parser.quotedRegexColumnNames"


def bq(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def regex_literal(name: str) -> str:
    """``name`` as a Java regular expression that matches only itself (ASCII punctuation escaped)."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", name)


def path_literal(location: str) -> str:
    """``location`` as a Hadoop glob that matches only itself: Spark globs a path it reads, so a table named
    ``a*`` would read table ``ab``'s files too (invariant 7); a backslash makes ``* ? [ ] { } \\`` literal."""
    return re.sub(r"([\\*?\[\]{}])", r"\\\1", location)


def ordering(names: Bookkeeping, order: str) -> str:
    """Newest first: CDC before LOAD, the commit-order column (NULL last), file name, row in the file."""
    terms = [f"{names.is_cdc} DESC"] + ([f"{names.order} DESC NULLS LAST"] if order else [])
    return ", ".join([*terms, f"{names.file} DESC", f"{names.row} DESC"])


def spark_statements(view: TableView) -> list[str]:
    """The statements of one table (without the comment), to run in this order."""
    db = bq(view.database)
    files, changes = f"{db}.{bq(view.name + '__files')}", f"{db}.{bq(view.name + '__changes')}"
    order, names = view.order, view.names
    # The bookkeeping names are plain identifiers, never quoted: a quoted name is a regular expression in
    # the change log's statement.
    op, order_value, file_name, row_index = names.op, names.order_value, names.file_name, names.row_index
    absent = ["CAST(NULL AS STRING) AS `Op`"] + ([f"CAST(NULL AS STRING) AS {bq(order)}"] if order else [])
    picked = [f"`Op` AS {op}"] + ([f"{bq(order)} AS {order_value}"] if order else [])
    # A column added after the crawl named like an ordering column is left out until the next crawl.
    bookkeeping = ["Op", *([order] if order else []), op, order_value, file_name, row_index]
    bookkeeping += [names.is_cdc, names.file, names.row, names.order]
    others = "(?!(?:" + "|".join(regex_literal(n) for n in bookkeeping) + ")$).+"
    order_out = f", {order_value} AS {bq(order)}, {order_value} AS {names.order}" if order else ""
    hidden = ", ".join(["`Op`", *([bq(order), names.order] if order else []), names.is_cdc, names.file, names.row])
    statements = [
        f"CREATE DATABASE IF NOT EXISTS {db};",
        f"CREATE OR REPLACE VIEW {files} WITH SCHEMA EVOLUTION AS SELECT _binlake_f.* FROM "
        f"(SELECT {', '.join(absent)}) AS _binlake_absent, LATERAL (SELECT {', '.join(picked)}, *, "
        f"_metadata.file_name AS {file_name}, _metadata.row_index AS {row_index} "
        f"FROM parquet.{bq(path_literal(view.location))} {READ}) AS _binlake_f;",
        f"SET {REGEX} = true;",
        f"CREATE OR REPLACE VIEW {changes} WITH SCHEMA EVOLUTION AS SELECT coalesce({op}, 'I') AS `Op`, "
        f"{bq(others)}{order_out}, NOT startswith({file_name}, 'LOAD') AS {names.is_cdc}, "
        f"{file_name} AS {names.file}, {row_index} AS {names.row} FROM {files};",
        f"RESET {REGEX};",
    ]
    rank, count, copy = names.rank, names.times, names.copy
    if view.key:
        partition = ", ".join(bq(k) for k in view.key)
        # A NULL key means the file lacks a key column the view was crawled with (renamed or dropped): fail.
        missing = " OR ".join(f"{bq(k)} IS NULL" for k in view.key)
        guarded = (
            f"(SELECT * FROM {changes} WHERE CASE WHEN {missing} THEN raise_error({literal(KEY_MISSING)}) "
            "ELSE true END)"
        )
        current = (
            f"SELECT * EXCEPT ({hidden}, {rank}) FROM (SELECT *, row_number() OVER (PARTITION BY "
            f"{partition} ORDER BY {ordering(names, order)}) AS {rank} FROM {guarded}) "
            f"WHERE {rank} = 1 AND `Op` <> 'D'"
        )
    else:
        current = (
            f"SELECT * EXCEPT ({count}, {copy}) FROM (SELECT * EXCEPT "
            f"({hidden}), sum(CASE WHEN `Op` = 'D' THEN -1 ELSE 1 END) AS {count} FROM {changes} GROUP BY ALL "
            f"HAVING {count} > 0) AS _binlake_rows "
            f"LATERAL VIEW explode(sequence(1, {count})) _copies AS {copy}"
        )
    statements.append(f"CREATE OR REPLACE VIEW {db}.{bq(view.name)} WITH SCHEMA EVOLUTION AS {current};")
    return statements
