"""The type table (source/type_table.py) against every reader that follows it: the full load's conversion
(source/types.py), its compiled reader's kinds (native/_fetch.c through capture/compiled_snapshot.py), the generated
binlog decoder (capture/binlog/rows.py) and the compiled one's operations (native/rows.c). A type added to the table
that one of them does not handle, and does not leave to the Python path explicitly, fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

import binlake
from binlake.capture import compiled_snapshot
from binlake.capture.binlog import events as ev
from binlake.capture.binlog import rows
from binlake.capture.binlog.charsets import Codec
from binlake.capture.binlog.rows import RowDecoder
from binlake.errors import BinlakeError
from binlake.source import type_table
from binlake.source.type_table import ENTRIES, FIELD_TYPES, TypeArgs, TypeEntry
from binlake.source.types import Column, DecodeCounters, arrow_type, decode_text_column

NATIVE = Path(binlake.__file__).parent / "native"
UTF8MB4, BINARY = 45, 63
TEXT_CONVERSIONS = {"cast", "string", "binary", "date", "datetime", "timestamp", "time", "bit"}
FORMS = {"plain", "utf8", "micros", "unscaled"}


def entry_id(entry: TypeEntry) -> str:
    return entry.data_types[0]


def test_field_types_are_the_binlog_decoders_numbers() -> None:
    assert {name: getattr(ev, f"T_{name}") for name in FIELD_TYPES} == FIELD_TYPES


def test_every_data_type_has_one_entry_and_known_rules() -> None:
    names = [name for entry in ENTRIES for name in entry.data_types]
    assert len(names) == len(set(names))
    for entry in ENTRIES:
        assert entry.text in TEXT_CONVERSIONS, entry
        assert entry.form in FORMS, entry
        assert set(entry.binlog_types) <= set(FIELD_TYPES), entry
        assert set(entry.python_cdc) <= set(entry.binlog_types), entry


def test_an_unmapped_type_stops_with_the_fix() -> None:
    with pytest.raises(BinlakeError) as caught:
        arrow_type(Column("v", "vector", "vector(3)"))
    assert str(caught.value) == (
        "column v has type vector(3), which binlake does not map yet "
        "(fix: exclude the column with a remove-column transformation rule)"
    )


# -- the full load ------------------------------------------------------------------------------------------------
def columns_of(entry: TypeEntry) -> list[Column]:
    """One Column per spelling, signed and unsigned, text in utf8mb4 and in the binary character set."""
    columns = []
    for name in entry.data_types:
        columns.append(Column("c", name, f"{name}(10,2)", numeric_precision=10, numeric_scale=2))
        columns.append(Column("c", name, f"{name} unsigned", character_set="binary"))
    return columns


def c_enum(source: str, prefix: str) -> list[str]:
    """The names of a C ``enum { PREFIX_A = 1, PREFIX_B, ... }`` in order."""
    match = re.search(r"enum\s*\{([^}]*)\}", source)
    assert match is not None
    return re.findall(rf"\b({prefix}\w+)", re.sub(r"/\*.*?\*/", "", match.group(1), flags=re.S))


@pytest.mark.parametrize("entry", ENTRIES, ids=entry_id)
def test_full_load_readers_follow_the_table(entry: TypeEntry) -> None:
    source = (NATIVE / "_fetch.c").read_text()
    kinds = c_enum(source, "K_")
    width_table = re.search(r"kind_width\[K_LAST\] = \{([^}]*)\}", source)
    assert width_table is not None
    widths = [int(width) for width in re.findall(r"\d+", width_table.group(1))]
    for column in columns_of(entry):
        expected = entry.arrow_type(type_table_args(column))
        assert arrow_type(column) == expected, column
        # The Python reader: a NULL converts to a NULL of the table's type.
        array = decode_text_column([None], column, DecodeCounters())
        assert array.type == expected and array.null_count == 1, column
        # The compiled reader: a kind _fetch.c numbers as compiled_snapshot.py does; a fixed-width one has a case in
        # its switch, a variable-length one (width 0) goes through the offsets path.
        kind, _ = compiled_snapshot.kind_of(column)
        name = kinds[kind - 1]
        assert getattr(compiled_snapshot, name[2:]) == kind, (column, name)
        if widths[kind]:
            assert re.search(rf"case {name}\b", source), f"_fetch.c has no case {name} for {column.data_type}"
        else:
            assert name in ("K_STRING", "K_BINARY"), name


def type_table_args(column: Column) -> TypeArgs:
    return TypeArgs(column.unsigned, column.numeric_precision, column.numeric_scale, column.character_set == "binary")


# -- CDC ------------------------------------------------------------------------------------------------------------
def binlog_column(entry: TypeEntry, binlog_type: str, precision: int = 10) -> tuple[int, int, int | None, str]:
    """(type byte, metadata, collation, COLUMN_TYPE) of a table map column of ``binlog_type`` for ``entry``."""
    code = FIELD_TYPES[binlog_type]
    text = entry.text == "string"
    collation = (UTF8MB4 if text else BINARY) if entry.text in ("string", "binary") else None
    column_type = entry.data_types[0]
    if column_type in rows.BINARY_AS_TEXT:  # MariaDB's UUID, INET4, INET6: BINARY(n) in the binlog
        collation = BINARY
    if binlog_type in ("ENUM", "SET"):
        return ev.T_STRING, code << 8 | 1, UTF8MB4, column_type
    if binlog_type == "NEWDECIMAL":
        return code, precision << 8 | 2, None, column_type
    if binlog_type in ("DATETIME2", "TIMESTAMP2", "TIME2"):
        return code, 3, None, column_type
    if binlog_type in ("DATETIME", "TIMESTAMP", "TIME"):  # MariaDB 5.3's layouts: precision from the schema
        return code, 0, None, f"{column_type}(3) /* mariadb-5.3 */"
    if binlog_type == "BIT":
        return code, 1 << 8 | 3, None, column_type
    if binlog_type == "STRING":
        size = {"uuid": 16, "inet4": 4, "inet6": 16}.get(column_type, 40)
        return code, code << 8 | size, collation, column_type
    if binlog_type in ("VARCHAR", "VAR_STRING", "VARCHAR_COMPRESSED"):
        return code, 40, collation, column_type
    if binlog_type in ("BLOB", "TINY_BLOB", "MEDIUM_BLOB", "LONG_BLOB", "BLOB_COMPRESSED", "GEOMETRY"):
        return code, 2, collation, column_type
    return code, 0, None, column_type


def decoder_for(entry: TypeEntry, binlog_type: str, precision: int = 10) -> RowDecoder:
    code, meta, collation, column_type = binlog_column(entry, binlog_type, precision)
    table_map = ev.TableMap(
        1, "s", "t", bytes([code]), [meta], [True], ["c"], [False], [collation], {0: [b"a"]}, {0: [b"a"]}
    )
    return RowDecoder(table_map, Codec([(UTF8MB4, "utf8mb4")]), {"c": column_type})


CASES = [(entry, binlog_type) for entry in ENTRIES for binlog_type in entry.binlog_types]


@pytest.mark.parametrize(("entry", "binlog_type"), CASES, ids=[f"{e.data_types[0]}-{b}" for e, b in CASES])
def test_binlog_decoders_follow_the_table(entry: TypeEntry, binlog_type: str) -> None:
    decoder = decoder_for(entry, binlog_type)
    [spec] = decoder.specs
    args = TypeArgs(precision=10, scale=2, binary_charset=entry.text == "binary")
    assert spec.arrow_type == entry.arrow_type(args)
    assert spec.form == entry.form
    # native/rows.c reads the column, with a case for its operation, unless the table leaves it to Python.
    [native] = decoder.native
    if binlog_type in entry.python_cdc:
        assert native is None, f"rows.c reads {binlog_type} of {entry.data_types[0]}: drop it from python_cdc"
        return
    assert native is not None, f"rows.c does not read {binlog_type} of {entry.data_types[0]}: add it to python_cdc"
    source = (NATIVE / "rows.c").read_text()
    names = c_enum(source, "OP_")
    name = names[native[0] - 1]
    assert getattr(rows, name) == native[0]
    assert re.search(rf"case {name}:", source), f"rows.c has no case {name}"


def test_wide_decimals_are_left_to_the_python_decoder() -> None:
    [entry] = [e for e in ENTRIES if "decimal" in e.data_types]
    decoder = decoder_for(entry, "NEWDECIMAL", precision=65)
    assert decoder.specs[0].arrow_type == pa.decimal256(65, 2)
    assert decoder.native == [None]


def test_binlog_types_of_one_mysql_type_are_looked_up_by_code() -> None:
    assert type_table.BY_BINLOG_TYPE[ev.T_LONGLONG].data_types == ("bigint",)
    assert type_table.BY_BINLOG_TYPE[ev.T_TIMESTAMP2].data_types == ("timestamp",)
    assert ev.T_VARCHAR not in type_table.BY_BINLOG_TYPE  # text or bytes: the character set decides


@pytest.mark.parametrize(
    ("column", "dms_type"),
    [
        (Column("c", "int", "int(11) unsigned"), "UINT4"),
        (Column("c", "bigint", "bigint(20)"), "INT8"),
        (Column("c", "decimal", "decimal(12,2)", numeric_precision=12, numeric_scale=2), "NUMERIC"),
        (Column("c", "varchar", "varchar(40)"), "WSTRING"),
        (Column("c", "longtext", "longtext"), "NCLOB"),
        (Column("c", "timestamp", "timestamp(6)"), "DATETIME"),
        (Column("c", "varbinary", "varbinary(16)"), "BYTES"),
    ],
)
def test_dms_type_names(column: Column, dms_type: str) -> None:
    """DMS's own names for MySQL source types (CHAP_Source.MySQL.html, "Source data types for MySQL")."""
    assert (
        type_table.entry_of(column.data_type, column.name, column.column_type).dms_type(type_table_args(column))
        == dms_type
    )
