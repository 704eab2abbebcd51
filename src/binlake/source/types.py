"""MySQL column types → Arrow types, and the decode of text-protocol values into Arrow columns.

Both follow the type table (source/type_table.py: the Arrow type and the text conversion of each MySQL type).
Values arrive from the server as raw bytes (the text protocol, ``conv={}``) and are turned into one Arrow array
per column per batch with vectorised casts; only the rare types without an Arrow cast (TIME, BIT) go value by
value.

FLOAT must be selected as ``CAST(col AS DOUBLE)`` (``select_expression``): MariaDB's text protocol prints
FLOAT with 6 significant digits (16777216 comes back as '16777200'), while the double it widens to prints
exactly and narrows back to the stored float32 without loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from binlake.source import type_table

_ZERO_DATE_PATTERN = r"^0000-|-00"
_UTC_TIMESTAMP = type_table.UTC_TIMESTAMP
_TIMESTAMP = type_table.TIMESTAMP


@dataclass(frozen=True)
class Column:
    """One source column as information_schema describes it."""

    name: str
    data_type: str  # information_schema DATA_TYPE, lower case: 'int', 'decimal', 'datetime', ...
    column_type: str  # full COLUMN_TYPE: 'int(10) unsigned', "enum('a','b')", ...
    nullable: bool = True
    numeric_precision: int | None = None
    numeric_scale: int | None = None
    character_set: str | None = None

    @property
    def unsigned(self) -> bool:
        return "unsigned" in self.column_type.lower()


def arrow_type(column: Column) -> pa.DataType:
    """The Arrow type a MySQL column maps to (exact: no widening, no loss)."""
    return entry(column).arrow_type(type_args(column))


def entry(column: Column) -> type_table.TypeEntry:
    """The column's type table entry; a type binlake does not map stops with the fix."""
    return type_table.entry_of(column.data_type, column.name, column.column_type)


def type_args(column: Column) -> type_table.TypeArgs:
    return type_table.TypeArgs(
        column.unsigned, column.numeric_precision, column.numeric_scale, column.character_set == "binary"
    )


@dataclass
class DecodeCounters:
    """What decoding changed on the way: zero or invalid dates turned into NULL (DMS does the same)."""

    zero_dates: int = 0


def _null_zero_dates(text: pa.Array, counters: DecodeCounters) -> pa.Array:
    import pyarrow.compute as pc  # here: importing it takes 0.1 s, and only the pure-Python path needs it

    date_part = pc.utf8_slice_codeunits(text, 0, 10)
    zero = pc.match_substring_regex(date_part, _ZERO_DATE_PATTERN)
    zero_count = pc.sum(zero).as_py() or 0
    if zero_count:
        counters.zero_dates += zero_count
        text = pc.if_else(zero, pa.scalar(None, pa.string()), text)
    return text


def _cast_dates(text: pa.Array, target: pa.DataType, counters: DecodeCounters) -> pa.Array:
    """Date text → ``target``. ALLOW_INVALID_DATES lets days past the month's end in ('2024-02-30'): they are no
    dates either, so they become NULL and are counted like zero dates (checked only when the cast fails)."""
    try:
        return text.cast(target)
    except pa.ArrowInvalid:
        import pyarrow.compute as pc  # here: see _null_zero_dates

        date_part = pc.utf8_slice_codeunits(text, 0, 10)
        parsed = pc.strptime(date_part, format="%Y-%m-%d", unit="s", error_is_null=True)
        # strptime rolls '2024-02-30' over to March: a date is valid when it prints back as it was written.
        invalid = pc.fill_null(pc.not_equal(pc.strftime(parsed, format="%Y-%m-%d"), date_part), True)
        invalid = pc.and_(invalid, pc.is_valid(text))
        counters.zero_dates += pc.sum(invalid).as_py() or 0
        return pc.if_else(invalid, pa.scalar(None, pa.string()), text).cast(target)


def select_expression(column: Column) -> str:
    """The SELECT-list expression that reads ``column`` without loss through the text protocol."""
    quoted = "`" + column.name.replace("`", "``") + "`"
    if column.data_type.lower() == "float":
        return f"CAST({quoted} AS DOUBLE)"
    return quoted


def parse_time(value: bytes | str) -> int:
    """MySQL TIME text ('-838:59:59.000000') → microseconds."""
    text = value.decode() if isinstance(value, bytes) else value
    negative = text.startswith("-")
    if negative:
        text = text[1:]
    clock, _, fraction = text.partition(".")
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    micros = ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + int((fraction + "000000")[:6])
    return -micros if negative else micros


def decode_text_column(values: Sequence[bytes | None], column: Column, counters: DecodeCounters) -> pa.Array:
    """Raw text-protocol values of one column → an Arrow array of ``arrow_type(column)``, as its type table
    entry's ``text`` says."""
    kind = entry(column)
    target = kind.arrow_type(type_args(column))
    conversion = kind.text
    if conversion == "binary" or pa.types.is_binary(target):  # CHAR ... CHARACTER SET binary too
        return pa.array(values, pa.binary())
    if conversion == "time":
        return pa.array([None if v is None else parse_time(v) for v in values], pa.int64()).cast(target)
    if conversion == "bit":
        return pa.array([None if v is None else int.from_bytes(v, "big") for v in values], pa.uint64())
    # Building binary then validating UTF-8 in one pass is about twice as fast as building strings.
    text = pa.array(values, pa.binary()).cast(pa.string())
    if conversion == "string":
        return text
    if conversion in ("date", "datetime", "timestamp"):
        text = _null_zero_dates(text, counters)
        if conversion == "date":
            return _cast_dates(text, pa.date32(), counters)
        naive = _cast_dates(text, _TIMESTAMP, counters)
        return naive.cast(_UTC_TIMESTAMP) if conversion == "timestamp" else naive
    return text.cast(target)  # 'cast'


def arrow_field(column: Column, name: str | None = None) -> pa.Field:
    return pa.field(name or column.name, arrow_type(column), nullable=True)
