"""Binlog positions: parsing and the server's file order (mysql-bin.999999 < mysql-bin.1000000)."""

from __future__ import annotations

import pytest

from binlake.position import BinlogPosition


def test_parse_round_trips() -> None:
    for text in ("mysql-bin.000001:4", "host:with:colons-bin.000012:123456789"):
        assert str(BinlogPosition.parse(text)) == text
    assert BinlogPosition.parse("mysql-bin.000001:4") == BinlogPosition("mysql-bin.000001", 4)


def test_parse_refuses_a_position_without_offset() -> None:
    with pytest.raises(ValueError):
        BinlogPosition.parse("mysql-bin.000001")


def test_order_is_by_file_sequence_then_offset() -> None:
    ordered = [
        BinlogPosition("mysql-bin.000002", 4),
        BinlogPosition("mysql-bin.000002", 900),
        BinlogPosition("mysql-bin.000010", 4),
        BinlogPosition("mysql-bin.999999", 4),
        BinlogPosition("mysql-bin.1000000", 4),  # the server widens the suffix: a string sort gets this wrong
    ]
    shuffled = [ordered[3], ordered[0], ordered[4], ordered[2], ordered[1]]
    assert sorted(shuffled) == ordered
    assert ordered[3] < ordered[4] and ordered[4] > ordered[3]
    assert ordered[0] <= BinlogPosition("mysql-bin.000002", 4) <= ordered[0]
    assert not ordered[1] < ordered[0]
