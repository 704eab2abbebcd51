"""Full-load reads: a table streamed in Arrow record batches, in bounded memory.

The server streams the result (``use_result``) and we pull ``batch_rows`` rows at a time as raw bytes,
then decode column by column into Arrow; memory is a function of ``batch_rows``, never of table size.
The compiled reader (binlake.native._fetch, capture/compiled_snapshot.py) does the same in C on the same
connection when it is built; BINLAKE_PURE_PYTHON=1 selects the pure-Python reader here.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pyarrow as pa
from MySQLdb import _mysql

from binlake import native
from binlake.capture.compiled_snapshot import read_compiled_batches
from binlake.source.schema import SourceTable
from binlake.source.types import Column, DecodeCounters, arrow_field, decode_text_column, select_expression


def read_batches(
    conn: _mysql.connection,
    table: SourceTable,
    columns: Sequence[Column],
    batch_rows: int,
    counters: DecodeCounters,
) -> Iterator[pa.RecordBatch]:
    """Stream ``columns`` of ``table`` as record batches of at most ``batch_rows`` rows."""
    schema = pa.schema([arrow_field(column) for column in columns])
    select = ", ".join(select_expression(column) for column in columns)
    conn.query(f"SELECT {select} FROM {table.qualified}")
    fetch = native.extension("_fetch")
    if fetch is not None:
        yield from read_compiled_batches(fetch, conn, columns, schema, batch_rows, counters)
        return
    result = conn.use_result()
    with _cyclic_gc_paused():
        while True:
            rows = result.fetch_row(maxrows=batch_rows, how=0)
            if not rows:
                break
            values = list(zip(*rows, strict=False))
            arrays = [decode_text_column(values[i], column, counters) for i, column in enumerate(columns)]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)


_gc_lock = threading.Lock()
_gc_readers = 0
_gc_was_enabled = True


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while tables are read.

    Every fetched row is a new tuple, so the collector would run again and again over objects that cannot
    form cycles (tuples of bytes); measured, that was about a third of an exact comparison's time. It runs
    again as soon as the last reader in the process is done.
    """
    global _gc_readers, _gc_was_enabled
    with _gc_lock:
        if _gc_readers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_readers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_readers -= 1
            if _gc_readers == 0 and _gc_was_enabled:
                gc.enable()
