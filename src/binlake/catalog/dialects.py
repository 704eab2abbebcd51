"""``crawl --dialect``: the change-log and current-state views of a task's tables for DuckDB, Spark,
Athena and Trino, as SQL text to run in that engine.

Order of changes, newest first, per key:

1. LOAD rows before every CDC row (a LOAD file's name sorts *after* the CDC names, so never ``$path``);
2. the commit-order column (``CdcCommitOrderColumnName``) when the target writes it: exact in every engine;
3. the CDC file's name (not its path: date-partition folders such as ``MMYYYYDD`` do not sort), which
   sorts in commit order;
4. the row's position in its file where the engine gives it (DuckDB ``file_row_number``, Spark ≥ 3.5
   ``_metadata.row_index``). Athena and Trino give none: without the commit-order column their views are
   exact at file granularity only, and two changes of one key in one CDC file are not ordered.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from binlake.catalog.lake import Lake, LakeTable
from binlake.catalog.spark import spark_statements
from binlake.catalog.sql import (
    KEY_MISSING,
    Bookkeeping,
    bookkeeping,
    changes_sql,
    current_sql,
    ident,
    literal,
    multiset_sql,
    table_glob,
)
from binlake.errors import BinlakeError

DIALECTS = ("duckdb", "spark", "athena", "trino")
FILE_GRANULARITY = (
    "Without a commit-order column (S3 setting CdcCommitOrderColumnName) this engine orders changes by file "
    "only: LOAD files first, then CDC files by name; two changes of one key in one CDC file are ordered by "
    "nothing, so the current state of such a key may be either change."
)


@dataclass
class TableView:
    """What the SQL of one table needs: names, columns and their Arrow types, key and order column."""

    database: str
    name: str
    location: str  # the table folder as the engine names it
    columns: list[pa.Field]  # the table's own columns (and the timestamp column), without Op and the order column
    key: list[str]
    order: str  # the commit-order column's name, or ""

    @property
    def names(self) -> Bookkeeping:
        """The bookkeeping columns' names in this table's views."""
        return bookkeeping([*(f.name for f in self.columns), self.order])


def table_views(lake: Lake, table: LakeTable, database: str, scheme: str) -> TableView:
    """``scheme`` prefixes the S3 location (``s3`` for Athena/Trino, ``s3a`` for Spark)."""
    order = lake.settings.CdcCommitOrderColumnName
    schema = lake.schema(table)
    columns = [f for f in schema if f.name not in ("Op", order)]
    key = [k for k in table.key if k in schema.names]
    full = lake.bucket.full(table.prefix)
    location = full if lake.bucket.local else f"{scheme}://{full}"
    return TableView(database, table.table, location, columns, key, order)


def check_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise BinlakeError(f"unknown dialect {dialect!r}", fix=f"use one of {', '.join(DIALECTS)}")


def views_sql(lake: Lake, dialect: str, database: str | None = None) -> str:
    """The views of every table of ``lake`` that has files, for ``dialect``, as one SQL script."""
    from binlake.catalog.crawler import default_database

    check_dialect(dialect)
    scheme = "s3a" if dialect == "spark" else "s3"
    render: Callable[[TableView], list[str]] = {
        "duckdb": duckdb_views,
        "spark": spark_views,
        "athena": athena_views,
        "trino": trino_views,
    }[dialect]
    parts = [duckdb_s3_preamble(lake)] if dialect == "duckdb" and not lake.bucket.local else []
    for table in lake.tables:
        if table.files:
            view = table_views(lake, table, database or default_database(table.schema), scheme)
            parts.append("\n\n".join(render(view)))
    return "\n\n".join(parts) + "\n"


def _comment(view: TableView, dialect: str, exact_rows: bool) -> str:
    source = f"-- {view.database}.{view.name}: current state and change log over {view.location}"
    if view.order:
        how = f"-- Changes are ordered by the commit-order column {view.order} (exact)."
    elif exact_rows:
        how = "-- Changes are ordered by LOAD before CDC, CDC file name, row position in the file (exact)."
    else:
        how = "-- " + FILE_GRANULARITY
    return f"{source}\n{how}"


# -- DuckDB ------------------------------------------------------------------------------------------------
def duckdb_views(view: TableView) -> list[str]:
    db, changes_view = ident(view.database), f"{ident(view.database)}.{ident(view.name + '__changes')}"
    changes = changes_sql([table_glob(view.location)], view.names, order_column=view.order)
    if view.key:
        current = current_sql(changes_view, view.key, view.names, guard=True, order_column=view.order)
    else:
        current = multiset_sql(changes_view, view.names, order_column=view.order)
    return [
        _comment(view, "duckdb", True),
        f"CREATE SCHEMA IF NOT EXISTS {db};",
        f"CREATE OR REPLACE VIEW {changes_view} AS {changes};",
        f"CREATE OR REPLACE VIEW {db}.{ident(view.name)} AS {current};",
    ]


def duckdb_s3_preamble(lake: Lake) -> str:
    """For an S3 target: load httpfs and aws, and a secret that takes the credentials from the environment
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), where binlake takes them too. No key is
    written into the script: it can be shared, kept in a repository, or printed (invariant 6)."""
    settings = lake.settings
    region = settings.Region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    options = ["TYPE s3", "PROVIDER credential_chain", "CHAIN 'env'", f"REGION {literal(region)}"]
    if settings.EndpointUrl:
        scheme, _, host = settings.EndpointUrl.rstrip("/").partition("://")
        options += [f"ENDPOINT {literal(host or scheme)}", "URL_STYLE 'path'"]
        options.append(f"USE_SSL {'false' if host and scheme == 'http' else 'true'}")
    options.append(f"SCOPE {literal(lake.bucket.url)}")
    name = "binlake_" + re.sub(r"\W", "_", lake.endpoint)
    return (
        f"-- {lake.bucket.url}: DuckDB reads S3 through its httpfs extension, with the credentials of the\n"
        "-- environment (aws extension, credential chain 'env'), as binlake does; no key is written here.\n"
        "-- Offline, both extensions come from PyPI for DuckDB 1.4.4 (duckdb-ext-httpfs, duckdb-ext-aws): run\n"
        "-- SET extension_directory = '<site-packages>/duckdb_ext/extensions' first (docs/engines.md).\n"
        f"LOAD httpfs;\nLOAD aws;\nCREATE OR REPLACE SECRET {name} ({', '.join(options)});"
    )


# -- Spark -------------------------------------------------------------------------------------------------
def _bq(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def spark_views(view: TableView) -> list[str]:
    """Views that follow the files' columns and listing at query time (binlake.catalog.spark)."""
    return [_comment(view, "spark", True), *spark_statements(view)]


def _ordering(view: TableView) -> str:
    names = view.names
    terms = [f"{_dq(names.is_cdc)} DESC"]
    if view.order:
        terms.append(f"{_dq(names.order)} DESC NULLS LAST")
    return ", ".join([*terms, f"{_dq(names.file)} DESC"])


# -- Athena and Trino --------------------------------------------------------------------------------------
def _hive_type(arrow: pa.DataType) -> str:
    if pa.types.is_boolean(arrow):
        return "boolean"
    if pa.types.is_int8(arrow):
        return "tinyint"
    if pa.types.is_int16(arrow) or pa.types.is_uint8(arrow):
        return "smallint"
    if pa.types.is_int32(arrow) or pa.types.is_uint16(arrow):
        return "int"
    if pa.types.is_int64(arrow) or pa.types.is_uint32(arrow) or pa.types.is_duration(arrow):
        return "bigint"
    if pa.types.is_uint64(arrow):
        return "decimal(20,0)"
    if pa.types.is_float32(arrow):
        return "float"
    if pa.types.is_float64(arrow):
        return "double"
    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    if pa.types.is_date(arrow):
        return "date"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return "binary"
    return "string"


def trino_type(arrow: pa.DataType) -> str:
    hive = _hive_type(arrow)
    return {"int": "integer", "float": "real", "string": "varchar", "binary": "varbinary"}.get(hive, hive)


def _dq(name: str) -> str:
    return ident(name)


def _presto_views(view: TableView, files: str, db: str) -> list[str]:
    """The change-log and current-state views, in the SQL Athena and Trino share."""
    q, hidden = _dq, view.names
    changes = f"{db}.{q(view.name + '__changes')}"
    names = ", ".join(q(f.name) for f in view.columns)
    order_col = f", {q(view.order)}, {q(view.order)} AS {q(hidden.order)}" if view.order else ""
    file = "regexp_extract(\"$path\", '[^/]+$')"
    statements = [
        f"CREATE OR REPLACE VIEW {changes} AS SELECT coalesce({q('Op')}, 'I') AS {q('Op')}, {names}{order_col}, "
        f"NOT starts_with({file}, 'LOAD') AS {q(hidden.is_cdc)}, {file} AS {q(hidden.file)} FROM {files};"
    ]
    rank, count, copy = q(hidden.rank), q(hidden.times), q(hidden.copy)
    if view.key:
        partition = ", ".join(q(k) for k in view.key)
        # A NULL key (a key column renamed or dropped after the crawl) fails the query with KEY_MISSING, as the
        # DuckDB and Spark views do: Athena and Trino have no raise function, so the message is cast to an
        # integer, which fails only for such a row (an untaken CASE branch is never evaluated).
        missing = " OR ".join(f"{q(k)} IS NULL" for k in view.key)
        guard = f"CAST(CASE WHEN {missing} THEN {literal(KEY_MISSING)} END AS integer) IS NULL"
        current = (
            f"SELECT {names} FROM (SELECT *, row_number() OVER (PARTITION BY {partition} ORDER BY "
            f"{_ordering(view)}) AS {rank} FROM {changes} WHERE {guard}) WHERE {rank} = 1 AND {q('Op')} <> 'D'"
        )
    else:
        current = (
            f"SELECT {names} FROM (SELECT {names}, sum(CASE WHEN {q('Op')} = 'D' THEN -1 ELSE 1 END) AS {count} "
            f"FROM {changes} GROUP BY {names} HAVING sum(CASE WHEN {q('Op')} = 'D' THEN -1 ELSE 1 END) > 0) "
            f"AS _binlake_rows CROSS JOIN UNNEST(sequence(1, {count})) AS _copies ({copy})"
        )
    statements.append(f"CREATE OR REPLACE VIEW {db}.{q(view.name)} AS {current};")
    return statements


def athena_views(view: TableView) -> list[str]:
    """Hive DDL for the files (Athena reads the folder's subfolders too), Presto SQL for the views."""
    db = _dq(view.database)
    files = f"{db}.{_dq(view.name + '__files')}"
    declared = [f"  {_bq('Op')} string"] + [f"  {_bq(f.name)} {_hive_type(f.type)}" for f in view.columns]
    if view.order:
        declared.append(f"  {_bq(view.order)} string")
    return [
        _comment(view, "athena", False),
        f"CREATE DATABASE IF NOT EXISTS {_bq(view.database)};",
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {_bq(view.database)}.{_bq(view.name + '__files')} (\n"
        + ",\n".join(declared)
        + f"\n)\nSTORED AS PARQUET\nLOCATION {literal(view.location.rstrip('/') + '/')};",
        *_presto_views(view, files, db),
    ]


def trino_views(view: TableView) -> list[str]:
    """For Trino's Hive connector (its catalog named ``hive``; set ``hive.recursive-directories=true`` for
    date-partitioned targets)."""
    db = f"hive.{_dq(view.database)}"
    files = f"{db}.{_dq(view.name + '__files')}"
    declared = [f"  {_dq('Op')} varchar"] + [f"  {_dq(f.name)} {trino_type(f.type)}" for f in view.columns]
    if view.order:
        declared.append(f"  {_dq(view.order)} varchar")
    return [
        _comment(view, "trino", False),
        f"CREATE SCHEMA IF NOT EXISTS {db};",
        f"CREATE TABLE IF NOT EXISTS {files} (\n"
        + ",\n".join(declared)
        + f"\n)\nWITH (external_location = {literal(view.location.rstrip('/') + '/')}, format = 'PARQUET');",
        *_presto_views(view, files, db),
    ]
