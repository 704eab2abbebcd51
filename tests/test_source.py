"""``Source`` (source/server.py) against the server it reads: every answer compared with the server's own, asked
directly over the sandbox's root connection."""

from __future__ import annotations

from pathlib import Path

from binlake.config.secret import Secret
from binlake.position import BinlogPosition
from binlake.sandbox import SandboxInfo
from binlake.source.connection import SourceAddress
from binlake.source.server import Source


def source_of(info: SandboxInfo) -> Source:
    password = Secret(Path(info.password_file).read_text().strip())
    return Source(SourceAddress(info.host, info.port, info.user, password))


def master(admin) -> BinlogPosition:
    file, pos = server(admin, "SHOW MASTER STATUS")[0][:2]
    return BinlogPosition(str(file), int(pos))


def server(admin, sql: str) -> list[tuple]:
    cur = admin.cursor()
    cur.execute(sql)
    return list(cur.fetchall())


def test_positions_and_binlogs_are_the_servers(sandbox_info: SandboxInfo, admin, database: str) -> None:
    source = source_of(sandbox_info)
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    cur.execute(f"INSERT INTO `{database}`.t VALUES (1)")
    assert source.current_position() == master(admin)
    assert source.binary_logs() == [str(row[0]) for row in server(admin, "SHOW BINARY LOGS")]
    assert source.gtid_position() == server(admin, "SELECT @@GLOBAL.gtid_binlog_pos")[0][0]
    assert source.flavor.is_gtid_set(source.gtid_position() or "")


def test_snapshot_position_is_where_the_snapshot_stands(sandbox_info: SandboxInfo, admin, database: str) -> None:
    """Writes after the snapshot are past its position and invisible to it; writes before are at or before it."""
    source = source_of(sandbox_info)
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    cur.execute(f"INSERT INTO `{database}`.t VALUES (1)")
    before = master(admin)
    with source.connection(raw=True) as conn:
        position = source.start_snapshot(conn)
        cur.execute(f"INSERT INTO `{database}`.t VALUES (2)")
        after = master(admin)
        conn.query(f"SELECT id FROM `{database}`.t ORDER BY id")
        seen = [row[0] for row in conn.store_result().fetch_row(maxrows=0)]
    assert position == before < after
    assert seen == [b"1"]


def test_schema_reader_and_column_types(sandbox_info: SandboxInfo, admin, database: str) -> None:
    source = source_of(sandbox_info)
    cur = admin.cursor()
    cur.execute(
        f"CREATE TABLE `{database}`.t (id BIGINT UNSIGNED PRIMARY KEY, price DECIMAL(12,2), born DATETIME(3), "
        "note VARCHAR(20) CHARACTER SET latin1)"
    )
    assert (database, "t") in source.list_tables()
    table = source.describe_table(database, "t")
    assert [c.name for c in table.columns] == ["id", "price", "born", "note"]
    assert table.primary_key == ("id",)
    expected = dict(
        server(
            admin,
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
            f"WHERE TABLE_SCHEMA = '{database}' AND TABLE_NAME = 't'",
        )
    )
    assert source.column_types(database, "t") == expected
    assert expected["id"] == "bigint(20) unsigned" and expected["born"] == "datetime(3)"
