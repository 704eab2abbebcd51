"""Binlog value layouts (capture/binlog/rows.py DECIMAL, temporal.py), decoded against encoders written from the
server's own C code (strings/decimal.c decimal2bin, sql-common/my_time.c my_*_packed_to_binary) and the
example bytes printed in decimal.c's comment."""

from __future__ import annotations

import random
from datetime import date, datetime

import pytest

from binlake.capture.binlog.rows import decimal_size, make_decimal_reader
from binlake.capture.binlog.temporal import (
    read_date,
    read_datetime2,
    read_time2,
    read_timestamp2,
)

DIG2BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)


def decimal2bin(unscaled: int, precision: int, scale: int) -> bytes:
    """strings/decimal.c decimal2bin of the number ``unscaled`` × 10^-scale: groups of 9 digits on each side of
    the point, big-endian, the sign in the top bit, every byte inverted for a negative number."""
    negative = unscaled < 0
    digits = str(abs(unscaled)).rjust(precision, "0")
    integral, fraction = digits[: precision - scale], digits[precision - scale :]
    out = bytearray()
    lead = (precision - scale) % 9
    if lead:
        out += int(integral[:lead]).to_bytes(DIG2BYTES[lead], "big")
    for start in range(lead, precision - scale, 9):
        out += int(integral[start : start + 9]).to_bytes(4, "big")
    for start in range(0, scale - scale % 9, 9):
        out += int(fraction[start : start + 9]).to_bytes(4, "big")
    if scale % 9:
        out += int(fraction[scale - scale % 9 :]).to_bytes(DIG2BYTES[scale % 9], "big")
    if negative:
        out = bytearray(b ^ 0xFF for b in out)
    out[0] ^= 0x80
    return bytes(out)


def test_decimal_examples_from_the_server_source() -> None:
    read = make_decimal_reader(14, 4)
    assert read(bytes.fromhex("810DFB38D204D2")) == 12345678901234
    assert read(bytes.fromhex("7EF204C72DFB2D")) == -12345678901234
    assert decimal2bin(12345678901234, 14, 4).hex().upper() == "810DFB38D204D2"


@pytest.mark.parametrize(
    ("precision", "scale"), [(1, 0), (5, 2), (9, 0), (10, 10), (12, 2), (18, 9), (38, 10), (65, 30)]
)
def test_decimal_reader_against_the_encoder(precision: int, scale: int) -> None:
    rng = random.Random(precision * 100 + scale)
    read = make_decimal_reader(precision, scale)
    largest = 10**precision - 1
    values = [0, 1, -1, largest, -largest] + [rng.randint(-largest, largest) for _ in range(200)]
    for unscaled in values:
        raw = decimal2bin(unscaled, precision, scale)
        assert len(raw) == decimal_size(precision, scale)
        assert read(raw) == unscaled, (precision, scale, unscaled)


def datetime2(moment: datetime, fsp: int) -> bytes:
    """my_datetime_packed_to_binary: 40 bits of Y*13+M, D, h, m, s plus 0x8000000000, then the fraction."""
    ym = moment.year * 13 + moment.month
    intpart = (((ym << 5 | moment.day) << 17) | moment.hour << 12 | moment.minute << 6 | moment.second) + 0x8000000000
    return intpart.to_bytes(5, "big") + fraction(moment.microsecond, fsp)


def fraction(micros: int, fsp: int) -> bytes:
    if fsp == 0:
        return b""
    if fsp <= 2:
        return (micros // 10_000).to_bytes(1, "big")
    if fsp <= 4:
        return (micros // 100).to_bytes(2, "big")
    return micros.to_bytes(3, "big")


def truncated(micros: int, fsp: int) -> int:
    unit = 10 ** (6 - fsp)
    return micros // unit * unit


@pytest.mark.parametrize("fsp", range(7))
def test_datetime2(fsp: int) -> None:
    for moment in (
        datetime(1000, 1, 1),
        datetime(2026, 1, 16, 12, 34, 56, 789_012),
        datetime(9999, 12, 31, 23, 59, 59, 999_999),
        datetime(1970, 1, 1, 0, 0, 0, 1),
    ):
        stored = moment.replace(microsecond=truncated(moment.microsecond, fsp))  # the column keeps fsp digits
        assert read_datetime2(datetime2(stored, fsp), fsp) == stored


def time2(total_micros: int, fsp: int) -> bytes:
    """my_time_packed_to_binary, with C's truncating remainder and division for negative values."""
    negative = total_micros < 0
    micros = abs(total_micros)
    seconds, micros = divmod(micros, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    packed = ((hours << 12 | (rest // 60) << 6 | rest % 60) << 24) + micros
    packed = -packed if negative else packed
    int_part = packed >> 24  # arithmetic shift, as in C
    frac_part = -(abs(packed) % (1 << 24)) if packed < 0 else packed % (1 << 24)  # C's %
    if fsp == 0:
        return (int_part + 0x800000).to_bytes(3, "big")
    if fsp <= 2:
        return (int_part + 0x800000).to_bytes(3, "big") + (int(frac_part / 10_000) & 0xFF).to_bytes(1, "big")
    if fsp <= 4:
        return (int_part + 0x800000).to_bytes(3, "big") + (int(frac_part / 100) & 0xFFFF).to_bytes(2, "big")
    return (packed + 0x800000000000).to_bytes(6, "big")


@pytest.mark.parametrize("fsp", range(7))
def test_time2_keeps_sign_and_hours_past_a_day(fsp: int) -> None:
    hour = 3_600_000_000
    for value in (0, 1, -1, 500_000, -500_000, hour + 500_000, -(hour + 500_000), 838 * hour + 59 * 60_000_000):
        value = value if fsp else value // 1_000_000 * 1_000_000
        expected = (1 if value >= 0 else -1) * truncated(abs(value), fsp)
        assert read_time2(time2(expected, fsp), fsp) == expected, (fsp, value)


@pytest.mark.parametrize("fsp", [0, 3, 6])
def test_timestamp2_is_utc_microseconds_and_zero_is_null(fsp: int) -> None:
    stored = truncated(123_456, fsp)  # the column keeps fsp digits
    raw = (1_768_566_896).to_bytes(4, "big") + fraction(stored, fsp)
    assert read_timestamp2(raw, fsp) == 1_768_566_896_000_000 + stored
    assert read_timestamp2(bytes(4) + fraction(0, fsp), fsp) is None


def test_dates_and_invalid_dates() -> None:
    def packed(year: int, month: int, day: int) -> int:
        return year << 9 | month << 5 | day

    assert read_date(packed(2026, 1, 16)) == date(2026, 1, 16)
    assert read_date(packed(9999, 12, 31)) == date(9999, 12, 31)
    assert read_date(packed(0, 0, 0)) is None  # 0000-00-00
    assert read_date(packed(2024, 2, 30)) is None  # ALLOW_INVALID_DATES
    assert read_date(packed(2024, 0, 10)) is None
    assert read_datetime2((0x8000000000).to_bytes(5, "big"), 0) is None  # 0000-00-00 00:00:00
