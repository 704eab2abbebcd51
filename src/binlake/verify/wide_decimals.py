"""DECIMAL wider than 38 digits, read from the lake exactly.

DuckDB reads Parquet's decimal256 as a DOUBLE (its decimals stop at 38 digits), which rounds: -1.5 comes back
as -1.4999999999999998. For verify's exact compare such columns are read with pyarrow instead and written as
text with all their decimals, the form MariaDB prints (``CAST(x AS CHAR)``); the merge then uses that text.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from binlake.catalog.lake import Lake, LakeTable
from binlake.catalog.sql import Bookkeeping


def wide_decimal_columns(schema: pa.Schema, names: Sequence[str]) -> list[str]:
    """The columns of ``names`` the lake stores as decimals of more than 38 digits."""
    return [f.name for f in schema if f.name in names and pa.types.is_decimal(f.type) and f.type.precision > 38]


def decimal_text(value: object, scale: int) -> str | None:
    return None if value is None else f"{value:.{scale}f}"


def wide_decimal_texts(lake: Lake, table: LakeTable, columns: Sequence[str], names: Bookkeeping) -> pa.Table:
    """(file name, row in the file, one text column per name of ``columns``) for every row of every file of
    ``table``; the first two named as in the change log, by ``names``."""
    parts: list[pa.Table] = []
    for info in table.files:
        with lake.bucket.fs.open_input_file(lake.path(info)) as handle:
            data = pq.read_table(handle)
        present = [c for c in columns if c in data.column_names]
        arrays: dict[str, pa.Array] = {
            names.file: pa.array([info.path.rpartition("/")[2]] * data.num_rows, pa.string()),
            names.row: pa.array(range(data.num_rows), pa.int64()),
        }
        for name in columns:
            if name in present:
                scale = data.schema.field(name).type.scale
                arrays[name] = pa.array([decimal_text(v, scale) for v in data.column(name).to_pylist()], pa.string())
            else:
                arrays[name] = pa.nulls(data.num_rows, pa.string())
        parts.append(pa.table(arrays))
    empty = pa.schema([(names.file, pa.string()), (names.row, pa.int64()), *((c, pa.string()) for c in columns)])
    return pa.concat_tables(parts) if parts else empty.empty_table()
