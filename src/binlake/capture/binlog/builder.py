"""Rows events → Arrow arrays through the compiled decoder (binlake.native._rows), one builder per table layout.

The compiled decoder reads the same column walk as the generated Python one (``RowDecoder.native``) into Arrow
buffers, so pending changes weigh what their Arrow data weighs and no Python object is made per value. A layout
with a column only the Python decoder reads, or no extension at all (``BINLAKE_PURE_PYTHON=1``, not built), gets
no builder: the caller keeps the Python path. Both give identical arrays (tests/test_native_rows.py).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import pyarrow as pa

from binlake import native
from binlake.capture.binlog.reader import RowChanges
from binlake.capture.binlog.rows import RowDecoder
from binlake.errors import BinlakeError


class ArrowRows:
    """The rows of one table layout held as Arrow buffers: ``append`` events, ``finish`` into arrays."""

    def __init__(self, module: object, decoder: RowDecoder, keep: Sequence[int], key: Sequence[int]) -> None:
        self.decoder = decoder
        self.keep = tuple(keep)
        stored = set(keep) | set(key)
        columns = [(op, a, b, members, index in stored) for index, (op, a, b, members) in enumerate(decoder.native)]  # type: ignore[misc]
        self._builder = module.Builder(columns, list(key))  # type: ignore[attr-defined]

    @property
    def rows(self) -> int:
        return self._builder.rows

    @property
    def nbytes(self) -> int:
        """Bytes of Arrow data held (values, offsets, validity, Op and time)."""
        return self._builder.nbytes

    def append(self, changes: RowChanges, commit_micros: int, inserts_only: bool, no_deletes: bool) -> int:
        """Decodes the event's images into the buffers with changes.TableChanges' rules; returns the images read."""
        try:
            images = self._builder.append(changes.data, changes.kind, commit_micros, inserts_only, no_deletes)
        except ValueError as exc:  # never a guessed value (invariant 8): stop, saying where
            table_map = self.decoder.table_map
            raise BinlakeError(
                f"the rows of {table_map.schema}.{table_map.table} at binlog position {changes.position} do not "
                f"match their table map ({exc})",
                fix="report this binlog event to binlake; exclude the table to continue",
            ) from None
        finally:
            self.decoder.count_zero_dates(self._builder.take_zero_dates())
        return images

    def finish(self) -> tuple[pa.Array, pa.Array, list[pa.Array]]:
        """(Op strings, commit times as int64 microseconds, the kept columns' arrays); the builder is emptied."""
        rows, ops, times, columns = self._builder.finish()
        offsets = pa.py_buffer(array("i", range(rows + 1)).tobytes())
        op_array = pa.Array.from_buffers(pa.string(), rows, [None, offsets, pa.py_buffer(ops)])
        time_array = pa.Array.from_buffers(pa.int64(), rows, [None, pa.py_buffer(times)])
        arrays = []
        for index in self.keep:
            spec = self.decoder.specs[index]
            validity, nulls, data, column_offsets = columns[index]
            buffers = [None if validity is None else pa.py_buffer(validity)]
            if column_offsets is not None:
                buffers.append(pa.py_buffer(column_offsets))
            buffers.append(pa.py_buffer(data))
            result = pa.Array.from_buffers(spec.arrow_type, rows, buffers, nulls)
            if spec.form == "utf8":
                self._check_text(result, spec.name)
            arrays.append(result)
        return op_array, time_array, arrays

    def _check_text(self, result: pa.Array, column: str) -> None:
        try:
            result.validate(full=True)
        except pa.ArrowInvalid as exc:
            table_map = self.decoder.table_map
            raise BinlakeError(
                f"a text value of {table_map.schema}.{table_map.table}.{column} is not valid utf-8 ({exc})",
                fix="convert the column to utf8mb4, or exclude it with a remove-column transformation rule",
            ) from None


def arrow_rows(decoder: RowDecoder, keep: Sequence[int], key: Sequence[int]) -> ArrowRows | None:
    """A compiled builder for the layout, or None when the Python decoder must read it."""
    module = native.extension("_rows")
    if module is None or any(op is None for op in decoder.native):
        return None
    return ArrowRows(module, decoder, keep, key)
