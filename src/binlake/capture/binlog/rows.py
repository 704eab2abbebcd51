"""Row images of rows events → column values, with a decoder generated per table layout.

The decoder is Python source generated once per distinct TABLE_MAP layout and compiled: one straight
run of fixed ``unpack_from`` calls and slices per column, no per-value dispatch. Values are kept in the
cheapest form Arrow converts in bulk (bytes for text, microsecond integers for TIMESTAMP and TIME), and
``build_arrays`` turns a batch of rows into Arrow arrays of exactly the types the full load writes.
"""

from __future__ import annotations

import codecs
import itertools
import linecache
import re
import socket
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from binlake.capture.binlog import events as ev
from binlake.capture.binlog.charsets import Codec
from binlake.capture.binlog.temporal import (
    OLD_DATETIME_BYTES,
    OLD_TIME_BYTES,
    OLD_TIMESTAMP_BYTES,
    column_precision,
    read_date,
    read_datetime2,
    read_old_datetime,
    read_old_datetime_hires,
    read_old_time,
    read_old_time_hires,
    read_old_timestamp,
    read_old_timestamp_hires,
    read_time2,
    read_timestamp2,
)
from binlake.errors import BinlakeError
from binlake.source.type_table import BY_BINLOG_TYPE, TypeArgs

DIG2BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)
TIMESTAMP_UTC = pa.timestamp("us", tz="UTC")
# MySQL's latin1 is Windows-1252 with the five bytes that code page leaves undefined mapped to the C1 controls
# of the same number (strings/ctype-latin1.c), as the server converts them for a client.
MYSQL_LATIN1 = "".join(bytes([i]).decode("cp1252", errors="ignore") or chr(i) for i in range(256))


@dataclass
class ColumnSpec:
    name: str
    arrow_type: pa.DataType
    # How values arrive: 'plain' (Python value of the right kind), 'utf8' (bytes to validate),
    # 'micros' (int64 microseconds for timestamp/duration), 'unscaled' (DECIMAL as value × 10^scale)
    form: str


# The compiled decoder's column operations (src/binlake/native/rows.c; same numbers as its OP_* constants):
# (operation, a, b, members), chosen by RowDecoder._column next to the Python lines it generates, or None for
# a column only the Python decoder reads (then the whole layout stays on it).
OP_FIXED, OP_FLOAT, OP_DOUBLE, OP_INT24, OP_DECIMAL, OP_YEAR, OP_DATE = 1, 2, 3, 4, 5, 6, 7
OP_DATETIME2, OP_TIMESTAMP2, OP_TIME2, OP_BIT, OP_ENUM, OP_SET, OP_VAR = 8, 9, 10, 11, 12, 13, 14
NativeOp = tuple[int, int, int, list[bytes] | None]


def decimal_size(precision: int, scale: int) -> int:
    integral = precision - scale
    return (integral // 9) * 4 + DIG2BYTES[integral % 9] + (scale // 9) * 4 + DIG2BYTES[scale % 9]


def make_decimal_reader(precision: int, scale: int) -> Callable[[bytes], int]:
    """MySQL's binary DECIMAL → the unscaled integer (value × 10^scale).

    The format: groups of 9 digits in 4 big-endian bytes (shorter leading and trailing groups), the sign in
    the top bit, every bit inverted for negative numbers. Reading it as one integer and cutting the groups
    out with shifts keeps the per-value work to a few integer operations.
    """
    integral = precision - scale
    lead, full_int = integral % 9, integral // 9
    full_frac, trail = scale // 9, scale % 9
    groups = [(DIG2BYTES[lead], 0)] * (1 if lead else 0) + [(4, 9)] * full_int
    groups += [(4, 9)] * full_frac + [(DIG2BYTES[trail], trail)] * (1 if trail else 0)
    total = sum(size for size, _ in groups)
    sign_bit, all_bits = 1 << (8 * total - 1), (1 << (8 * total)) - 1
    steps, end = [], total
    offset = 0
    for size, digits in groups:
        offset += size
        steps.append((8 * (end - offset), (1 << (8 * size)) - 1, 10**digits))
    steps_tuple = tuple(steps)

    def read(raw: bytes) -> int:
        n = int.from_bytes(raw, "big")
        negative = not n & sign_bit
        n ^= sign_bit
        if negative:
            n ^= all_bits
        value = 0
        for shift, mask, multiplier in steps_tuple:
            value = value * multiplier + ((n >> shift) & mask)
        return -value if negative else value

    return read


def uncompress_column(raw: bytes) -> bytes:
    """A MariaDB COMPRESSED column's stored bytes → its value (sql/field.cc Field_longstr::uncompress).

    One header byte: method in the high nibble (0: stored as is, 8: zlib); for zlib, bit 3 set means a raw
    deflate stream (column_compression_zlib_wrap=OFF, the default) and the low 3 bits count the big-endian bytes
    of the original length that follow.
    """
    if not raw:
        return b""
    header = raw[0]
    if header >> 4 == 0:
        return bytes(raw[1:])
    if header >> 4 != 8:
        raise BinlakeError(
            f"a COMPRESSED column uses compression method {header >> 4}, which binlake cannot uncompress",
            fix="exclude the column with a remove-column transformation rule",
        )
    length_bytes = header & 7
    size = int.from_bytes(raw[1 : 1 + length_bytes], "big")
    value = zlib.decompress(raw[1 + length_bytes :], -zlib.MAX_WBITS if header & 8 else zlib.MAX_WBITS)
    if len(value) != size:
        raise BinlakeError(f"a COMPRESSED column uncompressed to {len(value)} bytes instead of {size}")
    return value


def uuid_text(raw: bytes) -> str:
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def inet6_text(raw: bytes) -> str:
    """MariaDB's INET6 text (Inet6::to_string): the longest run of zero words, even a single one, becomes '::';
    IPv4-compatible and IPv4-mapped addresses end in dotted decimal."""
    words = [raw[i] << 8 | raw[i + 1] for i in range(0, 16, 2)]
    gap_pos, gap_len, run_pos, run_len = -1, 0, -1, 0
    for i, word in enumerate([*words, 1]):
        if word == 0:
            if run_pos < 0:
                run_pos, run_len = i, 0
            run_len += 1
        elif run_pos >= 0:
            if run_len > gap_len:
                gap_pos, gap_len = run_pos, run_len
            run_pos = -1
    if gap_pos == 0 and (gap_len == 6 or (gap_len == 5 and words[5] == 0xFFFF)):
        return ("::" if gap_len == 6 else "::ffff:") + socket.inet_ntoa(raw[12:])
    text, i = "", 0
    while i < 8:
        if i == gap_pos:
            text += "::" if i == 0 else ":"
            i += gap_len
        else:
            text += f"{words[i]:x}" + (":" if i < 7 else "")
            i += 1
    return text


# MariaDB's own fixed-size binary types: the table map shows them as BINARY(n) (its optional metadata has no
# type names), so their text form, which the full load reads, needs the column's DATA_TYPE from the schema.
BINARY_AS_TEXT: dict[str, tuple[int, Callable[[bytes], str]]] = {
    "uuid": (16, uuid_text),
    "inet4": (4, socket.inet_ntoa),
    "inet6": (16, inet6_text),
}


OLD_TEMPORAL = (ev.T_TIME, ev.T_DATETIME, ev.T_TIMESTAMP)
# Binlog types whose reader gives None for a zero or invalid date: the decoder counts those per table.
ZERO_DATE_TYPES = (ev.T_DATE, ev.T_NEWDATE, ev.T_DATETIME2, ev.T_TIMESTAMP2, ev.T_DATETIME, ev.T_TIMESTAMP)


def needs_data_types(table_map: ev.TableMap) -> bool:
    """Whether the layout has a column that may be one of BINARY_AS_TEXT, or an old-format temporal column whose
    precision the table map lacks: then build its RowDecoder with ``data_types``
    (information_schema.COLUMNS.COLUMN_TYPE by column name)."""
    sizes = {size for size, _ in BINARY_AS_TEXT.values()}
    return any(kind in OLD_TEMPORAL for kind in table_map.column_types) or any(
        kind == ev.T_STRING
        and meta >> 8 not in (ev.T_ENUM, ev.T_SET)
        and meta & 0xFF in sizes
        and charset in (None, 63)
        for kind, meta, charset in zip(table_map.column_types, table_map.column_meta, table_map.charsets, strict=True)
    )


def _type_word(column_type: str) -> str:
    """'inet6' → 'inet6'; 'time(3) /* mariadb-5.3 */' → 'time'."""
    match = re.match(r"\s*(\w+)", column_type)
    return match.group(1) if match else ""


def _set_reader(values: list[Any], comma: Any) -> Callable[[int], Any]:
    def read(bits: int) -> Any:
        return comma.join([v for i, v in enumerate(values) if bits >> i & 1])

    return read


def decode_text(raw: bytes, encoding: str, table: str | None = None) -> str:
    """``table``: the 256 characters of a single-byte character set (Codec.table)."""
    if table is not None:
        return codecs.charmap_decode(raw, "strict", table)[0]
    if encoding == "cp1252":
        return codecs.charmap_decode(raw, "strict", MYSQL_LATIN1)[0]
    return raw.decode(encoding)


_DECODER_NUMBERS = itertools.count(1)


class RowDecoder:
    """Decodes the rows of one table layout; ``specs`` describes the columns it yields."""

    def __init__(self, table_map: ev.TableMap, codec: Codec, data_types: Mapping[str, str] | None = None) -> None:
        self.table_map = table_map
        # COLUMN_TYPE by column name ('time(3) /* mariadb-5.3 */', 'uuid'); DATA_TYPE alone also works for UUID,
        # INET4 and INET6, not for the precision of old-format temporal columns.
        self.data_types = {name: kind.lower() for name, kind in (data_types or {}).items()}
        if len(table_map.column_names) != table_map.column_count:
            raise BinlakeError(
                f"the binlog carries no column names for {table_map.schema}.{table_map.table}",
                fix="SET GLOBAL binlog_row_metadata = FULL on the source (MariaDB 10.5+ / MySQL 8.0.1+)",
            )
        self.specs: list[ColumnSpec] = []
        # Per column, how the compiled decoder reads it (None: only the Python decoder can).
        self.native: list[NativeOp | None] = []
        # Zero or invalid dates decoded as None since take_zero_dates last ran (the generated code adds to it).
        self._zero_dates = [0]
        namespace: dict[str, Any] = {
            "zero_dates": self._zero_dates,
            "struct": struct,
            "read_date": read_date,
            "read_datetime2": read_datetime2,
            "read_timestamp2": read_timestamp2,
            "read_time2": read_time2,
            "read_old_time": read_old_time,
            "read_old_datetime": read_old_datetime,
            "read_old_timestamp": read_old_timestamp,
            "read_old_time_hires": read_old_time_hires,
            "read_old_datetime_hires": read_old_datetime_hires,
            "read_old_timestamp_hires": read_old_timestamp_hires,
            "from_bytes": int.from_bytes,
            "charmap_decode": codecs.charmap_decode,
            "MYSQL_LATIN1": MYSQL_LATIN1,
        }
        column_lines = [self._column(index, namespace, codec) for index in range(table_map.column_count)]
        count = table_map.column_count
        null_bytes = (count + 7) // 8
        source = [
            "def decode_image(b, p):",
            f"    nulls = from_bytes(b[p:p + {null_bytes}], 'little')",
            f"    p += {null_bytes}",
        ]
        for index, lines in enumerate(column_lines):
            source += [f"    if nulls >> {index} & 1:", f"        v{index} = None", "    else:"]
            source += [f"        {line}" for line in lines]
            source.append(f"        v{index} = v")
        names = ", ".join(f"v{i}" for i in range(count))
        source.append(f"    return ({names}{',' if count == 1 else ''}), p")
        # Kept and registered with linecache, so a traceback through the generated code shows its lines.
        self.source = "\n".join(source) + "\n"
        self.filename = f"<binlog decoder {table_map.schema}.{table_map.table} #{next(_DECODER_NUMBERS)}>"
        linecache.cache[self.filename] = (len(self.source), None, self.source.splitlines(True), self.filename)
        code = compile(self.source, self.filename, "exec")
        exec(code, namespace)
        self.decode_image: Callable[[bytes, int], tuple[tuple[Any, ...], int]] = namespace["decode_image"]

    def count_zero_dates(self, count: int) -> None:
        """Zero or invalid dates of this table that another reader of its rows (the compiled one) wrote as None."""
        self._zero_dates[0] += count

    def take_zero_dates(self) -> int:
        """Zero or invalid dates of this table decoded as None since the last call."""
        count, self._zero_dates[0] = self._zero_dates[0], 0
        return count

    def _column(self, index: int, namespace: dict[str, Any], codec: Codec) -> list[str]:
        table_map = self.table_map
        raw_type, meta = table_map.column_types[index], table_map.column_meta[index]
        kind = ev.real_type(raw_type, meta)
        unsigned = table_map.unsigned[index]
        name = table_map.column_names[index]
        lines: list[str]
        form = "plain"
        native: NativeOp | None = None
        # Numbers, dates and times, BIT, ENUM, SET, GEOMETRY: the Arrow type and the values' form are the type
        # table's (source/type_table.py); text and byte strings follow the column's character set (_text).
        entry = BY_BINLOG_TYPE.get(kind)
        if entry is not None:
            arrow_type, form = entry.arrow_type(TypeArgs(unsigned, meta >> 8, meta & 0xFF)), entry.form
        if kind in (ev.T_TINY, ev.T_SHORT, ev.T_LONG, ev.T_LONGLONG):
            code, size = {ev.T_TINY: ("b", 1), ev.T_SHORT: ("h", 2), ev.T_LONG: ("i", 4), ev.T_LONGLONG: ("q", 8)}[kind]
            namespace[f"s{index}"] = struct.Struct("<" + (code.upper() if unsigned else code))
            lines = [f"v = s{index}.unpack_from(b, p)[0]", f"p += {size}"]
            native = (OP_FIXED, size, 0, None)
        elif kind == ev.T_INT24:
            lines = [f"v = from_bytes(b[p:p + 3], 'little', signed={not unsigned})", "p += 3"]
            native = (OP_INT24, 0 if unsigned else 1, 0, None)
        elif kind in (ev.T_FLOAT, ev.T_DOUBLE):
            code, size = ("f", 4) if kind == ev.T_FLOAT else ("d", 8)
            namespace[f"s{index}"] = struct.Struct("<" + code)
            lines = [f"v = s{index}.unpack_from(b, p)[0]", f"p += {size}"]
            native = (OP_FLOAT if kind == ev.T_FLOAT else OP_DOUBLE, size, 0, None)
        elif kind == ev.T_NEWDECIMAL:
            precision, scale = meta >> 8, meta & 0xFF
            size = decimal_size(precision, scale)
            namespace[f"dec{index}"] = make_decimal_reader(precision, scale)
            lines = [f"v = dec{index}(b[p:p + {size}])", f"p += {size}"]
            native = (OP_DECIMAL, precision, scale, None) if precision <= 38 else None
        elif kind == ev.T_YEAR:
            lines = ["v = b[p]", "v = v + 1900 if v else 0", "p += 1"]
            native = (OP_YEAR, 0, 0, None)
        elif kind in (ev.T_DATE, ev.T_NEWDATE):
            lines = ["v = read_date(from_bytes(b[p:p + 3], 'little'))", "p += 3"]
            native = (OP_DATE, 0, 0, None)
        elif kind == ev.T_DATETIME2:
            size = 5 + (meta + 1) // 2
            lines = [f"v = read_datetime2(b[p:p + {size}], {meta})", f"p += {size}"]
            native = (OP_DATETIME2, meta, 0, None)
        elif kind == ev.T_TIMESTAMP2:
            size = 4 + (meta + 1) // 2
            lines = [f"v = read_timestamp2(b[p:p + {size}], {meta})", f"p += {size}"]
            native = (OP_TIMESTAMP2, meta, 0, None)
        elif kind == ev.T_TIME2:
            size = 3 + (meta + 1) // 2
            lines = [f"v = read_time2(b[p:p + {size}], {meta})", f"p += {size}"]
            native = (OP_TIME2, meta, 0, None)
        elif kind in OLD_TEMPORAL:
            lines, arrow_type, form = self._old_temporal(kind, name)
        elif kind == ev.T_BIT:
            size = (meta >> 8) + (1 if meta & 0xFF else 0)
            lines = [f"v = from_bytes(b[p:p + {size}], 'big')", f"p += {size}"]
            native = (OP_BIT, size, 0, None) if 1 <= size <= 8 else None
        elif kind in (ev.T_ENUM, ev.T_SET):
            # Members arrive in the column's character set (binary: bytes, as the full load reads them).
            size = meta & 0xFF
            collation = table_map.charsets[index]
            encoding = "utf-8" if collation is None else codec.encoding(collation)
            members = (table_map.enum_values if kind == ev.T_ENUM else table_map.set_values).get(index, [])
            empty: bytes | str
            comma: bytes | str
            if encoding is None:
                arrow_type, empty, comma = pa.binary(), b"", b","
            else:
                arrow_type, empty, comma = pa.string(), "", ","
                members = [decode_text(member, encoding, codec.table(encoding)) for member in members]  # type: ignore[misc]
            encoded = [m.encode() if isinstance(m, str) else bytes(m) for m in members]
            native = (OP_ENUM if kind == ev.T_ENUM else OP_SET, size, 0, encoded) if 1 <= size <= 8 else None
            if kind == ev.T_ENUM:
                namespace[f"enum{index}"] = [empty, *members]
                lines = [f"v = enum{index}[from_bytes(b[p:p + {size}], 'little')]", f"p += {size}"]
            else:
                namespace[f"set{index}"] = _set_reader(members, comma)
                lines = [f"v = set{index}(from_bytes(b[p:p + {size}], 'little'))", f"p += {size}"]
        elif kind in (ev.T_VARCHAR, ev.T_VAR_STRING, ev.T_STRING):
            # CHAR longer than 255 bytes keeps two high length bits in the type byte.
            max_length = (((meta >> 4) & 0x300) ^ 0x300) + (meta & 0xFF) if kind == ev.T_STRING else meta
            prefix = 1 if max_length < 256 else 2
            lines = [f"n = from_bytes(b[p:p + {prefix}], 'little')", f"v = b[p + {prefix}:p + {prefix} + n]",
                     f"p += {prefix} + n"]  # fmt: skip
            arrow_type, form, lines = self._text(index, lines, namespace, codec)
            native = (OP_VAR, prefix, 0, None) if form == "utf8" or arrow_type == pa.binary() else None
            if kind == ev.T_STRING and arrow_type == pa.binary():
                # BINARY(n) (and MariaDB's UUID, INET4, INET6): the binlog drops the trailing 0x00 bytes the
                # column keeps.
                lines.append(f"v = v.ljust({max_length}, b'\\x00')")
                native = (OP_VAR, prefix, max_length, None)
                text_size, to_text = BINARY_AS_TEXT.get(_type_word(self.data_types.get(name, "")), (None, None))
                if text_size == max_length and to_text is not None:
                    namespace[f"text{index}"] = to_text
                    lines.append(f"v = text{index}(v)")
                    arrow_type = pa.string()
                    native = None
        elif kind in (ev.T_VARCHAR_COMPRESSED, ev.T_BLOB_COMPRESSED):
            # VARCHAR(n) COMPRESSED: a length of 1 or 2 bytes as VARCHAR; BLOB/TEXT COMPRESSED: of meta bytes.
            prefix = (1 if meta < 256 else 2) if kind == ev.T_VARCHAR_COMPRESSED else meta
            namespace["uncompress_column"] = uncompress_column
            lines = [f"n = from_bytes(b[p:p + {prefix}], 'little')",
                     f"v = uncompress_column(b[p + {prefix}:p + {prefix} + n])", f"p += {prefix} + n"]  # fmt: skip
            arrow_type, form, lines = self._text(index, lines, namespace, codec)
        elif kind in (ev.T_BLOB, ev.T_TINY_BLOB, ev.T_MEDIUM_BLOB, ev.T_LONG_BLOB, ev.T_GEOMETRY):
            lines = [f"n = from_bytes(b[p:p + {meta}], 'little')", f"v = b[p + {meta}:p + {meta} + n]",
                     f"p += {meta} + n"]  # fmt: skip
            if kind != ev.T_GEOMETRY:
                arrow_type, form, lines = self._text(index, lines, namespace, codec)
            native = (OP_VAR, meta, 0, None) if form == "utf8" or arrow_type == pa.binary() else None
        else:
            raise BinlakeError(
                f"column {table_map.schema}.{table_map.table}.{name} has binlog type {kind}, "
                "which binlake cannot decode yet",
                fix="exclude the column with a remove-column transformation rule",
            )
        if kind in ZERO_DATE_TYPES:
            lines.append("if v is None: zero_dates[0] += 1")
        self.specs.append(ColumnSpec(name, arrow_type, form))
        self.native.append(native)
        return lines

    def _old_temporal(self, kind: int, name: str) -> tuple[list[str], pa.DataType, str]:
        column_type = self.data_types.get(name)
        if column_type is None:
            table_map = self.table_map
            raise BinlakeError(
                f"column {table_map.schema}.{table_map.table}.{name} is an old-format (MariaDB 5.3) temporal column "
                "whose precision is not in the binlog, and the column is no longer in the source schema",
                fix=f"convert it to the current format: SET GLOBAL mysql56_temporal_format=ON, then "
                f"ALTER TABLE `{table_map.schema}`.`{table_map.table}` FORCE; restart with reload-target",
            )
        if "mariadb-5.3" not in column_type:
            # Converted since these rows were written (ALTER TABLE with mysql56_temporal_format=ON): the schema no
            # longer says their precision, and a guess can fit the bytes and still be wrong (TIME(3) and TIME(4)
            # take 5 bytes alike).
            table_map = self.table_map
            raise BinlakeError(
                f"column {table_map.schema}.{table_map.table}.{name} is an old-format (MariaDB 5.3) temporal column "
                f"in the binlog, but the source schema now has it as {column_type}: its precision in these rows is "
                "unknown",
                fix="restart the task with --start-replication-task-type reload-target",
            )
        precision = column_precision(column_type)
        if kind == ev.T_TIME:
            if precision:
                size = OLD_TIME_BYTES[precision]
                lines = [f"v = read_old_time_hires(b[p:p + {size}], {precision})", f"p += {size}"]
            else:
                lines = ["v = read_old_time(from_bytes(b[p:p + 3], 'little', signed=True))", "p += 3"]
            return lines, pa.duration("us"), "micros"
        if kind == ev.T_DATETIME:
            if precision:
                size = OLD_DATETIME_BYTES[precision]
                lines = [f"v = read_old_datetime_hires(b[p:p + {size}], {precision})", f"p += {size}"]
            else:
                lines = ["v = read_old_datetime(from_bytes(b[p:p + 8], 'little'))", "p += 8"]
            return lines, pa.timestamp("us"), "plain"
        if precision:
            size = OLD_TIMESTAMP_BYTES[precision]
            lines = [f"v = read_old_timestamp_hires(b[p:p + {size}], {precision})", f"p += {size}"]
        else:
            lines = ["v = read_old_timestamp(from_bytes(b[p:p + 4], 'little'))", "p += 4"]
        return lines, TIMESTAMP_UTC, "micros"

    def _text(
        self, index: int, lines: list[str], namespace: dict[str, Any], codec: Codec
    ) -> tuple[pa.DataType, str, list[str]]:
        encoding = codec.encoding(self.table_map.charsets[index])
        if encoding is None:
            return pa.binary(), "plain", [*lines, "v = bytes(v)"]
        if encoding == "utf-8":
            return pa.string(), "utf8", [*lines, "v = bytes(v)"]
        table = codec.table(encoding)
        if table is not None:
            namespace[f"table{index}"] = table
            return pa.string(), "plain", [*lines, f"v = charmap_decode(v, 'strict', table{index})[0]"]
        if encoding == "cp1252":
            return pa.string(), "plain", [*lines, "v = charmap_decode(v, 'strict', MYSQL_LATIN1)[0]"]
        return pa.string(), "plain", [*lines, f"v = bytes(v).decode({encoding!r})"]

    def decode_rows(self, body: bytes, pos: int, kind: str) -> list[tuple[Any, ...]]:
        """Every image in the event body from ``pos``: for updates, before and after images alternate."""
        decode = self.decode_image
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        end = len(body)
        try:
            while pos < end:
                image, pos = decode(body, pos)
                append(image)
        except UnicodeDecodeError as exc:  # a multi-byte character set Python's codec reads otherwise
            table_map = self.table_map
            raise BinlakeError(
                f"a text value of {table_map.schema}.{table_map.table} is not valid {exc.encoding} "
                f"({exc.reason} at byte {exc.start})",
                fix="convert the column to utf8mb4, or exclude it with a remove-column transformation rule",
            ) from None
        if pos != end:  # a layout that does not fit the images: never guess (invariant 8)
            table_map = self.table_map
            raise BinlakeError(
                f"the rows of {table_map.schema}.{table_map.table} do not match their table map "
                f"(decoded {pos} of {end} bytes)",
                fix="report this binlog event to binlake; exclude the table to continue",
            )
        return rows


def _decimals(unscaled: Sequence[int | None], arrow_type: pa.DataType) -> pa.Array:
    """Unscaled integers → a decimal array: through int64 where every value fits (reinterpreting the 128-bit
    integers as the decimal's), else through Python Decimals."""
    if arrow_type.precision <= 18:
        integers = pa.array(unscaled, pa.int64()).cast(pa.decimal128(19, 0))
        return integers.view(arrow_type)
    return pa.array([None if v is None else _decimal_text(v, arrow_type.scale) for v in unscaled]).cast(arrow_type)


def _decimal_text(unscaled: int, scale: int) -> str:
    digits = str(abs(unscaled)).rjust(scale + 1, "0")
    text = f"{digits[:-scale]}.{digits[-scale:]}" if scale else digits
    return f"-{text}" if unscaled < 0 else text


def build_arrays(specs: Sequence[ColumnSpec], columns: Sequence[Sequence[Any]]) -> list[pa.Array]:
    """Column value lists → Arrow arrays of the specs' types."""
    arrays = []
    for spec, values in zip(specs, columns, strict=True):
        if spec.form == "utf8":
            arrays.append(pa.array(values, pa.binary()).cast(pa.string()))
        elif spec.form == "micros":
            arrays.append(pa.array(values, pa.int64()).cast(spec.arrow_type))
        elif spec.form == "unscaled":
            arrays.append(_decimals(values, spec.arrow_type))
        else:
            arrays.append(pa.array(values, spec.arrow_type))
    return arrays
