"""The type table: per MySQL type (information_schema DATA_TYPE), everything binlake does with it, in one entry.

An entry says the Arrow type of the layout contract (docs/contract.md), DMS's data type name for it, how the full
load turns text-protocol values into Arrow (``text``), which binlog column types (MySQL's ``enum_field_types``)
the type arrives as in row events, how the CDC decoder hands its values to Arrow (``form``, the ``ColumnSpec``
form of capture/binlog/rows.py), and which of its binlog layouts the compiled CDC decoder (native/rows.c) leaves
to the generated Python one, on purpose (``python_cdc``). source/types.py (the full load), capture/binlog/rows.py
(CDC) and verify/canonical.py read this table; tests/unit/test_type_table.py holds both readers, both compiled
parts (native/_fetch.c, native/rows.c: their switch statements stay) and the binlog decoder to it. Adding a type
is one entry here (and its rows in tests/type_cases.py).

TIME maps to ``duration(us)``: it keeps negative values and values beyond 24 hours (MySQL's range is
-838:59:59 to 838:59:59), which ``time64`` cannot hold. BIT(n) maps to ``uint64``: n goes up to 64, and BIT(64)
with its top bit set does not fit an int64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from binlake.errors import BinlakeError

# MySQL's enum_field_types (include/mysql_com.h, MariaDB's too): a column's type code in a TABLE_MAP event.
# capture/binlog/events.py has the same numbers as T_* constants (tests/unit/test_type_table.py compares them).
FIELD_TYPES = {
    "DECIMAL": 0, "TINY": 1, "SHORT": 2, "LONG": 3, "FLOAT": 4, "DOUBLE": 5, "TIMESTAMP": 7, "LONGLONG": 8,
    "INT24": 9, "DATE": 10, "TIME": 11, "DATETIME": 12, "YEAR": 13, "NEWDATE": 14, "VARCHAR": 15, "BIT": 16,
    "TIMESTAMP2": 17, "DATETIME2": 18, "TIME2": 19, "BLOB_COMPRESSED": 140, "VARCHAR_COMPRESSED": 141,
    "JSON": 245, "NEWDECIMAL": 246, "ENUM": 247, "SET": 248, "TINY_BLOB": 249, "MEDIUM_BLOB": 250,
    "LONG_BLOB": 251, "BLOB": 252, "VAR_STRING": 253, "STRING": 254, "GEOMETRY": 255,
}  # fmt: skip

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
TIMESTAMP = pa.timestamp("us")


@dataclass(frozen=True)
class TypeArgs:
    """What of a column, beyond its type, decides its Arrow type."""

    unsigned: bool = False
    precision: int | None = None
    scale: int | None = None
    binary_charset: bool = False  # CHAR/VARCHAR/TEXT declared CHARACTER SET binary: byte strings


ArrowRule = Callable[[TypeArgs], pa.DataType]
DmsRule = Callable[[TypeArgs], str]


def _integer(signed: pa.DataType, unsigned: pa.DataType) -> ArrowRule:
    return lambda args: unsigned if args.unsigned else signed


def _integer_dms(bytes_: int) -> DmsRule:
    return lambda args: f"UINT{bytes_}" if args.unsigned else f"INT{bytes_}"


def _decimal(args: TypeArgs) -> pa.DataType:
    precision, scale = args.precision or 10, args.scale or 0
    return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)


def _text(args: TypeArgs) -> pa.DataType:
    return pa.binary() if args.binary_charset else pa.string()


def _fixed(arrow: pa.DataType) -> ArrowRule:
    return lambda args: arrow


def _dms(name: str) -> DmsRule:
    return lambda args: name


@dataclass(frozen=True)
class TypeEntry:
    """One MySQL type; see the module's docstring."""

    data_types: tuple[str, ...]  # information_schema DATA_TYPE spellings, lower case
    arrow: ArrowRule
    # DMS's data type (https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Source.MySQL.html#CHAP_Source.MySQL.DataTypes).
    # Glue, Athena and Trino types follow from the Arrow type (catalog/dialects.py).
    dms: DmsRule
    # Full load, text protocol → Arrow: 'cast' (a vectorised cast of the text), 'string' (the text itself),
    # 'binary' (the bytes), 'date' / 'datetime' / 'timestamp' (zero and invalid dates → NULL, counted), 'time'
    # (parse_time, value by value), 'bit' (big-endian bytes → uint64).
    text: str
    # FIELD_TYPES names its values arrive as in row events (after events.real_type). Text and byte strings share
    # theirs: the column's character set tells them apart (binary: bytes).
    binlog_types: tuple[str, ...]
    # CDC: how the Python decoder's values reach Arrow (ColumnSpec.form): 'plain', 'utf8', 'micros', 'unscaled'.
    form: str = "plain"
    # Binlog types of it that native/rows.c does not decode, on purpose: the generated Python decoder reads those
    # (and the whole table layout with them).
    python_cdc: tuple[str, ...] = ()

    def arrow_type(self, args: TypeArgs) -> pa.DataType:
        return self.arrow(args)

    def dms_type(self, args: TypeArgs) -> str:
        return self.dms(args)


_VAR = ("VARCHAR", "VAR_STRING", "STRING", "VARCHAR_COMPRESSED")
_BLOBS = ("BLOB", "TINY_BLOB", "MEDIUM_BLOB", "LONG_BLOB", "BLOB_COMPRESSED")
_GEOMETRY = (
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
)

ENTRIES: tuple[TypeEntry, ...] = (
    TypeEntry(("tinyint",), _integer(pa.int8(), pa.uint8()), _integer_dms(1), "cast", ("TINY",)),
    TypeEntry(("smallint",), _integer(pa.int16(), pa.uint16()), _integer_dms(2), "cast", ("SHORT",)),
    TypeEntry(("mediumint",), _integer(pa.int32(), pa.uint32()), _integer_dms(4), "cast", ("INT24",)),
    TypeEntry(("int", "integer"), _integer(pa.int32(), pa.uint32()), _integer_dms(4), "cast", ("LONG",)),
    TypeEntry(("bigint",), _integer(pa.int64(), pa.uint64()), _integer_dms(8), "cast", ("LONGLONG",)),
    # Past 38 digits (decimal256) the compiled CDC decoder leaves the column to the Python one, too.
    TypeEntry(("decimal", "numeric"), _decimal, _dms("NUMERIC"), "cast", ("NEWDECIMAL",), "unscaled"),
    # FLOAT is read as CAST(col AS DOUBLE) in the full load (source/types.py select_expression).
    TypeEntry(("float",), _fixed(pa.float32()), _dms("REAL4"), "cast", ("FLOAT",)),
    TypeEntry(("double", "real"), _fixed(pa.float64()), _dms("REAL8"), "cast", ("DOUBLE",)),
    TypeEntry(("date",), _fixed(pa.date32()), _dms("DATE"), "date", ("DATE", "NEWDATE")),
    # The old (MariaDB 5.3) layouts DATETIME, TIMESTAMP and TIME: the Python decoder reads them (rows.c does not).
    TypeEntry(
        ("datetime",),
        _fixed(TIMESTAMP),
        _dms("DATETIME"),
        "datetime",
        ("DATETIME2", "DATETIME"),
        python_cdc=("DATETIME",),
    ),
    TypeEntry(
        ("timestamp",),
        _fixed(UTC_TIMESTAMP),
        _dms("DATETIME"),
        "timestamp",
        ("TIMESTAMP2", "TIMESTAMP"),
        "micros",
        python_cdc=("TIMESTAMP",),
    ),
    TypeEntry(
        ("time",), _fixed(pa.duration("us")), _dms("TIME"), "time", ("TIME2", "TIME"), "micros", python_cdc=("TIME",)
    ),
    TypeEntry(("year",), _fixed(pa.int16()), _dms("INT2"), "cast", ("YEAR",)),
    TypeEntry(("bit",), _fixed(pa.uint64()), _dms("BYTES"), "bit", ("BIT",)),
    # COMPRESSED columns (MariaDB) are uncompressed by the Python decoder only.
    TypeEntry(("char", "varchar"), _text, _dms("WSTRING"), "string", _VAR, "utf8", python_cdc=_VAR[-1:]),
    TypeEntry(
        ("tinytext", "text", "mediumtext", "longtext"),
        _text,
        _dms("NCLOB"),
        "string",
        _BLOBS,
        "utf8",
        python_cdc=_BLOBS[-1:],
    ),
    TypeEntry(("enum",), _text, _dms("WSTRING"), "string", ("ENUM",)),
    TypeEntry(("set",), _text, _dms("WSTRING"), "string", ("SET",)),
    # MariaDB's JSON is LONGTEXT with a check: its binlog values are text (MySQL's binary JSON is not read yet).
    TypeEntry(("json",), _text, _dms("CLOB"), "string", ("BLOB",), "utf8"),
    # MariaDB's own types (10.7+, 10.10+), read as their text forms; the binlog has their bytes as BINARY(n),
    # which the Python decoder turns into that text (capture/binlog/rows.py BINARY_AS_TEXT).
    TypeEntry(("uuid",), _text, _dms("WSTRING"), "string", ("STRING",), python_cdc=("STRING",)),
    TypeEntry(("inet4",), _text, _dms("WSTRING"), "string", ("STRING",), python_cdc=("STRING",)),
    TypeEntry(("inet6",), _text, _dms("WSTRING"), "string", ("STRING",), python_cdc=("STRING",)),
    TypeEntry(("binary", "varbinary"), _fixed(pa.binary()), _dms("BYTES"), "binary", _VAR, python_cdc=_VAR[-1:]),
    TypeEntry(
        ("tinyblob", "blob", "mediumblob", "longblob"),
        _fixed(pa.binary()),
        _dms("BLOB"),
        "binary",
        _BLOBS,
        python_cdc=_BLOBS[-1:],
    ),
    TypeEntry(_GEOMETRY, _fixed(pa.binary()), _dms("BLOB"), "binary", ("GEOMETRY",)),
)

BY_DATA_TYPE: dict[str, TypeEntry] = {name: entry for entry in ENTRIES for name in entry.data_types}
# Binlog types that belong to one MySQL type (numbers, dates and times, BIT, ENUM, SET, GEOMETRY), by code.
BY_BINLOG_TYPE: dict[int, TypeEntry] = {
    FIELD_TYPES[name]: entry
    for entry in ENTRIES
    for name in entry.binlog_types
    if sum(name in other.binlog_types for other in ENTRIES) == 1
}


def entry_of(data_type: str, column: str, column_type: str) -> TypeEntry:
    """The entry of an information_schema DATA_TYPE; a type binlake does not map stops with the fix."""
    entry = BY_DATA_TYPE.get(data_type.lower())
    if entry is None:
        raise BinlakeError(
            f"column {column} has type {column_type}, which binlake does not map yet",
            fix="exclude the column with a remove-column transformation rule",
        )
    return entry


def data_types(text: str) -> frozenset[str]:
    """The DATA_TYPE spellings whose full-load conversion is ``text`` ('string', 'binary', ...)."""
    return frozenset(name for entry in ENTRIES if entry.text == text for name in entry.data_types)
