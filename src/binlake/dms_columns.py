"""The columns DMS adds in front of a table's own: ``Op``, then the ``TimestampColumnName`` column.

DMS writes the timestamp column as a *required string* with microseconds and no zone,
``'2022-07-26 06:46:18.616807'`` (seen in a LOAD file AWS DMS wrote, even with ParquetTimestampInMillisecond
on), so jobs that parse that string read binlake's files too. ``TimestampColumnType: timestamp`` (binlake's
own setting) writes a required ``timestamp(us)`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

TIMESTAMP_TYPES = ("string", "timestamp")
# Arrow's %S prints the fraction of a microsecond timestamp: 06:46:18.616807, as DMS writes it.
_FORMAT = "%Y-%m-%d %H:%M:%S"


def timestamp_field(name: str, kind: str = "string") -> pa.Field:
    """The TimestampColumnName field: never null, a string (DMS) or a timestamp(us) without zone."""
    return pa.field(name, pa.string() if kind == "string" else pa.timestamp("us"), nullable=False)


def timestamp_array(epoch_micros: Sequence[int], kind: str = "string") -> pa.Array:
    """Times (microseconds since the epoch, UTC) as the TimestampColumnName column's values."""
    import pyarrow.compute as pc  # here: importing it takes 0.1 s, and only a TimestampColumnName needs it

    stamps = pa.array(epoch_micros, pa.int64()).cast(pa.timestamp("us"))
    return pc.strftime(stamps, format=_FORMAT) if kind == "string" else stamps


def with_dms_columns(
    arrays: list[pa.Array],
    names: Sequence[str],
    ops: Sequence[str] | None,
    timestamp_name: str,
    epoch_micros: Sequence[int],
    timestamp_kind: str = "string",
) -> pa.RecordBatch:
    """A batch of the table's columns with ``Op`` (when ``ops`` is given) and the timestamp column in front."""
    arrays = list(arrays)
    fields = [pa.field(name, array.type) for name, array in zip(names, arrays, strict=True)]
    if timestamp_name:
        arrays.insert(0, timestamp_array(epoch_micros, timestamp_kind))
        fields.insert(0, timestamp_field(timestamp_name, timestamp_kind))
    if ops is not None:
        arrays.insert(0, pa.array(ops, pa.string()))
        fields.insert(0, pa.field("Op", pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
