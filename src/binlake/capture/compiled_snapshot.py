"""The full load's compiled reader (binlake.native._fetch) behind the same interface as the pure-Python one.

The C code fills one set of plain buffers per column per batch (validity bitmap, values, offsets), laid out as the
Arrow arrays of the layout contract; here they become ``pa.Array.from_buffers`` without a copy and without a
Python object per value. Types and values are exactly those of ``binlake.source.types.decode_text_column``
(tests/test_compiled_full_load.py holds both paths to that).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator, Sequence
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
# Batches the reader thread fetches ahead of the Parquet encoding (0: no thread).
PREFETCH_BATCHES = 1


def kind_of(column: Column) -> tuple[int, int]:
    """(kind, decimal scale) of a column for _fetch.c."""
    target = arrow_type(column)
    if column.data_type.lower() == "bit":
        return BIT, 0
    if pa.types.is_decimal(target):
        return (DEC128 if target.bit_width == 128 else DEC256), target.scale
    return _BY_TYPE[target], 0


def _array(target: pa.DataType, rows: int, column: tuple) -> pa.Array:
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
    prefetch: int | None = None,
) -> Iterator[pa.RecordBatch]:
    """Batches of the result of the SELECT just sent on ``conn``, read by the compiled reader.

    With ``prefetch`` > 0 a reader thread fetches up to that many batches ahead while the caller encodes the
    previous one (both release the GIL, so they run on two cores); memory grows by those batches. Default:
    PREFETCH_BATCHES."""
    prefetch = PREFETCH_BATCHES if prefetch is None else prefetch
    kinds = [kind_of(column) for column in columns]
    try:
        reader = fetch.Reader(conn, [kind for kind, _ in kinds], [scale for _, scale in kinds])
    except fetch.Error as exc:
        raise _mysql.OperationalError(*exc.args) from None
    fetched_batches = _prefetched(reader, batch_rows, prefetch) if prefetch > 0 else _fetched(reader, batch_rows)
    try:
        for rows, buffers in fetched_batches:
            arrays = []
            for field, column in zip(schema, buffers, strict=True):
                counters.zero_dates += column[4]
                arrays.append(_array(field.type, rows, column))
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
    except fetch.Error as exc:
        raise _mysql.OperationalError(*exc.args) from None
    finally:
        fetched_batches.close()
        reader.close()


def _fetched(reader: object, batch_rows: int) -> Generator[tuple[int, list]]:
    while (fetched := reader.fetch(batch_rows, MAX_BATCH_BYTES)) is not None:  # type: ignore[attr-defined]
        yield fetched


_END = object()


def _prefetched(reader: object, batch_rows: int, depth: int) -> Generator[tuple[int, list]]:
    """The reader's batches, fetched by a thread of their own up to ``depth`` batches ahead."""
    batches: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                batches.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fetch_all() -> None:
        try:
            for fetched in _fetched(reader, batch_rows):
                if not put(fetched):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    thread = threading.Thread(target=fetch_all, name="binlake-full-load-fetch", daemon=True)
    thread.start()
    try:
        while True:
            item = batches.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
