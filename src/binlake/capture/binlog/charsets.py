"""Collation ids in table maps → Python codecs, from the server's own collation table."""

from __future__ import annotations

from collections.abc import Iterable

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
    "sjis": "shift_jis",
    "ujis": "euc_jp",
    "eucjpms": "euc_jp",
    "euckr": "euc_kr",
    "gbk": "gbk",
    "gb2312": "gb2312",
    "big5": "big5",
    "tis620": "tis_620",
    "macroman": "mac_roman",
    "macce": "mac_latin2",
    "binary": None,
}


class Codec:
    """Maps a collation id to the Python encoding of its character set (None: binary)."""

    def __init__(self, collations: Iterable[tuple[int, str]]) -> None:
        self._charset = {int(collation_id): name for collation_id, name in collations}

    def encoding(self, collation_id: int | None) -> str | None:
        if collation_id is None or collation_id == 63:
            return None
        name = self._charset.get(collation_id)
        if name is None:
            raise BinlakeError(f"unknown collation id {collation_id} in the binlog")
        if name not in CHARSET_CODECS:
            raise BinlakeError(
                f"character set {name} is not supported", fix="convert the column to utf8mb4 or exclude it"
            )
        return CHARSET_CODECS[name]


def load_codec(conn) -> Codec:
    cur = conn.cursor()
    cur.execute("SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID IS NOT NULL")
    return Codec(cur.fetchall())
