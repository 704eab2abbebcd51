"""One canonical form per column type for the three views of a value: binlake's decoded value, the text
``mariadb-binlog -vv`` prints, and the source's own text (a SELECT). Equal canonical forms mean equal values.

The forms are exact, except FLOAT against mariadb-binlog, which prints it with ``%g`` (6 significant digits):
there the binlake value is compared at that precision, and exactly against the source.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
import zlib
from datetime import date
from decimal import Context, Decimal
from typing import Any

from tests.oracle.columns import Column, decode

EXACT = Context(prec=200)  # DECIMAL has up to 65 digits; the default context rounds at 28


def unquote(text: str) -> bytes:
    """mariadb-binlog's quoted string (bytes below 0x20 as \\xNN, the rest raw) → the bytes."""
    assert text[0] == "'" and text[-1] == "'", text
    data = text[1:-1].encode("latin-1")
    if b"\\x" in data:  # generated data never holds a backslash followed by x: each one is an escape
        for byte in range(0x20):
            data = data.replace(b"\\x%02x" % byte, bytes([byte]))
    return data


def uncompress(stored: bytes) -> bytes:
    """A COMPRESSED column as stored: header byte (method << 4 | raw-deflate flag 8 | length bytes), the
    original length big-endian, the zlib data; method 0 keeps the value as is after the header."""
    if not stored:
        return b""
    header = stored[0]
    if header >> 4 == 0:
        return stored[1:]
    assert header >> 4 == 8, f"unknown compression header {header:#x}"
    start = 1 + (header & 7)
    value = zlib.decompress(stored[start:], -15 if header & 8 else 15)
    assert len(value) == int.from_bytes(stored[1:start], "big")
    return value


def _micros(text: str) -> int:
    """'-838:59:59.5' → signed microseconds."""
    negative = text.startswith("-")
    clock, _, fraction = text.lstrip("-").partition(".")
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    value = ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + int((fraction + "000000")[:6])
    return -value if negative else value


def _datetime_text(text: str) -> str | None:
    """'2024-02-29 12:00:00.5' → '2024-02-29 12:00:00.500000'; zero dates (any zero part) → None."""
    day, _, clock = text.partition(" ")
    year, month, dom = (int(part) for part in re.split("[-:]", day))
    if not _real_date(year, month, dom):
        return None
    clock, _, fraction = clock.partition(".")
    return f"{year:04d}-{month:02d}-{dom:02d} {clock}.{(fraction + '000000')[:6]}"


def _real_date(year: int, month: int, day: int) -> bool:
    """Zero dates and days past the month's end (ALLOW_INVALID_DATES) are written as NULL, as DMS does."""
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _decimal(value: Decimal, scale: int) -> str:
    return f"{value:.{scale}f}"


def _packed_address(kind: str, text: str) -> bytes:
    if kind == "uuid":
        return uuid.UUID(text).bytes
    return (ipaddress.IPv4Address if kind == "inet4" else ipaddress.IPv6Address)(text).packed


def from_binlake(column: Column, value: Any, oracle: bool) -> Any:
    """binlake's decoded value (RowDecoder.decode_image) → canonical; ``oracle``: at mariadb-binlog's precision."""
    if value is None:
        return None
    kind = column.kind
    if kind in ("int", "year", "bit", "time", "timestamp"):
        return value  # int; TIME and TIMESTAMP in microseconds
    if kind == "decimal":
        return _decimal(Decimal(value).scaleb(-column.scale, EXACT), column.scale)
    if kind == "float":
        return f"{value:g}" if oracle else repr(value)
    if kind == "double":
        return f"{value:.20g}" if oracle else repr(value)
    if kind == "date":
        return f"{value:%Y-%m-%d}" if isinstance(value, date) else value
    if kind == "datetime":
        return f"{value:%Y-%m-%d %H:%M:%S.%f}"
    if kind in ("enum", "set"):
        if oracle:
            members = [m.encode() if column.charset == "binary" else m for m in column.members]
            if kind == "enum":
                return members.index(value) + 1 if value in members else 0 if value in ("", b"") else ("?", value)
            parts = value.split(b"," if isinstance(value, bytes) else ",") if value else []
            return sum(1 << members.index(part) for part in parts)
        return value
    if kind in ("text", "json"):
        return value.decode("utf-8") if isinstance(value, bytes) and column.charset != "binary" else value
    if kind in ("binary", "geometry"):
        return bytes(value)
    if kind in ("uuid", "inet4", "inet6"):
        return _packed_address(kind, value) if isinstance(value, str) else bytes(value)
    raise AssertionError(kind)


def from_oracle(column: Column, text: str) -> Any:
    """The value text of one ``###   @n=…`` line of mariadb-binlog -vv (latin-1 decoded) → canonical."""
    if text == "NULL":
        return None
    kind = column.kind
    if kind == "int":
        signed, _, unsigned = text.partition(" (")
        return int(unsigned.rstrip(")")) if column.unsigned and unsigned else int(signed)
    if kind == "year":
        # YEAR is one byte, year - 1900, 0 for '0000'; mariadb-binlog prints 1900 + byte, so 1900 means 0000.
        return 0 if text == "1900" else int(text)
    if kind == "decimal":
        return _decimal(Decimal(text), column.scale)
    if kind in ("float", "double"):
        return text.strip()
    if kind == "date":
        year, month, day = (int(part) for part in unquote(text).decode().split(":"))
        return f"{year:04d}-{month:02d}-{day:02d}" if _real_date(year, month, day) else None
    if kind == "time":
        return _micros(unquote(text).decode())
    if kind == "datetime":
        return _datetime_text(unquote(text).decode())
    if kind == "timestamp":
        seconds, _, fraction = text.partition(".")
        micros = int(seconds) * 1_000_000 + int((fraction + "000000")[:6])
        return micros or None
    if kind == "bit":
        return int(text[2:-1], 2)
    if kind == "enum":
        return int(text)
    if kind == "set":
        # mariadb-binlog prints the stored bytes in order, each from its high bit; SET is stored little-endian
        bits = text[2:-1]
        return int.from_bytes(int(bits, 2).to_bytes(len(bits) // 8, "big"), "little")
    raw = unquote(text)
    if column.compressed:
        raw = uncompress(raw)
    if kind in ("text", "json"):
        return decode(raw, column.charset)
    # The binlog drops the trailing zero bytes of BINARY(n), and of UUID, INET4, INET6 (fixed-size binary too).
    if kind == "binary" and column.fixed:
        return raw.ljust(column.length, b"\x00")
    if kind in ("uuid", "inet4", "inet6"):
        return raw.ljust(4 if kind == "inet4" else 16, b"\x00")
    return raw  # binary, geometry, uuid, inet4, inet6: their bytes


def source_expression(column: Column) -> str:
    """What to SELECT for the column so that ``from_source`` gets its exact value as text."""
    name = f"`{column.name}`"
    kind = column.kind
    if kind == "float":
        return f"CAST({name} AS DOUBLE)"
    if kind == "timestamp":
        return f"UNIX_TIMESTAMP({name})"
    if kind == "bit":
        return f"CAST({name} AS UNSIGNED)"
    if kind in ("enum", "set", "text", "json", "binary", "geometry"):
        return f"HEX({name})"
    if kind in ("uuid", "inet4", "inet6"):
        return f"CAST({name} AS CHAR)"
    return name


def from_source(column: Column, raw: bytes | str | None) -> Any:
    """The text the source returns for ``source_expression(column)`` → canonical (exact)."""
    if raw is None:
        return None
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    kind = column.kind
    if kind in ("int", "year", "bit"):
        return int(text)
    if kind == "decimal":
        return _decimal(Decimal(text), column.scale)
    if kind in ("float", "double"):
        return repr(float(text))
    if kind == "date":
        year, month, day = (int(part) for part in text.split("-"))
        return text if _real_date(year, month, day) else None
    if kind == "time":
        return _micros(text)
    if kind == "datetime":
        return _datetime_text(text)
    if kind == "timestamp":
        return _micros_of_epoch(text) or None
    if kind in ("uuid", "inet4", "inet6"):
        return _packed_address(kind, text)
    data = bytes.fromhex(text)
    if kind in ("enum", "set", "text", "json"):
        return decode(data, column.charset)
    return data


def _micros_of_epoch(text: str) -> int:
    seconds, _, fraction = text.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + f"… ({len(text)} chars)"
