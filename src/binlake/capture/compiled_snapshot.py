"""The full load's compiled reader (binlake.native._fetch) behind the same interface as the pure-Python one.

The C code fills one set of plain buffers per column per batch (validity bitmap, values, offsets), laid out as the
Arrow arrays of the layout contract; here they become ``pa.Array.from_buffers`` without a copy and without a
Python object per value. Types and values are exactly those of ``binlake.source.types.decode_text_column``
(tests/test_compiled_full_load.py holds both paths to that).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import ModuleType

import pyarrow as pa
from MySQLdb import _mysql

from binlake.source.types import Column, DecodeCounters, arrow_type

# Kinds as _fetch.c numbers them.
I8, I16, I32, I64, U8, U16, U32, U64 = range(1, 9)
F32, F64, DEC128, DEC256, DATE, DATETIME, TIME, BIT, STRING, BINARY = range(9, 19)

_BY_TYPE = {
    pa.int8(): I8,
    pa.int16(): I16,
    pa.int32(): I32,
    pa.int64(): I64,
    pa.uint8(): U8,
    pa.uint16(): U16,
    pa.uint32(): U32,
    pa.uint64(): U64,
    pa.float32(): F32,
    pa.float64(): F64,
    pa.date32(): DATE,
    pa.timestamp("us"): DATETIME,
    pa.timestamp("us", tz="UTC"): DATETIME,
    pa.duration("us"): TIME,
    pa.string(): STRING,
    pa.binary(): BINARY,
}
# A batch also ends before the row that takes its values past this many bytes (long BLOBs stay bounded).
MAX_BATCH_BYTES = 64 * 1024 * 1024


def kind_of(column: Column) -> tuple[int, int]:
    """(kind, decimal scale) of a column for _fetch.c."""
    target = arrow_type(column)
    if column.data_type.lower() == "bit":
        return BIT, 0
    if pa.types.is_decimal(target):
        return (DEC128 if target.bit_width == 128 else DEC256), target.scale
    return _BY_TYPE[target], 0


def _array(kind: int, target: pa.DataType, rows: int, column: tuple) -> pa.Array:
    validity, data, offsets, null_count, _zero_dates, bad_utf8 = column
    validity_buffer = None if validity is None else pa.py_buffer(validity)
    if offsets is None:
        return pa.Array.from_buffers(target, rows, [validity_buffer, pa.py_buffer(data)], null_count=null_count)
    buffers = [validity_buffer, pa.py_buffer(offsets), pa.py_buffer(data)]
    if bad_utf8:
        # The pure-Python path casts binary to string: the same cast raises the same error here.
        return pa.Array.from_buffers(pa.binary(), rows, buffers, null_count=null_count).cast(pa.string())
    return pa.Array.from_buffers(target, rows, buffers, null_count=null_count)


def read_compiled_batches(
    fetch: ModuleType,
    conn: _mysql.connection,
    columns: Sequence[Column],
    schema: pa.Schema,
    batch_rows: int,
    counters: DecodeCounters,
) -> Iterator[pa.RecordBatch]:
    """Batches of the result of the SELECT just sent on ``conn``, read by the compiled reader."""
    kinds = [kind_of(column) for column in columns]
    try:
        reader = fetch.Reader(conn, [kind for kind, _ in kinds], [scale for _, scale in kinds])
    except fetch.Error as exc:
        raise _mysql.OperationalError(*exc.args) from None
    try:
        while True:
            try:
                fetched = reader.fetch(batch_rows, MAX_BATCH_BYTES)
            except fetch.Error as exc:
                raise _mysql.OperationalError(*exc.args) from None
            if fetched is None:
                return
            rows, buffers = fetched
            arrays = []
            for (kind, _), field, column in zip(kinds, schema, buffers, strict=True):
                counters.zero_dates += column[4]
                arrays.append(_array(kind, field.type, rows, column))
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
    finally:
        reader.close()
