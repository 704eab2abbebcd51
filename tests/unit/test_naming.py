"""DMS object names (target/naming.py), checked against the names DMS writes and against path resolution."""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime, timedelta, timezone

import pytest

from binlake.target.naming import (
    cdc_file_name,
    date_partition,
    is_load_file,
    key_segment,
    load_file_name,
    name_of_segment,
    next_cdc_file_name,
    table_prefix,
)


def test_load_files_are_numbered_from_one_with_eight_digits() -> None:
    assert [load_file_name(n, "parquet") for n in (1, 12, 99999999)] == [
        "LOAD00000001.parquet",
        "LOAD00000012.parquet",
        "LOAD99999999.parquet",
    ]
    assert load_file_name(3, "csv") == "LOAD00000003.csv"


@pytest.mark.parametrize(
    ("name", "is_load"),
    [
        ("LOAD00000001.parquet", True),
        ("LOAD00000001.csv", True),
        ("LOAD00000001.csv.gz", True),
        ("LOAD0000001.parquet", False),  # seven digits
        ("LOAD00000001.parquet.tmp", False),
        ("20260116-123456789.parquet", False),
    ],
)
def test_load_file_recognition(name: str, is_load: bool) -> None:
    assert is_load_file(name) is is_load


def test_cdc_names_are_utc_to_the_millisecond() -> None:
    moment = datetime(2026, 1, 16, 12, 34, 56, 789_999, tzinfo=UTC)
    assert cdc_file_name(moment, "parquet") == "20260116-123456789.parquet"
    # Another zone is written as its UTC time, never as its local wall clock.
    local = moment.astimezone(timezone(timedelta(hours=-5)))
    assert cdc_file_name(local, "csv") == "20260116-123456789.csv"


def test_next_cdc_name_always_sorts_after_the_last() -> None:
    moment = datetime(2026, 1, 16, 23, 59, 59, 999_000, tzinfo=UTC)
    first = next_cdc_file_name(moment, "parquet", None)
    same_millisecond = next_cdc_file_name(moment, "parquet", first)
    clock_back = next_cdc_file_name(moment - timedelta(seconds=5), "parquet", same_millisecond)
    assert first == "20260116-235959999.parquet"
    assert same_millisecond == "20260117-000000000.parquet"  # +1 ms crosses the day
    assert clock_back == "20260117-000000001.parquet"
    assert sorted([clock_back, first, same_millisecond]) == [first, same_millisecond, clock_back]


HOSTILE = ["../x", "..", ".", "x/y", "a\\b", "nul\0byte", "100%", "%2F", "*", "Orders", "orders", "ünï"]


def test_key_segments_are_one_segment_reversible_and_distinct() -> None:
    segments = [key_segment(name) for name in HOSTILE]
    assert len(set(segments)) == len(HOSTILE)  # case twins and look-alikes stay apart
    for name, segment in zip(HOSTILE, segments, strict=True):
        assert "/" not in segment and "\\" not in segment and "\0" not in segment
        assert segment not in (".", "..")
        assert name_of_segment(segment) == name
        # Joined under a prefix and resolved as a path, the segment stays directly under that prefix.
        assert posixpath.dirname(posixpath.normpath(f"bucket/hub/{segment}")) == "bucket/hub"


def test_empty_name_has_no_segment() -> None:
    with pytest.raises(ValueError, match="empty name"):
        key_segment("")


def test_table_prefix() -> None:
    assert table_prefix("/market/hub/", "ecommerce", "orders") == "market/hub/ecommerce/orders"
    assert table_prefix("", "../up", "a/b") == "..%2Fup/a%2Fb"  # one segment named "../up", never the parent


@pytest.mark.parametrize(
    ("sequence", "delimiter", "expected"),
    [
        ("YYYYMMDD", "SLASH", "2026/01/16"),
        ("YYYYMMDDHH", "UNDERSCORE", "2026_01_16_07"),
        ("YYYYMM", "DASH", "2026-01"),
        ("MMYYYYDD", "NONE", "01202616"),
        ("DDMMYYYY", "SLASH", "16/01/2026"),
    ],
)
def test_date_partition_follows_dms_sequence_and_delimiter(sequence: str, delimiter: str, expected: str) -> None:
    assert date_partition(datetime(2026, 1, 16, 7, tzinfo=UTC), sequence, delimiter) == expected
