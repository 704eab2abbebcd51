"""One canonical text per value, computed by two engines: MariaDB (over the source) and DuckDB (over the lake).

verify's exact compare hashes the source inside MariaDB itself, with these SQL expressions, so that the
full load's decoder (``source/types.py``, ``capture/snapshot.py``) plays no part in the source side: a value it
decodes wrongly into the lake shows up as a difference. Both expressions of a type give the same text for the
same value; the forms were chosen because both engines can produce them exactly:

* integers, YEAR, BIT: decimal digits (``x+0`` in MariaDB drops ZEROFILL's padding and YEAR's '0000');
* DECIMAL(p,s): MariaDB's text with s decimals (DuckDB prints '-.5' for DECIMAL(p,p) where MariaDB prints
  '-0.5': patched);
* FLOAT/DOUBLE: ``[-]MpE`` with M the 53-bit significand as an integer and E the binary exponent, computed
  with exact arithmetic (divisions by powers of two) because the two engines print doubles differently;
  zero (and -0) is '0';
* DATE, DATETIME: ``YYYY-MM-DD[ HH:MM:SS.ffffff]``; zero dates and days past the month's end are NULL, as
  the lake's contract says (docs/contract.md);
* TIMESTAMP: microseconds since the epoch (UTC whatever the session), the zero timestamp NULL;
* TIME: signed microseconds;
* text (CHAR, VARCHAR, TEXT, ENUM, SET, JSON, UUID, INET4, INET6) in any character set: its UTF-8 text;
* binary (BINARY, VARBINARY, BLOB, character set binary, spatial types as stored): upper-case hex.

A row's text joins its columns' texts with '|'; text columns are prefixed with their length in bytes, so no
value can imitate a separator (MEDIUM/LONG TEXT and BLOB enter it as the MD5 of their bytes instead), and NULL
is 'N' (no other form is 'N'). Its hash is the first 64 bits of its MD5 (16 hex digits). DECIMAL wider than 38
digits, which DuckDB cannot read exactly, is read from the lake with pyarrow as text (``wide_decimals.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from binlake.catalog.sql import ident
from binlake.source import type_table
from binlake.source.types import Column

# From the type table: the integer types (YEAR too) and the text types (a binary character set aside).
INTEGER_KINDS = frozenset(
    name
    for entry in type_table.ENTRIES
    if entry.text == "cast" and pa.types.is_integer(entry.arrow_type(type_table.TypeArgs()))
    for name in entry.data_types
)
TEXT_KINDS = type_table.data_types("string")
LARGE_KINDS = {"mediumtext", "longtext", "mediumblob", "longblob"}
NULL_FORM = "'N'"
SEPARATOR = "'|'"
SIGNIFICAND = 4503599627370496  # 2**52


def mariadb_quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class Form:
    """The canonical text of one column: a MariaDB expression over the source column, a DuckDB one over the
    lake column, and how to show the text in a report."""

    name: str  # the column's name in the lake
    kind: str  # 'integer', 'decimal', 'float', 'date', 'datetime', 'timestamp', 'time', 'text', 'binary'
    source: str
    target: str
    # MEDIUM/LONG TEXT and BLOB enter the row text as the MD5 of their bytes (source, target expressions), so
    # that a row's text stays far below max_allowed_packet (CONCAT and HEX give NULL above it).
    digest: tuple[str, str] | None = None

    @property
    def is_text(self) -> bool:
        return self.kind == "text"

    def show(self, text: str | None) -> object:
        """A canonical text as a report shows it: numbers as numbers, bytes as lower-case hex."""
        if text is None:
            return None
        if self.kind in ("integer", "timestamp", "time"):
            return int(text)
        if self.kind == "float":
            return _float_from_form(text)
        if self.kind == "binary":
            return text.lower()
        return text


def _float_from_form(text: str) -> float:
    if text == "0":
        return 0.0
    significand, _, exponent = text.partition("p")
    return float(int(significand) * 2.0 ** (int(exponent) - 52))


def _float_mariadb(x: str) -> str:
    # e0 is floor(log2|x|), possibly one off where LOG2 rounds (log2 of the largest double rounds to 1024), so
    # it is kept within the doubles' exponents; r = |x| / 2^e0 is exact, so comparing it with 1 and 2 corrects
    # e0 exactly, and |x| / 2^e * 2^52 is the significand as an exact integer.
    a = f"ABS({x})"
    e0 = f"LEAST(GREATEST(CAST(FLOOR(LOG2({a})) AS SIGNED), -1074), 1023)"
    r = f"({a} / POW(2, {e0}))"
    e = f"({e0} + ({r} >= 2) - ({r} < 1))"
    return (
        f"IF({x} IS NULL, NULL, IF({x} = 0, '0', CONCAT(IF({x} < 0, '-', ''), "
        f"CAST({a} / POW(2, {e}) * {SIGNIFICAND} AS UNSIGNED), 'p', {e})))"
    )


def _float_duckdb(x: str) -> str:
    a = f"abs({x})"
    e0 = f"least(greatest(CAST(floor(log2({a})) AS BIGINT), -1074), 1023)"
    r = f"({a} / pow(2, {e0}))"
    e = f"({e0} + CAST({r} >= 2 AS BIGINT) - CAST({r} < 1 AS BIGINT))"
    return (
        f"CASE WHEN {x} IS NULL THEN NULL WHEN {x} = 0 THEN '0' ELSE "
        f"concat(CASE WHEN {x} < 0 THEN '-' ELSE '' END, "
        f"CAST(CAST({a} / pow(2, {e}) * {SIGNIFICAND} AS UBIGINT) AS VARCHAR), 'p', CAST({e} AS VARCHAR)) END"
    )


def _real_date_mariadb(q: str) -> str:
    """Zero dates ('0000-00-00', any zero part) and days past the month's end are no dates: NULL in the lake."""
    return f"YEAR({q}) > 0 AND MONTH({q}) > 0 AND DAYOFMONTH({q}) > 0 AND DAYOFMONTH({q}) <= DAYOFMONTH(LAST_DAY({q}))"


def form(column: Column, name: str) -> Form:
    """The canonical form of source ``column``, stored in the lake as ``name``."""
    q = mariadb_quote(column.name)
    t = ident(name)
    kind = column.data_type.lower()
    if kind in INTEGER_KINDS:
        return Form(name, "integer", f"CAST({q}+0 AS CHAR)", f"CAST({t} AS VARCHAR)")
    if kind == "bit":
        return Form(name, "integer", f"CAST(CAST({q} AS UNSIGNED) AS CHAR)", f"CAST({t} AS VARCHAR)")
    if kind in ("decimal", "numeric"):
        if (column.numeric_precision or 10) > 38:  # read from the lake as text already (wide_decimals.py)
            return Form(name, "decimal", f"CAST({q} AS CHAR)", t)
        text = f"CAST({t} AS VARCHAR)"
        if column.numeric_scale == column.numeric_precision:  # no integer digit: DuckDB prints '-.5'
            text = f"regexp_replace({text}, '^(-?)\\.', '\\10.')"
        return Form(name, "decimal", f"CAST({q} AS CHAR)", text)
    if kind in ("float", "double", "real"):
        return Form(name, "float", _float_mariadb(f"CAST({q} AS DOUBLE)"), _float_duckdb(f"CAST({t} AS DOUBLE)"))
    if kind == "date":
        return Form(
            name,
            "date",
            f"IF({_real_date_mariadb(q)}, DATE_FORMAT({q}, '%Y-%m-%d'), NULL)",
            f"strftime({t}, '%Y-%m-%d')",
        )
    if kind == "datetime":
        return Form(
            name,
            "datetime",
            f"IF({_real_date_mariadb(q)}, DATE_FORMAT({q}, '%Y-%m-%d %H:%i:%s.%f'), NULL)",
            f"strftime({t}, '%Y-%m-%d %H:%M:%S.%f')",
        )
    if kind == "timestamp":
        return Form(
            name,
            "timestamp",
            f"CAST(NULLIF(CAST(UNIX_TIMESTAMP({q}) * 1000000 AS SIGNED), 0) AS CHAR)",
            f"CAST(epoch_us({t}) AS VARCHAR)",
        )
    if kind == "time":
        return Form(name, "time", f"CAST(CAST(TIME_TO_SEC({q}) * 1000000 AS SIGNED) AS CHAR)", f"CAST({t} AS VARCHAR)")
    large = kind in LARGE_KINDS
    if kind in TEXT_KINDS and column.character_set != "binary":
        text = f"CONVERT({q} USING utf8mb4)"
        return Form(name, "text", text, t, (f"MD5({text})", f"md5({t})") if large else None)
    return Form(name, "binary", f"HEX({q})", f"hex({t})", (f"MD5({q})", f"md5({t})") if large else None)


def row_text_mariadb(forms: Sequence[Form]) -> str:
    cells = [
        f"COALESCE({f.digest[0]}, {NULL_FORM})"
        if f.digest
        else f"COALESCE(CONCAT(LENGTH({f.source}), ':', {f.source}), {NULL_FORM})"
        if f.is_text
        else f"COALESCE({f.source}, {NULL_FORM})"
        for f in forms
    ]
    return f"CONCAT_WS({SEPARATOR}, {', '.join(cells)})"


def row_text_duckdb(forms: Sequence[Form]) -> str:
    # || and not concat(): DuckDB's concat() takes NULL for '', MariaDB's CONCAT() gives NULL.
    cells = [
        f"COALESCE({f.digest[1]}, {NULL_FORM})"
        if f.digest
        else f"COALESCE(CAST(strlen({f.target}) AS VARCHAR) || ':' || {f.target}, {NULL_FORM})"
        if f.is_text
        else f"COALESCE({f.target}, {NULL_FORM})"
        for f in forms
    ]
    return f"concat_ws({SEPARATOR}, {', '.join(cells)})"


def hash_mariadb(text: str, start: int = 1, digits: int = 16) -> str:
    """An unsigned integer from ``digits`` hex digits of the MD5 of ``text``."""
    return f"CAST(CONV(SUBSTR(MD5({text}), {start}, {digits}), 16, 10) AS UNSIGNED)"


def hash_duckdb(text: str, start: int = 1, digits: int = 16) -> str:
    return f"CAST('0x' || substr(md5({text}), {start}, {digits}) AS UBIGINT)"
