"""Random columns of every type MariaDB has, and random SQL literals for them (extremes, NULLs, every charset).

A value is written as a SQL literal: text as ``_utf8mb4 X'…'`` (the server converts it to the column's character
set, so no escaping can go wrong), bytes as ``X'…'``. The byte pair ``\\x`` never appears in generated data:
mariadb-binlog prints bytes below 0x20 as ``\\xNN`` and everything else raw, so that pair would be ambiguous.
"""

from __future__ import annotations

import json
import random
import struct
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

# Character sets: the Python codec of the bytes the server stores, and the most bytes one character takes.
CHARSETS = {
    "latin1": ("mysql-latin1", 1),
    "utf8mb3": ("utf-8", 3),
    "utf8mb4": ("utf-8", 4),
    "ucs2": ("utf-16-be", 2),
    "utf16": ("utf-16-be", 4),
    "utf16le": ("utf-16-le", 4),
    "utf32": ("utf-32-be", 4),
}
ASCII = "abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 _-,.;'\"\\%\t\n\x00\x1f"
ALPHABETS = {
    "latin1": ASCII + "éÿ€ŸšŽ£ßñ\x81\x8d\x8f\x90\x9d",
    "bmp": ASCII + "ñ€漢字Ωжß中ü",
    "astral": ASCII + "ñ€漢Ωж😀𝄞🎉",
}
# MySQL's latin1 is Windows-1252 with its five undefined bytes mapped to the C1 controls of the same number.
MYSQL_LATIN1 = "".join(bytes([i]).decode("cp1252", errors="ignore") or chr(i) for i in range(256))
GEOMETRY_TYPES = [
    "GEOMETRY",
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "GEOMETRYCOLLECTION",
]
INTEGERS = {"TINYINT": 8, "SMALLINT": 16, "MEDIUMINT": 24, "INT": 32, "BIGINT": 64}
TEXTS = {"TINYTEXT": 255, "TEXT": 65535, "MEDIUMTEXT": 16777215, "LONGTEXT": 4294967295}
BLOBS = {"TINYBLOB": 255, "BLOB": 65535, "MEDIUMBLOB": 16777215, "LONGBLOB": 4294967295}


def encode(text: str, charset: str) -> bytes:
    codec = CHARSETS[charset][0]
    if codec == "mysql-latin1":
        return bytes(MYSQL_LATIN1.index(ch) for ch in text)
    return text.encode(codec)


def decode(raw: bytes, charset: str | None) -> str | bytes:
    if charset is None or charset == "binary":
        return raw
    codec = CHARSETS[charset][0]
    if codec == "mysql-latin1":
        return "".join(MYSQL_LATIN1[b] for b in raw)
    return raw.decode(codec)


@dataclass
class Column:
    name: str
    kind: str  # int decimal float double year date time datetime timestamp bit enum set text binary json geometry ...
    ddl: str  # the column's type as CREATE TABLE spells it
    nullable: bool = True
    unsigned: bool = False
    bits: int = 0  # integer or BIT width
    precision: int = 0  # DECIMAL precision or fractional-second digits
    scale: int = 0
    charset: str | None = None  # text, ENUM, SET: a key of CHARSETS or 'binary'
    length: int = 0  # characters (text) or bytes (binary) at most
    fixed: bool = False  # CHAR / BINARY
    members: list[str] = field(default_factory=list)
    geometry: str = ""
    compressed: bool = False  # MariaDB's COMPRESSED attribute (zlib in the row, also in the binlog)
    generated: bool = False  # a VIRTUAL or PERSISTENT column: in the row images, never written by the workload

    def definition(self) -> str:
        return f"`{self.name}` {self.ddl}{'' if self.nullable else ' NOT NULL'}"


SMALL_KINDS = ["int", "int", "bit", "year", "date", "time", "decimal", "enum"]


def generated_column(rng: random.Random, name: str) -> Column:
    """A generated column over ``id``: VIRTUAL ones are in MariaDB's row images too."""
    storage = rng.choice(["VIRTUAL", "PERSISTENT"])
    if rng.random() < 0.5:
        return Column(name, "int", f"BIGINT AS (id * 3) {storage}", True, bits=64, generated=True)
    ddl = f"VARCHAR(30) CHARACTER SET latin1 AS (CONCAT('g', id, 'é')) {storage}"
    return Column(name, "text", ddl, True, charset="latin1", length=30, generated=True)


def random_column(rng: random.Random, name: str, old_temporal: bool = False, small: bool = False) -> Column:
    """One random column; ``old_temporal`` picks TIME/DATETIME/TIMESTAMP only (for mysql56_temporal_format=OFF),
    ``small`` only types of a few bytes (for tables of hundreds of columns)."""
    nullable = rng.random() < 0.7
    if old_temporal:
        kind = rng.choice(["time", "datetime", "timestamp"])
    elif small:
        kind = rng.choice(SMALL_KINDS)
    else:
        kind = rng.choice(
            ["int"] * 4
            + ["decimal"] * 2
            + ["float", "double", "year", "date", "bit", "enum", "set", "json", "geometry"]
            + ["time", "datetime", "timestamp"] * 2
            + ["text"] * 6
            + ["binary"] * 2
            + ["uuid", "inet4", "inet6"]
        )
    if kind == "int":
        type_name = rng.choice(list(INTEGERS))
        unsigned = rng.random() < 0.5
        return Column(
            name, kind, type_name + (" UNSIGNED" if unsigned else ""), nullable, unsigned, INTEGERS[type_name]
        )
    if kind == "decimal":
        precision = rng.choice([1, 2, 9, 10, 17, 18, 19, 27, 38, 39, 65, rng.randint(1, 65)] if not small else [5])
        scale = rng.choice([0, 0, precision, rng.randint(0, min(precision, 30))])
        scale = min(scale, 30, precision)
        return Column(name, kind, f"DECIMAL({precision},{scale})", nullable, precision=precision, scale=scale)
    if kind in ("float", "double"):
        return Column(name, kind, kind.upper(), nullable)
    if kind in ("year", "date"):
        return Column(name, kind, kind.upper(), nullable)
    if kind in ("time", "datetime", "timestamp"):
        precision = rng.randint(0, 6)
        null = " NULL" if kind == "timestamp" and nullable else ""
        if kind == "timestamp" and not nullable:
            null = " DEFAULT '1970-01-01 00:00:01'"
        return Column(name, kind, f"{kind.upper()}({precision}){null}", nullable, precision=precision)
    if kind == "bit":
        bits = rng.choice([1, 7, 8, 9, 13, 16, 31, 32, 33, 63, 64, rng.randint(1, 64)])
        return Column(name, kind, f"BIT({bits})", nullable, bits=bits)
    if kind in ("enum", "set"):
        charset = rng.choice([*CHARSETS, "binary"])
        count = rng.choice([1, 2, 5, 64] if kind == "set" else [1, 3, 255, 256, 300] if not small else [3])
        alphabet = _alphabet(charset)
        extra = [ch for ch in alphabet if ch.isalpha() and not ch.isascii()]
        members = [f"m{i}{extra[i % len(extra)] if charset != 'binary' and i % 3 == 0 else ''}" for i in range(count)]
        charset_sql = f" CHARACTER SET {charset}"
        if charset == "binary":
            members = [f"m{i}" for i in range(count)]
        listed = ", ".join(f"'{m}'" for m in members)  # letters and digits only
        return Column(name, kind, f"{kind.upper()}({listed}){charset_sql}", nullable, charset=charset, members=members)
    if kind == "text":
        charset = rng.choice(list(CHARSETS))
        mb = CHARSETS[charset][1]
        shape = rng.choice(["char", "varchar", "varchar", "lob"])
        if shape == "char":
            length = rng.choice([1, 10, 64, min(255 // mb + 1, 255), 255])
            ddl = f"CHAR({length})"
        elif shape == "varchar":
            length = rng.choice([1, 20, 255 // mb, 255 // mb + 1, 300])
            ddl = f"VARCHAR({length})"
        else:
            ddl = rng.choice(list(TEXTS))
            length = min(TEXTS[ddl] // mb, 70_000)
        compressed = shape != "char" and rng.random() < 0.2
        if compressed and shape == "lob":
            length = min((TEXTS[ddl] - 1) // mb, 70_000)  # the compression header takes a byte of the TEXT's
        ddl += " COMPRESSED" if compressed else ""
        return Column(
            name,
            kind,
            f"{ddl} CHARACTER SET {charset}",
            nullable,
            charset=charset,
            length=length,
            fixed=shape == "char",
            compressed=compressed,
        )
    if kind == "binary":
        shape = rng.choice(["binary", "varbinary", "blob"])
        if shape == "binary":
            length = rng.choice([1, 4, 16, 255])
            return Column(name, kind, f"BINARY({length})", nullable, length=length, fixed=True)
        compressed = rng.random() < 0.2
        suffix = " COMPRESSED" if compressed else ""
        if shape == "varbinary":
            length = rng.choice([1, 10, 255, 256, 1000])
            return Column(name, kind, f"VARBINARY({length}){suffix}", nullable, length=length, compressed=compressed)
        ddl = rng.choice(list(BLOBS))
        length = min(BLOBS[ddl] - compressed, 70_000)  # the compression header takes a byte of the BLOB's
        return Column(name, kind, ddl + suffix, nullable, length=length, compressed=compressed)
    if kind == "json":
        return Column(name, kind, "JSON", nullable, charset="utf8mb4")
    if kind == "geometry":
        geometry = rng.choice(GEOMETRY_TYPES)
        return Column(name, kind, geometry, nullable, geometry=geometry)
    return Column(name, kind, kind.upper(), nullable)  # uuid, inet4, inet6


def _clean(data: bytes) -> bytes:
    return data.replace(b"\\x", b"\\y")


def _alphabet(charset: str) -> str:
    return ALPHABETS["latin1" if charset == "latin1" else "bmp" if charset in ("utf8mb3", "ucs2") else "astral"]


def _text(rng: random.Random, charset: str, length: int) -> str:
    alphabet = _alphabet(charset)
    size = rng.choice([0, 1, min(length, 1000), rng.randint(0, min(length, 40)), rng.randint(0, min(length, 40))])
    if length > 1000 and rng.random() < 0.05:
        size = rng.randint(256, length)  # long values: 2-, 3- and 4-byte length prefixes
    text = "".join(rng.choices(alphabet, k=min(size, length)))
    return text.replace("\\x", "\\y")


def _digits(rng: random.Random, count: int, extreme: bool) -> str:
    if count == 0:
        return ""
    if extreme:
        return "9" * count
    return "".join(rng.choice("0123456789") for _ in range(rng.randint(1, count)))


def _geometry(rng: random.Random, kind: str) -> str:
    def point() -> str:
        return f"{rng.choice([0, 1.5, -180, 90, rng.uniform(-1e6, 1e6)])} {rng.uniform(-90, 90)}"

    def ring() -> str:
        a, b, c = point(), point(), point()
        return f"({a}, {b}, {c}, {a})"

    if kind == "GEOMETRY":
        kind = rng.choice(GEOMETRY_TYPES[1:])
    wkt = {
        "POINT": lambda: f"POINT({point()})",
        "LINESTRING": lambda: f"LINESTRING({point()}, {point()})",
        "POLYGON": lambda: f"POLYGON({ring()})",
        "MULTIPOINT": lambda: f"MULTIPOINT({point()}, {point()})",
        "MULTILINESTRING": lambda: f"MULTILINESTRING(({point()}, {point()}))",
        "MULTIPOLYGON": lambda: f"MULTIPOLYGON(({ring()}))",
        "GEOMETRYCOLLECTION": lambda: f"GEOMETRYCOLLECTION(POINT({point()}), LINESTRING({point()}, {point()}))",
    }[kind]()
    srid = rng.choice([0, 0, 4326])
    return f"ST_GeomFromText('{wkt}', {srid})"


def _json(rng: random.Random, depth: int = 0) -> object:
    choice = rng.randint(0, 6 if depth < 3 else 3)
    if choice == 0:
        return rng.choice([None, True, False])
    if choice == 1:
        return rng.choice([0, -1, 2**63 - 1, rng.randint(-(10**6), 10**6), 1.5])
    if choice in (2, 3):
        return _text(rng, "utf8mb4", 20)
    if choice == 4:
        return [_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {_text(rng, "utf8mb4", 8): _json(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _micros_text(micros: int, precision: int) -> str:
    fraction = f"{micros:06d}"[:precision]
    return f".{fraction}" if precision else ""


def random_literal(rng: random.Random, column: Column) -> str:
    """A SQL literal the column accepts in strict mode (NULL included when the column is nullable)."""
    if column.nullable and rng.random() < 0.15:
        return "NULL"
    extreme = rng.random() < 0.3
    kind = column.kind
    if kind == "int":
        bits = column.bits
        low, high = (0, 2**bits - 1) if column.unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        return str(
            rng.choice([low, high, 0, -1 if low < 0 else 1, low + 1, high - 1]) if extreme else rng.randint(low, high)
        )
    if kind == "decimal":
        integral = _digits(rng, column.precision - column.scale, extreme) or "0"
        fraction = _digits(rng, column.scale, extreme)
        sign = rng.choice(["", "-"])
        return f"{sign}{integral}{'.' + fraction if fraction else ''}"
    if kind == "float":
        value = (
            rng.choice(
                [0.0, -0.0, 1.5, 3.4028234663852886e38, -3.4028234663852886e38, 1.1754943508222875e-38, 16777217.0, 0.1]
            )
            if extreme
            else rng.uniform(-1e10, 1e10)
        )
        return repr(struct.unpack("<f", struct.pack("<f", value))[0])
    if kind == "double":
        value = (
            rng.choice(
                [
                    0.0,
                    1.7976931348623157e308,
                    -1.7976931348623157e308,
                    2.2250738585072014e-308,
                    0.1,
                    -1e-300,
                    2**53 + 1.0,
                ]
            )
            if extreme
            else rng.uniform(-1e300, 1e300) * rng.random() ** 30
        )
        return repr(value)
    if kind == "year":
        return (
            "'0000'"
            if extreme and rng.random() < 0.3
            else str(rng.choice([1901, 2155]) if extreme else rng.randint(1901, 2155))
        )
    if kind == "date":
        if extreme:
            return rng.choice(
                ["'1000-01-01'", "'9999-12-31'", "'0000-00-00'", "'2024-02-29'", "'2024-00-15'", "'2023-02-30'"]
            )
        return f"'{date(1000, 1, 1) + timedelta(days=rng.randint(0, 3_287_181)):%Y-%m-%d}'"
    if kind == "time":
        limit = 838 * 3600 + 59 * 60 + 59
        seconds = rng.choice([-limit, limit, 0, -1]) if extreme else rng.randint(-limit, limit)
        micros = rng.choice([0, 999_999]) if extreme else rng.randint(0, 999_999)
        sign = "-" if seconds < 0 or (seconds == 0 and rng.random() < 0.3) else ""
        seconds = abs(seconds)
        fraction = _micros_text(micros, column.precision)
        return f"'{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{fraction}'"
    if kind in ("datetime", "timestamp"):
        if kind == "datetime":
            low, high = datetime(1000, 1, 1), datetime(9999, 12, 31, 23, 59, 59)
        else:
            low, high = datetime(1970, 1, 1, 0, 0, 1), datetime(2038, 1, 19, 3, 14, 7)
        if extreme and rng.random() < 0.2:
            return "'0000-00-00 00:00:00'"
        if kind == "datetime" and extreme and rng.random() < 0.1:
            return f"'2023-04-31 12:00:00{_micros_text(123456, column.precision)}'"  # ALLOW_INVALID_DATES
        moment = (
            rng.choice([low, high])
            if extreme
            else low + timedelta(seconds=rng.randint(0, int((high - low).total_seconds())))
        )
        micros = rng.choice([0, 999_999, 1]) if extreme else rng.randint(0, 999_999)
        return f"'{moment:%Y-%m-%d %H:%M:%S}{_micros_text(micros, column.precision)}'"
    if kind == "bit":
        value = rng.choice([0, 2**column.bits - 1, 1]) if extreme else rng.getrandbits(column.bits)
        return f"b'{value:b}'"
    if kind == "enum":
        return "_utf8mb4 X'" + rng.choice(column.members).encode().hex() + "'"
    if kind == "set":
        chosen = [m for m in column.members if rng.random() < (0.9 if extreme else 0.3)]
        return "_utf8mb4 X'" + ",".join(chosen).encode().hex() + "'"
    if kind == "text":
        text = _text(rng, column.charset or "utf8mb4", column.length)
        return "_utf8mb4 X'" + text.encode().hex() + "'"
    if kind == "binary":
        size = rng.choice([0, column.length, rng.randint(0, min(column.length, 64))])
        if column.length > 1000 and rng.random() < 0.05:
            size = rng.randint(256, column.length)
        data = _clean(rng.randbytes(size))
        if column.fixed and len(data) >= 2 and rng.random() < 0.3:
            data = data[: max(0, len(data) - 2)] + b"\x00\x00"  # trailing zeros the binlog drops
        return f"X'{data.hex()}'"
    if kind == "json":
        text = json.dumps(_json(rng), ensure_ascii=rng.random() < 0.5).replace("\\x", "\\y")
        return "_utf8mb4 X'" + text.encode().hex() + "'"
    if kind == "geometry":
        return _geometry(rng, column.geometry)
    if kind == "uuid":
        value = uuid.UUID(int=rng.getrandbits(128), version=rng.choice([1, 4]))  # MariaDB reorders version 1
        return f"'{value}'"
    if kind == "inet4":
        return "'" + ".".join(str(rng.randint(0, 255)) for _ in range(4)) + "'"
    if kind == "inet6":
        words = [rng.choice([0, 0, 0xFFFF, rng.getrandbits(16)]) for _ in range(8)]
        return "'" + ":".join(f"{w:x}" for w in words) + "'"
    raise AssertionError(f"no literal for {kind}")
