"""SQL over the lake (the guide's Athena): run a statement against the DuckDB catalog."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from binlake.catalog.crawler import open_catalog_for_queries, stale_view
from binlake.errors import BinlakeError
from binlake.state.store import StateStore


def run_query(catalog: Path, sql: str, store: StateStore) -> pa.Table:
    conn = open_catalog_for_queries(catalog, store)
    try:
        relation = conn.sql(sql)
        if relation is None:  # a statement without a result
            return pa.table({})
        fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
        return fetch()
    except duckdb.Error as exc:
        message = " ".join(str(exc).split())
        fix = stale_view(conn, sql, message) or "check the SQL; binlake query 'SHOW ALL TABLES' lists tables"
        raise BinlakeError(f"query failed: {message}", fix=fix) from None
    finally:
        conn.close()
