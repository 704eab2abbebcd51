"""Binlog temporal layouts → Python values: DATE, the MySQL 5.6 layouts (DATETIME2, TIMESTAMP2, TIME2), the classic
ones, and MariaDB 5.3's fractional ones. TIME and TIMESTAMP come out as microseconds, DATETIME as datetime.
Zero dates and days past their month's end become None (DMS writes NULL); the decoder that calls these readers
counts them per table (RowDecoder.take_zero_dates), since a None here is never a NULL column."""

from __future__ import annotations

import re
from datetime import date, datetime


def read_date(value: int) -> date | None:
    day, month, year = value & 31, (value >> 5) & 15, value >> 9
    try:
        return date(year, month, day)
    except ValueError:  # zero parts, or '2024-02-30' (ALLOW_INVALID_DATES)
        return None


def read_datetime2(raw: bytes, fsp: int) -> datetime | None:
    intpart = int.from_bytes(raw[:5], "big") - 0x8000000000
    frac = _fraction(raw[5:], fsp)
    ymd, hms = intpart >> 17, intpart & 0x1FFFF
    year_month, day = ymd >> 5, ymd & 31
    year, month = divmod(year_month, 13)
    try:
        return datetime(year, month, day, hms >> 12, (hms >> 6) & 63, hms & 63, frac)
    except ValueError:
        return None


def _fraction(raw: bytes, fsp: int) -> int:
    if fsp <= 0:
        return 0
    value = int.from_bytes(raw, "big")
    if fsp <= 2:
        return value * 10_000
    if fsp <= 4:
        return value * 100
    return value


def read_timestamp2(raw: bytes, fsp: int) -> int | None:
    seconds = int.from_bytes(raw[:4], "big")
    frac = _fraction(raw[4:], fsp)
    if seconds == 0 and frac == 0:
        return None
    return seconds * 1_000_000 + frac


def read_time2(raw: bytes, fsp: int) -> int:
    """TIME2 → signed microseconds (MySQL my_time_packed_from_binary, then unpacked)."""
    if fsp <= 0:
        packed = (int.from_bytes(raw[:3], "big") - 0x800000) << 24
    elif fsp <= 2:
        intpart, frac = int.from_bytes(raw[:3], "big") - 0x800000, raw[3]
        if intpart < 0 and frac:
            intpart, frac = intpart + 1, frac - 0x100
        packed = (intpart << 24) + frac * 10_000
    elif fsp <= 4:
        intpart, frac = int.from_bytes(raw[:3], "big") - 0x800000, int.from_bytes(raw[3:5], "big")
        if intpart < 0 and frac:
            intpart, frac = intpart + 1, frac - 0x10000
        packed = (intpart << 24) + frac * 100
    else:
        packed = int.from_bytes(raw[:6], "big") - 0x800000000000
    negative = packed < 0
    packed = abs(packed)
    hms, micros = packed >> 24, packed & 0xFFFFFF
    total = (((hms >> 12) & 0x3FF) * 3600 + ((hms >> 6) & 63) * 60 + (hms & 63)) * 1_000_000 + micros
    return -total if negative else total


def read_old_time(value: int) -> int:
    negative = value < 0
    value = abs(value)
    total = ((value // 10000) * 3600 + (value // 100 % 100) * 60 + value % 100) * 1_000_000
    return -total if negative else total


def read_old_datetime(value: int) -> datetime | None:
    d, t = divmod(value, 1_000_000)
    year, month, day = d // 10000, d // 100 % 100, d % 100
    try:
        return datetime(year, month, day, t // 10000, t // 100 % 100, t % 100)
    except ValueError:
        return None


def read_old_timestamp(seconds: int) -> int | None:
    if seconds == 0:
        return None
    return seconds * 1_000_000


# MariaDB 5.3's fractional TIME/DATETIME/TIMESTAMP (sql/field.cc Field_*_hires; tables created while the global
# mysql56_temporal_format=OFF, or by MariaDB 5.3-10.0 and upgraded in place). The table map shows them as the
# classic types 11/12/7 without metadata, so their precision comes from the schema (COLUMN_TYPE 'time(3) /*
# mariadb-5.3 */'). Precision 0 keeps the classic layouts (read_old_*). Bytes per precision 1..6:
OLD_TIME_BYTES = (0, 4, 4, 5, 5, 5, 6)
OLD_DATETIME_BYTES = (0, 6, 6, 7, 7, 7, 8)
OLD_TIMESTAMP_BYTES = (0, 5, 5, 6, 6, 7, 7)
# TIME's zero point: 838:59:59 + 1 second in microseconds (TIME_MAX_VALUE_SECONDS + 1).
OLD_TIME_ZERO = 3_020_400 * 1_000_000


def read_old_time_hires(raw: bytes, precision: int) -> int:
    """MariaDB 5.3 TIME(n) → signed microseconds: big-endian (microseconds / 10^(6-n)) + the zero point."""
    unit = 10 ** (6 - precision)
    return int.from_bytes(raw, "big") * unit - OLD_TIME_ZERO


def read_old_datetime_hires(raw: bytes, precision: int) -> datetime | None:
    """MariaDB 5.3 DATETIME(n): big-endian pack_time() / 10^(6-n), where pack_time is
    ((((year*13 + month)*32 + day)*24 + hour)*60 + minute)*60 + second, in microseconds."""
    packed = int.from_bytes(raw, "big") * 10 ** (6 - precision)
    packed, micros = divmod(packed, 1_000_000)
    packed, second = divmod(packed, 60)
    packed, minute = divmod(packed, 60)
    packed, hour = divmod(packed, 24)
    packed, day = divmod(packed, 32)
    year, month = divmod(packed, 13)
    try:
        return datetime(year, month, day, hour, minute, second, micros)
    except ValueError:
        return None


def read_old_timestamp_hires(raw: bytes, precision: int) -> int | None:
    """MariaDB 5.3 TIMESTAMP(n): 4 big-endian bytes of seconds, then the fraction / 10^(6-n), big-endian."""
    seconds = int.from_bytes(raw[:4], "big")
    fraction = int.from_bytes(raw[4:], "big") * 10 ** (6 - precision)
    if seconds == 0 and fraction == 0:
        return None
    return seconds * 1_000_000 + fraction


def column_precision(column_type: str) -> int:
    """'time(3) /* mariadb-5.3 */' → 3; 'datetime' → 0."""
    match = re.match(r"\s*\w+\s*\((\d+)\)", column_type)
    return int(match.group(1)) if match else 0
