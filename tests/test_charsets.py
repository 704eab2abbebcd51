"""Every character the server stores decodes in CDC to what the server itself converts it to (the text the full load
reads): every byte of every single-byte character set, every valid two-byte character of the multi-byte ones.

Found by probing the decoder against the server: with Python's codecs, ascii, cp1250, cp1251, cp1257, hebrew and
tis620 values stopped the decoder with a UnicodeDecodeError traceback, greek, cp1256, cp866 and koi8u decoded
some bytes as other characters, euckr (MariaDB's includes UHC) failed on half its characters, sjis and ujis
read the JIS backslash as U+FF3C and ujis failed on its user-defined area.
"""

from __future__ import annotations

import pytest

from binlake.capture.binlog.reader import RowChanges
from binlake.errors import BinlakeError
from binlake.sandbox import SandboxInfo
from tests.oracle.source import binlog_position, connect, read_binlake

MULTI_BYTE = ["sjis", "cp932", "ujis", "euckr", "gbk", "gb2312"]


def decoded(items: list, table: str) -> dict[int, str]:
    values = {}
    for item in items:
        if isinstance(item, RowChanges) and item.decoder.table_map.table == table:
            for key, value in item.rows:
                values[key] = value.decode() if isinstance(value, bytes) else value
    return values


def server_text(cur, schema: str, table: str) -> dict[int, str]:
    cur.execute(f"SELECT id, HEX(CONVERT(v USING utf8mb4)) FROM `{schema}`.`{table}`")
    return {key: bytes.fromhex(text).decode() for key, text in cur.fetchall()}


def test_single_byte_character_sets_decode_as_the_server_converts_them(
    sandbox_info: SandboxInfo, database: str
) -> None:
    conn = connect(sandbox_info)
    cur = conn.cursor()
    cur.execute("SELECT CHARACTER_SET_NAME FROM information_schema.CHARACTER_SETS WHERE MAXLEN = 1 ORDER BY 1")
    charsets = [name for (name,) in cur.fetchall() if name != "binary"]
    assert len(charsets) >= 20
    for charset in charsets:
        cur.execute(f"CREATE TABLE `{database}`.`{charset}` (id INT PRIMARY KEY, v CHAR(1) CHARACTER SET {charset})")
    start = binlog_position(conn)
    for charset in charsets:
        cur.execute(f"CREATE TABLE `{database}`.`{charset}_bytes` (id INT PRIMARY KEY, b BINARY(1))")
        cur.execute(f"INSERT INTO `{database}`.`{charset}_bytes` SELECT seq, CHAR(seq) FROM `{database}`.seq_0_to_255")
        # Every byte, as it is (binary to any character set converts nothing); CHAR(1) strips a trailing space.
        cur.execute(
            f"INSERT IGNORE INTO `{database}`.`{charset}` SELECT id, CONVERT(b USING {charset}) "
            f"FROM `{database}`.`{charset}_bytes` WHERE id <> 32"
        )
    items = read_binlake(sandbox_info, start, {database})
    differences = {}
    for charset in charsets:
        server, ours = server_text(cur, database, charset), decoded(items, charset)
        assert len(server) == 255, charset
        wrong = [(hex(k), v, ours.get(k)) for k, v in server.items() if ours.get(k) != v]
        if wrong:
            differences[charset] = wrong[:3]
    assert differences == {}


@pytest.mark.parametrize("charset", MULTI_BYTE)
def test_multi_byte_character_sets_decode_as_the_server_converts_them(
    sandbox_info: SandboxInfo, database: str, charset: str
) -> None:
    conn = connect(sandbox_info)
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE `{database}`.pairs (id INT PRIMARY KEY, b VARBINARY(2))")
    cur.execute(
        f"INSERT INTO `{database}`.pairs SELECT lead.seq * 256 + trail.seq, CONCAT(CHAR(lead.seq), CHAR(trail.seq)) "
        f"FROM `{database}`.seq_129_to_254 lead JOIN `{database}`.seq_64_to_254 trail WHERE trail.seq <> 127"
    )
    cur.execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY, v VARCHAR(2) CHARACTER SET {charset})")
    start = binlog_position(conn)
    # The valid characters: those the server converts to something other than '?'.
    cur.execute(
        f"INSERT IGNORE INTO `{database}`.t SELECT id, CONVERT(b USING {charset}) FROM `{database}`.pairs "
        f"WHERE LOCATE('?', CONVERT(CONVERT(b USING {charset}) USING utf8mb4)) = 0"
    )
    server, ours = server_text(cur, database, "t"), decoded(read_binlake(sandbox_info, start, {database}), "t")
    assert len(server) > 7000
    wrong = [(hex(k), v, ours.get(k)) for k, v in server.items() if ours.get(k) != v]
    assert (len(wrong), wrong[:5]) == (0, [])


@pytest.mark.parametrize("charset", ["big5", "eucjpms"])
def test_character_sets_without_an_exact_decode_stop_with_the_fix(
    sandbox_info: SandboxInfo, database: str, charset: str
) -> None:
    conn = connect(sandbox_info)
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY, v VARCHAR(2) CHARACTER SET {charset})")
    start = binlog_position(conn)
    cur.execute(f"INSERT INTO `{database}`.t VALUES (1, 'ab')")
    with pytest.raises(BinlakeError) as error:
        read_binlake(sandbox_info, start, {database})
    assert error.value.message == f"character set {charset} is not supported"
    assert error.value.fix == "convert the column to utf8mb4 or exclude it"
