"""Which server a source is, and every SQL-level difference between server families, in one place.

binlake reads MariaDB; a MySQL server is refused until MySQL is built and tested. MySQL differs where
correctness depends on it: the full load's snapshot position (MariaDB's binlog_snapshot_file/position status;
MySQL has no such status and needs performance_schema.log_status under a lock), GTIDs (MariaDB
``domain-server-sequence`` vs MySQL ``uuid:interval``), the statement that shows the binlog's write position
(``SHOW MASTER STATUS`` vs MySQL 8.4's ``SHOW BINARY LOG STATUS``), privilege names (MariaDB 10.5+'s
``BINLOG MONITOR``) and the binary JSON encoding of its binlog. Half-supporting MySQL would lose the changes
made during a full load, so it is refused with the reason. Supporting MySQL 8 later is one more ``Flavor``
subclass here (and its binlog side in capture/), with tests from recorded events.
"""

from __future__ import annotations

import re
import struct
from typing import Any, ClassVar, Protocol

from binlake.errors import BinlakeError
from binlake.position import BinlogPosition

COM_BINLOG_DUMP = 0x12
BINLOG_DUMP_NON_BLOCK = 0x01  # the dump ends at the binlog's current end instead of waiting for new events


class Cursor(Protocol):
    def execute(self, query: str, args: Any = ...) -> Any: ...

    def fetchall(self) -> Any: ...

    def fetchone(self) -> Any: ...


class RawConnection(Protocol):
    """MySQLdb's low-level connection (``_mysql.connection``), as the full load's snapshot uses it."""

    def query(self, query: str) -> None: ...

    def store_result(self) -> Any: ...


class Flavor:
    """A server family's SQL: how to ask for positions, snapshots, GTIDs, binlogs and privileges."""

    name = ""
    # The statement that shows the binlog's current file and write position (first two columns).
    binlog_status_sql = "SHOW MASTER STATUS"
    binary_logs_sql = "SHOW BINARY LOGS"
    # The GTID position a user may give as a CDC start point, and the server variable holding the current one.
    gtid_pattern = re.compile(r"(?!)")
    gtid_position_sql = ""
    # The privileges CDC needs, each with the names SHOW GRANTS may print for it.
    cdc_privileges: ClassVar[dict[str, tuple[str, ...]]] = {}

    def current_position(self, cur: Cursor) -> BinlogPosition | None:
        """The binlog's write position now; None when the binlog is off."""
        cur.execute(self.binlog_status_sql)
        row = cur.fetchone()
        return BinlogPosition(str(row[0]), int(row[1])) if row else None

    def binary_logs(self, cur: Cursor) -> list[str]:
        """The binlog files the server still has, oldest first."""
        cur.execute(self.binary_logs_sql)
        return [str(row[0]) for row in cur.fetchall()]

    def gtid_position(self, cur: Cursor) -> str | None:
        cur.execute(self.gtid_position_sql)
        row = cur.fetchone()
        return str(row[0]) if row and row[0] else None

    def is_gtid_set(self, text: str) -> bool:
        return self.gtid_pattern.match(text) is not None

    def missing_cdc_privileges(self, grants: list[str]) -> list[str]:
        text = " ".join(grants).upper()
        if "ALL PRIVILEGES ON *.*" in text:
            return []
        return [name for name, spellings in self.cdc_privileges.items() if not any(s in text for s in spellings)]

    def snapshot_position(self, conn: RawConnection) -> BinlogPosition | None:
        """Inside a just-started consistent snapshot: the binlog position it corresponds to, or None."""
        raise NotImplementedError

    def prepare_dump(self, cur: Cursor, heartbeat_seconds: float, gtid: str | None) -> bool:
        """Set up a replication connection's session before its dump command; returns whether the server's
        binlog_checksum was on (each file's format description event says for itself; the reader goes by that)."""
        raise NotImplementedError

    def dump_command(self, start: BinlogPosition, server_id: int, non_blocking: bool, gtid: str | None) -> bytes:
        """The payload of the command that starts the binlog dump at ``start`` (or at the GTID position)."""
        raise NotImplementedError

    def column_types(self, cur: Cursor, schema: str, table: str) -> dict[str, str]:
        """Column name → information_schema COLUMN_TYPE (the binlog decoder's type detection)."""
        cur.execute(
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (schema, table),
        )
        return {str(name): str(kind) for name, kind in cur.fetchall()}


class MariaDB(Flavor):
    name = "mariadb"
    # domain-server-sequence, one per replication domain: 0-1-100,1-2-7
    gtid_pattern = re.compile(r"^\d+-\d+-\d+(,\d+-\d+-\d+)*$")
    gtid_position_sql = "SELECT @@GLOBAL.gtid_binlog_pos"
    # MariaDB 10.5+ shows REPLICATION CLIENT as BINLOG MONITOR and REPLICATION SLAVE as REPLICATION SLAVE.
    cdc_privileges: ClassVar[dict[str, tuple[str, ...]]] = {
        "REPLICATION SLAVE": ("REPLICATION SLAVE",),
        "REPLICATION CLIENT": ("REPLICATION CLIENT", "BINLOG MONITOR"),
    }

    def snapshot_position(self, conn: RawConnection) -> BinlogPosition | None:
        # MariaDB records the binlog position of START TRANSACTION WITH CONSISTENT SNAPSHOT in session status,
        # without a lock (https://mariadb.com/kb/en/enhancements-for-start-transaction-with-consistent-snapshot/).
        conn.query("SHOW STATUS LIKE 'binlog_snapshot_%'")
        status = {name.decode().lower(): value.decode() for name, value in conn.store_result().fetch_row(maxrows=0)}
        binlog_file = status.get("binlog_snapshot_file")
        if not binlog_file:
            return None
        return BinlogPosition(binlog_file, int(status["binlog_snapshot_position"]))

    def prepare_dump(self, cur: Cursor, heartbeat_seconds: float, gtid: str | None) -> bool:
        cur.execute("SELECT @@global.binlog_checksum")
        row = cur.fetchone()
        checksum = bool(row and row[0] and str(row[0]).upper() != "NONE")
        # Announce a checksum-aware replica whatever the setting is now: the server then sends every file's
        # events as that file has them, and a later change of binlog_checksum does not end the dump.
        cur.execute("SET @master_binlog_checksum = @@global.binlog_checksum")
        # Announce a GTID-aware replica (MARIA_SLAVE_CAPABILITY_GTID), so the server sends GTID events as they are.
        cur.execute("SET @mariadb_slave_capability = 4")
        cur.execute("SET @master_heartbeat_period = %s", (int(heartbeat_seconds * 1_000_000_000),))
        if gtid:
            cur.execute("SET @slave_connect_state = %s", (gtid,))
            cur.execute("SET @slave_gtid_strict_mode = 0")
            cur.execute("SET @slave_gtid_ignore_duplicates = 0")
        return checksum

    def dump_command(self, start: BinlogPosition, server_id: int, non_blocking: bool, gtid: str | None) -> bytes:
        # COM_BINLOG_DUMP: log_pos (4), flags (2), server_id (4), file name. With a GTID start
        # (@slave_connect_state) the server finds the file itself and announces it in the first ROTATE.
        name = b"" if gtid else start.binlog_file.encode()
        log_pos = 4 if gtid else start.log_pos
        flags = BINLOG_DUMP_NON_BLOCK if non_blocking else 0
        return struct.pack("<BIHI", COM_BINLOG_DUMP, log_pos, flags, server_id) + name


MARIADB = MariaDB()


def detect(server_version: str, host: str, port: int) -> Flavor:
    """The flavor of a server from its handshake version (``get_server_info()``); MySQL is refused for now."""
    require_mariadb(server_version, host, port)
    return MARIADB


def require_mariadb(server_version: str, host: str, port: int) -> None:
    """Raise unless ``server_version`` (the handshake's, as ``get_server_info()`` gives it) is MariaDB's."""
    if "mariadb" in server_version.lower():
        return
    raise BinlakeError(
        f"{host}:{port} runs MySQL {server_version}, not MariaDB; binlake supports MariaDB sources only for now "
        "(MySQL's snapshot position, GTIDs and binary JSON are not built and tested yet)",
        fix="replicate from a MariaDB server (10.5 or later)",
    )
