"""CBOR (RFC 8949), the part Smithy's rpc-v2-cbor protocol uses: integers, floats, byte and text strings,
arrays, maps, booleans, null, and tag 1 (epoch seconds) for timestamps. Newer botocore (and so the AWS CLI)
speaks this protocol to CloudWatch."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from binlake.api.faults import ApiError

_BREAK = object()


@dataclass(frozen=True)
class Timestamp:
    """A value to encode as tag 1 (seconds since the epoch)."""

    seconds: float


def _bad(why: str) -> ApiError:
    return ApiError("SerializationException", f"request body is not valid CBOR: {why}")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, count: int) -> bytes:
        if self.offset + count > len(self.data):
            raise _bad("truncated")
        chunk = self.data[self.offset : self.offset + count]
        self.offset += count
        return chunk

    def argument(self, info: int) -> int | None:
        if info < 24:
            return info
        if info in (24, 25, 26, 27):
            return int.from_bytes(self.take(1 << (info - 24)), "big")
        if info == 31:
            return None  # indefinite length
        raise _bad(f"reserved additional information {info}")

    def item(self) -> Any:
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            return self._simple(info)
        value = self.argument(info)
        if major == 0:
            return value
        if major == 1:
            assert value is not None
            return -1 - value
        if major in (2, 3):
            raw = self._chunks(major) if value is None else self.take(value)
            return raw if major == 2 else raw.decode("utf-8")
        if major == 4:
            return self._until_break() if value is None else [self.item() for _ in range(value)]
        if major == 5:
            if value is None:
                flat = self._until_break()
                return dict(zip(flat[::2], flat[1::2], strict=True))
            return {self.item(): self.item() for _ in range(value)}
        tagged = self.item()  # major 6: a tag; 1 is epoch time, the rest keep their content
        return tagged

    def _simple(self, info: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return struct.unpack(">e", self.take(2))[0]
        if info == 26:
            return struct.unpack(">f", self.take(4))[0]
        if info == 27:
            return struct.unpack(">d", self.take(8))[0]
        if info == 31:
            return _BREAK
        raise _bad(f"simple value {info}")

    def _chunks(self, major: int) -> bytes:
        parts = []
        while (chunk := self.item()) is not _BREAK:
            parts.append(chunk if isinstance(chunk, bytes) else chunk.encode())
        return b"".join(parts)

    def _until_break(self) -> list[Any]:
        items = []
        while (value := self.item()) is not _BREAK:
            items.append(value)
        return items


def decode(data: bytes) -> Any:
    if not data:
        return {}
    reader = _Reader(data)
    value = reader.item()
    if reader.offset != len(data):
        raise _bad("trailing bytes")
    return value


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes([major << 5 | info]) + value.to_bytes(size, "big")
    raise ValueError(f"integer {value} does not fit CBOR")


def encode(value: Any) -> bytes:
    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, Timestamp):
        return b"\xc1" + encode(value.seconds)
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(value, list | tuple):
        return _head(4, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(encode(k) + encode(v) for k, v in value.items())
    raise TypeError(f"cannot encode {type(value).__name__} as CBOR")
