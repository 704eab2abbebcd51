"""Collation ids in table maps → Python codecs, from the server's own collation table."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Mapping

from binlake.errors import BinlakeError

# MySQL/MariaDB character set names → Python codecs. MySQL's latin1 is Windows-1252.
CHARSET_CODECS = {
    "utf8mb4": "utf-8",
    "utf8mb3": "utf-8",
    "utf8": "utf-8",
    "latin1": "cp1252",
    "latin2": "iso8859_2",
    "latin5": "iso8859_9",
    "latin7": "iso8859_13",
    "ascii": "ascii",
    "ucs2": "utf-16-be",
    "utf16": "utf-16-be",
    "utf16le": "utf-16-le",
    "utf32": "utf-32-be",
    "cp1250": "cp1250",
    "cp1251": "cp1251",
    "cp1256": "cp1256",
    "cp1257": "cp1257",
    "cp850": "cp850",
    "cp852": "cp852",
    "cp866": "cp866",
    "cp932": "cp932",
    "koi8r": "koi8_r",
    "koi8u": "koi8_u",
    "greek": "iso8859_7",
    "hebrew": "iso8859_8",
    "sjis": "binlake_sjis",
    "ujis": "binlake_ujis",
    "euckr": "cp949",  # MariaDB's euckr includes the UHC extension
    # big5 and eucjpms are not here: Python's codecs read hundreds of their characters otherwise than MariaDB
    # (eucjpms) or map some to characters other sequences also give (big5), so no exact decode is known yet.
    "gbk": "gbk",
    "gb2312": "gb2312",
    "tis620": "tis_620",
    "macroman": "mac_roman",
    "macce": "mac_latin2",
    "binary": None,
}


TABLE_PREFIX = "table:"


# sjis and ujis: Python's shift_jis / euc_jp, with the differences from MariaDB's tables, checked against the server
# for every valid two-byte character (tests/test_charsets.py): the JIS backslash (0x815F / 0xA1C0) is U+005C,
# not U+FF3C, and ujis's user-defined area (rows 0xF5-0xFE) maps to the private use area from U+E000.
def _user_defined(exc: UnicodeError) -> tuple[str, int]:
    data, at = exc.object, exc.start  # type: ignore[attr-defined]
    if at + 1 < len(data) and 0xF5 <= data[at] <= 0xFE and 0xA1 <= data[at + 1] <= 0xFE:
        return chr(0xE000 + (data[at] - 0xF5) * 94 + data[at + 1] - 0xA1), at + 2
    raise exc


def _mariadb_codec(name: str) -> codecs.CodecInfo | None:
    bases = {"binlake_sjis": ("shift_jis", "strict"), "binlake_ujis": ("euc_jp", "binlake_user_defined")}
    if name not in bases:
        return None
    base, handler = bases[name]
    backslash = {0xFF3C: "\\"}

    def decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
        return bytes(data).decode(base, handler).translate(backslash), len(data)

    def encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
        raise UnicodeError(f"{name} only decodes")

    return codecs.CodecInfo(encode, decode, name=name)  # type: ignore[arg-type] # typeshed wants a buffer


codecs.register_error("binlake_user_defined", _user_defined)
codecs.register(_mariadb_codec)


class Codec:
    """Maps a collation id to how its character set decodes (None: binary): a Python codec name, or for a
    single-byte character set ``table:<name>`` with ``table()`` giving its 256 characters."""

    def __init__(self, collations: Iterable[tuple[int, str]], tables: Mapping[str, str] | None = None) -> None:
        self._charset = {int(collation_id): _text(name) for collation_id, name in collations}
        self._tables = dict(tables or {})

    def encoding(self, collation_id: int | None) -> str | None:
        if collation_id is None or collation_id == 63:
            return None
        name = self._charset.get(collation_id)
        if name is None:
            raise BinlakeError(f"unknown collation id {collation_id} in the binlog")
        if name in self._tables:
            return TABLE_PREFIX + name
        if name not in CHARSET_CODECS:
            raise BinlakeError(
                f"character set {name} is not supported", fix="convert the column to utf8mb4 or exclude it"
            )
        return CHARSET_CODECS[name]

    def table(self, encoding: str) -> str | None:
        """The 256 characters of a ``table:<name>`` encoding, byte by byte."""
        return self._tables.get(encoding[len(TABLE_PREFIX) :]) if encoding.startswith(TABLE_PREFIX) else None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def load_codec(conn) -> Codec:
    """The server's collations, and each single-byte character set as the server itself converts it to UTF-8.

    Python's codecs differ from MariaDB's tables for several of them (cp1250/cp1251/cp1257 and hebrew leave bytes
    undefined that MariaDB maps, ascii stops at 0x7F, greek/cp1256/cp866/koi8u map some bytes to other
    characters); asking the server makes the CDC text exactly what the full load reads through the server.
    """
    cur = conn.cursor()
    cur.execute("SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID IS NOT NULL")
    collations = cur.fetchall()
    cur.execute(
        "SELECT CHARACTER_SET_NAME FROM information_schema.CHARACTER_SETS "
        "WHERE MAXLEN = 1 AND CHARACTER_SET_NAME <> 'binary'"
    )
    tables: dict[str, str] = {}
    for (name,) in cur.fetchall():
        name = _text(name)
        cur.execute("SELECT " + ", ".join(f"HEX(CONVERT(_{name} X'{b:02X}' USING utf8mb4))" for b in range(256)))
        characters = [bytes.fromhex(_text(value)).decode("utf-8") for value in cur.fetchone()]
        if all(len(character) == 1 for character in characters):
            tables[name] = "".join(characters)
    return Codec(collations, tables)
