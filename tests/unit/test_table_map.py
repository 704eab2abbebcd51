"""TABLE_MAP_EVENT parsing (capture/binlog/events.py), from an event body laid out byte by byte as the server's
Table_map_log_event::write_data_body and its optional metadata (binlog_row_metadata=FULL) write it."""

from __future__ import annotations

from binlake.capture.binlog import events as ev


def packed(n: int) -> bytes:
    assert n < 251
    return bytes([n])


def lenenc(text: bytes) -> bytes:
    return packed(len(text)) + text


def field(kind: int, payload: bytes) -> bytes:
    return bytes([kind]) + packed(len(payload)) + payload


# id INT UNSIGNED NOT NULL, price DECIMAL(10,2), name VARCHAR(40) utf8mb4, born DATETIME(3), status ENUM('a','b')
TYPES = bytes([ev.T_LONG, ev.T_NEWDECIMAL, ev.T_VARCHAR, ev.T_DATETIME2, ev.T_STRING])
META = (
    bytes([10, 2])  # NEWDECIMAL: precision, scale (one byte each, big-endian order)
    + (160).to_bytes(2, "little")  # VARCHAR: max length in bytes, little-endian
    + bytes([3])  # DATETIME2: fractional digits
    + bytes([ev.T_ENUM, 1])  # STRING: real type, then length
)
OPTIONAL = (
    # SIGNEDNESS: one bit per numeric column (id, price), most significant first: id unsigned
    field(ev.META_SIGNEDNESS, bytes([0b1000_0000]))
    # DEFAULT_CHARSET: collation 45 (utf8mb4_general_ci) for the character columns (name)
    + field(ev.META_DEFAULT_CHARSET, packed(45))
    + field(ev.META_COLUMN_NAME, b"".join(lenenc(n) for n in (b"id", b"price", b"name", b"born", b"status")))
    + field(ev.META_ENUM_STR_VALUE, packed(2) + lenenc(b"a") + lenenc(b"b"))
    + field(ev.META_ENUM_AND_SET_DEFAULT_CHARSET, packed(8))  # latin1_swedish_ci
    + field(ev.META_SIMPLE_PRIMARY_KEY, packed(0))
)


def body(table_id: int = 0x0102030405) -> bytes:
    return (
        table_id.to_bytes(6, "little")
        + b"\x01\x00"  # flags
        + lenenc(b"shop")
        + b"\x00"
        + lenenc(b"orders")
        + b"\x00"
        + packed(len(TYPES))
        + TYPES
        + packed(len(META))
        + META
        + bytes([0b0001_1110])  # null bitmap: every column but id is nullable
        + OPTIONAL
    )


def test_table_map_with_full_metadata() -> None:
    table_map = ev.parse_table_map(body(), post_header_len=8)
    assert (table_map.table_id, table_map.schema, table_map.table) == (0x0102030405, "shop", "orders")
    assert table_map.column_types == TYPES
    assert table_map.column_meta == [0, 10 << 8 | 2, 160, 3, ev.T_ENUM << 8 | 1]
    assert table_map.nullable == [False, True, True, True, True]
    assert table_map.column_names == ["id", "price", "name", "born", "status"]
    assert table_map.unsigned == [True, False, False, False, False]
    assert table_map.charsets == [None, None, 45, None, 8]
    assert table_map.enum_values == {4: [b"a", b"b"]}
    assert table_map.primary_key == [0]
    assert ev.real_type(table_map.column_types[4], table_map.column_meta[4]) == ev.T_ENUM


def test_table_map_without_optional_metadata() -> None:
    minimal = body()[: -len(OPTIONAL)]
    table_map = ev.parse_table_map(minimal, post_header_len=8)
    assert table_map.column_names == []
    assert table_map.unsigned == [False] * 5
    assert table_map.primary_key == []


def test_equal_layouts_share_a_signature() -> None:
    first = ev.parse_table_map(body(1), post_header_len=8)
    second = ev.parse_table_map(body(2), post_header_len=8)
    assert first.signature() == second.signature()
    renamed = ev.parse_table_map(body().replace(b"\x05price", b"\x05cost_"), post_header_len=8)
    assert renamed.signature() != first.signature()
