"""Row hashes computed by the source server and by DuckDB over the lake, and the rows behind the hashes that differ.

The source server computes, for every row, the first 64 bits of the MD5 of the row's canonical text
(``canonical.py``) and sends only that and the key's canonical text; DuckDB computes the same over the lake's
current state. The two are joined by key (a table without a primary key: compared as multisets of hashes,
so duplicated rows count), which gives the exact number of differing rows. Only the first few differing rows
are read again, as canonical text with a plain cursor, to name the columns that differ.

The hashes are streamed rather than summed per bucket on the server: MariaDB's GROUP BY into a temporary
table cost more than sending 1M short rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa
from MySQLdb import _mysql

from binlake.catalog.sql import ident
from binlake.source.types import Column
from binlake.verify.canonical import INTEGER_KINDS, Form, mariadb_quote, row_text_duckdb, row_text_mariadb

FETCH_ROWS = 50_000


def hash_schema(key: Sequence[Form], hash_name: str) -> pa.Schema:
    """The key's canonical texts and the row hash, named ``hash_name`` (``Bookkeeping.hash``)."""
    return pa.schema([*(pa.field(f.name, pa.string()) for f in key), pa.field(hash_name, pa.string())])


def source_hashes(
    conn: _mysql.connection, table: str, key: Sequence[Form], forms: Sequence[Form], hash_name: str
) -> Iterator[pa.RecordBatch]:
    """(key's canonical texts, row hash) of every source row, computed by the server."""
    schema = hash_schema(key, hash_name)
    selected = [*(f.source for f in key), f"SUBSTR(MD5({row_text_mariadb(forms)}), 1, 16)"]
    conn.query(f"SELECT {', '.join(selected)} FROM {table}")
    result = conn.use_result()
    while rows := result.fetch_row(maxrows=FETCH_ROWS):
        columns = list(zip(*rows, strict=True))
        arrays = [pa.array(values, pa.binary()).cast(pa.string()) for values in columns]
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def target_hashes_sql(relation: str, key: Sequence[Form], forms: Sequence[Form], hash_name: str) -> str:
    """DuckDB SQL: (key's canonical texts, row hash) of every row of ``relation`` (the lake's current state)."""
    selected = [*(f"{f.target} AS {ident(f.name)}" for f in key), f"substr(md5({row_text_duckdb(forms)}), 1, 16)"]
    return f"SELECT {', '.join(selected)} AS {ident(hash_name)} FROM {relation}"


def source_rows(conn: _mysql.connection, table: str, forms: Sequence[Form], where: str) -> list[tuple[str | None, ...]]:
    """The canonical texts of the source rows matching ``where``, read with a plain cursor."""
    conn.query(f"SELECT {', '.join(f.source for f in forms)} FROM {table} WHERE {where}")
    rows = conn.store_result().fetch_row(maxrows=0)
    return [tuple(None if v is None else v.decode() for v in row) for row in rows]


def source_key_filter(key: Sequence[tuple[Column, Form]], values: Sequence[Sequence[str | None]]) -> str:
    """A WHERE condition for the rows whose keys have the canonical texts ``values``: integer and text key
    columns are compared as stored (through the index), others by their canonical text."""
    parts = []
    for column, key_form in key:
        kind = column.data_type.lower()
        if kind in INTEGER_KINDS:
            parts.append((mariadb_quote(column.name), lambda v: str(int(v))))
        elif key_form.is_text:
            parts.append((mariadb_quote(column.name), sql_string))
        else:
            parts.append((key_form.source, sql_string))
    left = "(" + ", ".join(expression for expression, _ in parts) + ")"
    rows = [
        "(" + ", ".join("NULL" if v is None else show(v) for (_, show), v in zip(parts, row, strict=True)) + ")"
        for row in values
    ]
    return f"{left} IN ({', '.join(rows)})"


def source_hash_filter(forms: Sequence[Form], hashes: Sequence[str]) -> str:
    """A WHERE condition for the source rows with these row hashes (a scan: only for a few example rows)."""
    return f"SUBSTR(MD5({row_text_mariadb(forms)}), 1, 16) IN ({', '.join(sql_string(h) for h in hashes)})"


def sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
