"""The sandbox as the harness reaches it: root connections, the current binlog position, the binlake reader
over a binlog range, and global settings changed only for the duration of a block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import MySQLdb

from binlake.capture.binlog.charsets import load_codec
from binlake.capture.binlog.reader import BinlogReader, Item
from binlake.capture.binlog.stream import BinlogStream
from binlake.config.secret import Secret
from binlake.position import BinlogPosition
from binlake.sandbox import SandboxInfo
from binlake.source.connection import SourceAddress


def address(info: SandboxInfo) -> SourceAddress:
    password = Path(info.admin_password_file).read_text().strip()
    return SourceAddress(info.host, info.port, info.admin_user, Secret(password))


def connect(info: SandboxInfo) -> MySQLdb.connections.Connection:
    return MySQLdb.connect(unix_socket=info.socket, user="root", charset="utf8mb4", autocommit=True)


def binlog_position(conn: MySQLdb.connections.Connection) -> BinlogPosition:
    cur = conn.cursor()
    cur.execute("SHOW MASTER STATUS")
    name, position = cur.fetchone()[:2]
    return BinlogPosition(name, int(position))


def column_types(conn: MySQLdb.connections.Connection, schema: str, table: str) -> dict[str, str]:
    """information_schema COLUMN_TYPE by column name: what the CDC engine hands the reader."""
    cur = conn.cursor()
    cur.execute(
        "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (schema, table),
    )
    return {str(name): str(kind) for name, kind in cur.fetchall()}


def read_binlake(
    info: SandboxInfo, start: BinlogPosition, schemas: set[str], into: list[Item] | None = None
) -> list[Item]:
    """Every item binlake's reader yields from ``start`` to the current end of the binlog, for ``schemas``;
    appended to ``into`` as they come, so a failure leaves what was read before it there."""
    items: list[Item] = [] if into is None else into
    conn = connect(info)
    try:
        codec = load_codec(conn)
        stream = BinlogStream(address(info), start, 0, non_blocking=True)
        reader = BinlogReader(
            stream, codec, lambda schema, table: schema in schemas, lambda s, t: column_types(conn, s, t)
        )
        items.extend(reader)
        return items
    finally:
        conn.close()


@contextlib.contextmanager
def global_setting(conn: MySQLdb.connections.Connection, name: str, value: str) -> Iterator[None]:
    """SET GLOBAL ``name`` for the block, restored afterwards whatever happens."""
    cur = conn.cursor()
    cur.execute(f"SELECT @@global.{name}")
    before = cur.fetchone()[0]
    cur.execute(f"SET GLOBAL {name} = %s", (value,))
    try:
        yield
    finally:
        conn.cursor().execute(f"SET GLOBAL {name} = %s", (before,))


def session_settings(conn: MySQLdb.connections.Connection, settings: Mapping[str, str]) -> None:
    cur = conn.cursor()
    for name, value in settings.items():
        cur.execute(f"SET SESSION {name} = %s", (value,))
