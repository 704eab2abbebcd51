"""Bucketed checksums of a table, computed by the source server and by DuckDB over the lake, and the rows of
the buckets that differ.

Rows are grouped into buckets by key: ranges of the key for a single integer key (the drill-down then reads
each range through the primary key), else a hash of the key's canonical text; a table without a primary key
is bucketed by a hash of the whole row, so identical rows meet in one bucket and count as a multiset. A
bucket's checksum is its row count and the sum of its rows' 64-bit hashes (``canonical.py``): a sum, not a
XOR, so that duplicated rows count. Buckets whose checksums differ are read again, row by row, as canonical
text with a plain cursor, and compared in DuckDB with the lake's rows of the same buckets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa
from MySQLdb import _mysql

from binlake.catalog.sql import ident
from binlake.source.types import Column
from binlake.verify.canonical import (
    INTEGER_KINDS,
    Form,
    hash_duckdb,
    hash_mariadb,
    mariadb_quote,
    row_text_duckdb,
    row_text_mariadb,
)

ROWS_PER_BUCKET = 1000
RANGES_PER_QUERY = 500
FETCH_ROWS = 10_000

Sums = dict[int, tuple[int, int]]  # bucket → (rows, sum of row hashes)


@dataclass(frozen=True)
class Buckets:
    """How rows are put into buckets, in both engines."""

    source: str  # MariaDB expression of a row's bucket
    target: str  # DuckDB expression of a row's bucket
    key_column: str | None = None  # an integer key bucketed by ranges: its MariaDB name
    low: int = 0
    width: int = 1

    def source_filter(self, buckets: Sequence[int]) -> str:
        """A WHERE condition selecting ``buckets`` on the source (ranges of the key read through its index)."""
        if self.key_column is None:
            return f"{self.source} IN ({', '.join(str(b) for b in buckets)})"
        ranges = [
            f"{self.key_column} BETWEEN {self.low + b * self.width} AND {self.low + (b + 1) * self.width - 1}"
            for b in buckets
        ]
        return " OR ".join(ranges)


def plan_buckets(
    conn: _mysql.connection, table: str, key: Sequence[tuple[Column, Form]], forms: Sequence[Form]
) -> Buckets:
    """Buckets of about ``ROWS_PER_BUCKET`` rows for ``table`` (its key: source columns and their forms)."""
    if len(key) == 1 and key[0][0].data_type.lower() in INTEGER_KINDS:
        column, key_form = key[0]
        quoted = mariadb_quote(column.name)
        rows, low, high = _one_row(conn, f"SELECT COUNT(*), MIN({quoted}), MAX({quoted}) FROM {table}")
        low, high = int(low or 0), int(high or 0)
        count = max(1, int(rows) // ROWS_PER_BUCKET)
        width = max(1, -(-(high - low + 1) // count))
        if high - low < 2**62:
            return Buckets(
                f"({quoted} - {low}) DIV {width}",
                f"(CAST({ident(key_form.name)} AS HUGEINT) - {low}) // {width}",
                quoted,
                low,
                width,
            )
    (rows,) = _one_row(conn, f"SELECT COUNT(*) FROM {table}")
    count = max(1, int(rows) // ROWS_PER_BUCKET)
    if key:
        source_text = row_text_mariadb([f for _, f in key])
        target_text = row_text_duckdb([f for _, f in key])
        return Buckets(f"{hash_mariadb(source_text, 1, 8)} MOD {count}", f"{hash_duckdb(target_text, 1, 8)} % {count}")
    # No key: the row's own hash (other digits than its checksum) picks the bucket.
    return Buckets(
        f"{hash_mariadb(row_text_mariadb(forms), 17, 8)} MOD {count}",
        f"{hash_duckdb(row_text_duckdb(forms), 17, 8)} % {count}",
    )


def source_sums(conn: _mysql.connection, table: str, forms: Sequence[Form], buckets: Buckets) -> Sums:
    """Each bucket's (rows, sum of row hashes), computed by the source server."""
    row_hash = hash_mariadb(row_text_mariadb(forms))
    # GROUP BY position: MariaDB would take an alias for a column of the same name.
    conn.query(f"SELECT {buckets.source}, COUNT(*), SUM({row_hash}) FROM {table} GROUP BY 1")
    rows = conn.store_result().fetch_row(maxrows=0)
    return {int(b): (int(n), int(s or 0)) for b, n, s in rows}


def target_sums_sql(relation: str, forms: Sequence[Form], buckets: Buckets) -> str:
    """DuckDB SQL giving each bucket's (b, rows, sum of row hashes) over ``relation`` (the lake's current state)."""
    row_hash = hash_duckdb(row_text_duckdb(forms))
    return (
        f"SELECT _binlake_b, count(*), sum(_binlake_h) FROM "
        f"(SELECT {buckets.target} AS _binlake_b, {row_hash} AS _binlake_h FROM {relation}) GROUP BY 1"
    )


def differing(source: Sums, target: Sums) -> list[int]:
    return sorted(b for b in source.keys() | target.keys() if source.get(b) != target.get(b))


def source_rows(
    conn: _mysql.connection, table: str, forms: Sequence[Form], buckets: Buckets, chosen: Sequence[int]
) -> Iterator[pa.RecordBatch]:
    """The canonical texts of the source rows in ``chosen`` buckets, read with a plain cursor."""
    names = [f.name for f in forms]
    schema = pa.schema([pa.field(n, pa.string()) for n in names])
    select = ", ".join(f.source for f in forms)
    for start in range(0, len(chosen), RANGES_PER_QUERY):
        part = chosen[start : start + RANGES_PER_QUERY]
        conn.query(f"SELECT {select} FROM {table} WHERE {buckets.source_filter(part)}")
        result = conn.use_result()
        while rows := result.fetch_row(maxrows=FETCH_ROWS):
            columns = list(zip(*rows, strict=True))
            arrays = [pa.array(values, pa.binary()).cast(pa.string()) for values in columns]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _one_row(conn: _mysql.connection, sql: str) -> tuple:
    conn.query(sql)
    (row,) = conn.store_result().fetch_row(maxrows=1)
    return tuple(v.decode() if isinstance(v, bytes) else v for v in row)
