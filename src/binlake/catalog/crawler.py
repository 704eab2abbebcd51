"""The crawler (the guide's Glue crawler): register a task's tables in a DuckDB catalog file.

For each replicated table it creates two views in the catalog database (``ecommerce_db`` for
``ecommerce_platform`` by default): ``<table>`` is the current state, ``<table>__changes`` the change log
with ``Op`` and commit order (a table without a primary key: its rows as a multiset). The views read the
table's folder by one glob and its columns by ``*`` when queried, so they never go stale: new CDC files,
date-partition folders, a reload's new LOAD files and columns added later show up at once, and ``Op`` is
typed even before the first CDC file exists. Crawl again only for a new table. The catalog is a plain
DuckDB file: the duckdb CLI or Python can open it as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from binlake.catalog.lake import Lake, LakeTable
from binlake.catalog.sql import STALE, bookkeeping, changes_sql, current_sql, ident, multiset_sql, table_glob
from binlake.errors import BinlakeError
from binlake.state import endpoints as endpoints_api
from binlake.state.store import StateStore
from binlake.target.store import Bucket

CATALOG_FILE = "catalog.duckdb"
META_SCHEMA = "binlake_catalog"


def default_database(schema: str) -> str:
    """The guide's naming: ecommerce_platform → ecommerce_db."""
    return schema.split("_")[0] + "_db"


@dataclass
class CrawledTable:
    database: str
    name: str
    location: str
    columns: list[str]
    key: list[str]
    files: int
    has_current_view: bool


def open_catalog(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    if read_only and not path.exists():
        raise BinlakeError(f"no catalog at {path}", fix="run binlake crawl --replication-task-arn TASK first")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise BinlakeError(
            f"cannot open the catalog {path}: {str(exc).splitlines()[0]}",
            fix="wait for the other binlake command using it to finish",
        ) from None


def open_catalog_for_queries(path: Path, store: StateStore) -> duckdb.DuckDBPyConnection:
    """The catalog, read-only, with every S3 target it points at readable (through pyarrow)."""
    conn = open_catalog(path, read_only=True)
    try:
        endpoints = [row[0] for row in conn.execute(f"SELECT DISTINCT endpoint FROM {META_SCHEMA}.tables").fetchall()]
    except duckdb.Error:
        endpoints = []
    for identifier in endpoints:
        if not identifier:
            continue
        try:
            endpoint = endpoints_api.get(store, identifier)
        except BinlakeError:
            continue  # deleted since the crawl; its local files may still be readable
        if endpoint.S3Settings is not None:
            Bucket.open(endpoint.S3Settings).register_with_duckdb(conn)
    return conn


def stale_view(conn: duckdb.DuckDBPyConnection, sql: str, message: str) -> str | None:
    """After ``sql`` failed with ``message``: the fix when a catalog view it reads no longer matches its
    table's files (a view of an older crawl, a key column renamed or dropped, a table folder emptied)."""
    try:
        rows = conn.execute(f"SELECT database, name, task FROM {META_SCHEMA}.tables").fetchall()
    except duckdb.Error:
        return None
    for database, name, task in rows:
        if name.lower() not in sql.lower():
            continue
        for view in (name, name + "__changes"):
            if STALE in message:
                broken = True
            else:
                try:
                    conn.execute(f"SELECT * FROM {ident(database)}.{ident(view)} LIMIT 0")
                    broken = False
                except duckdb.Error:
                    broken = True
            if broken:
                return f"the view {database}.{view} no longer matches its files: {STALE} --replication-task-arn {task}"
    return None


def crawl(lake: Lake, catalog: Path, database: str | None = None) -> list[CrawledTable]:
    crawled: list[CrawledTable] = []
    conn = open_catalog(catalog)
    lake.bucket.register_with_duckdb(conn)
    try:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {META_SCHEMA}.tables (database VARCHAR, name VARCHAR, task VARCHAR, "
            "source VARCHAR, location VARCHAR, key VARCHAR[], columns VARCHAR[], files INTEGER, "
            "crawled_at TIMESTAMP, endpoint VARCHAR, PRIMARY KEY (database, name))"
        )
        conn.execute(f"ALTER TABLE {META_SCHEMA}.tables ADD COLUMN IF NOT EXISTS endpoint VARCHAR")
        for table in lake.tables:
            if not table.files:
                continue
            crawled.append(_register(conn, lake, table, database or default_database(table.schema)))
    finally:
        conn.close()
    return crawled


def _register(conn: duckdb.DuckDBPyConnection, lake: Lake, table: LakeTable, database: str) -> CrawledTable:
    schema = lake.schema(table)
    order = lake.settings.CdcCommitOrderColumnName
    columns = [f.name for f in schema if f.name not in ("Op", order)]
    location = lake.duckdb_path(table.prefix)
    names = bookkeeping([*schema.names, order])
    changes = changes_sql([table_glob(location)], names, order_column=order)
    name = table.table
    changes_view = f"{ident(database)}.{ident(name + '__changes')}"
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(database)}")
    conn.execute(f"CREATE OR REPLACE VIEW {changes_view} AS {changes}")
    key = [k for k in table.key if k in columns]
    current = current_sql(changes_view, key, names, True, order) if key else multiset_sql(changes_view, names, order)
    conn.execute(f"CREATE OR REPLACE VIEW {ident(database)}.{ident(name)} AS {current}")
    conn.execute(
        f"INSERT OR REPLACE INTO {META_SCHEMA}.tables VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            database,
            name,
            lake.task,
            f"{table.source_schema}.{table.source_table}",
            location,
            key,
            columns,
            len(table.files),
            datetime.now(UTC).replace(tzinfo=None),
            lake.endpoint,
        ],
    )
    return CrawledTable(database, name, location, columns, key, len(table.files), True)
