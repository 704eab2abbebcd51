"""``Source``: one source server as the engine uses it — connections, its schema, snapshots, binlog positions and
GTIDs — with the server family's differences taken from its ``Flavor`` (source/flavor.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from MySQLdb import _mysql

from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress, connect, explain
from binlake.source.flavor import MARIADB, Flavor, detect
from binlake.source.schema import SourceTable, describe_table, list_tables


class Source:
    """A source server at ``address``. Cheap to make: it holds no connection; each call opens what it needs."""

    def __init__(self, address: SourceAddress, flavor: Flavor | None = None) -> None:
        self.address = address
        self._flavor = flavor

    @property
    def flavor(self) -> Flavor:
        """The server family, known after the first connection (every connection checks it); MariaDB before."""
        return self._flavor or MARIADB

    # -- connections --------------------------------------------------------------------------------------
    def connect(self, *, raw: bool = False) -> Any:
        """A new connection in UTC with utf8mb4 (``raw``: MySQLdb's low-level one, values as bytes); the
        caller closes it. A server of an unsupported family is refused here."""
        conn = connect(self.address, raw=raw)
        self._flavor = detect(conn.get_server_info(), self.address.host, self.address.port)
        return conn

    @contextmanager
    def connection(self, *, raw: bool = False) -> Iterator[Any]:
        conn = self.connect(raw=raw)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        import MySQLdb

        with self.connection() as conn:
            try:
                yield conn.cursor()
            except MySQLdb.Error as exc:
                raise explain(exc, self.address) from None

    # -- schema ---------------------------------------------------------------------------------------------
    def list_tables(self) -> list[tuple[str, str]]:
        with self.connection() as conn:
            return list_tables(conn)

    def describe_tables(self, names: list[tuple[str, str]]) -> list[SourceTable]:
        with self.connection() as conn:
            return [describe_table(conn, schema, table) for schema, table in names]

    def describe_table(self, schema: str, table: str) -> SourceTable:
        return self.describe_tables([(schema, table)])[0]

    def column_types(self, schema: str, table: str) -> dict[str, str]:
        """Column name → information_schema COLUMN_TYPE, as the binlog decoder needs them."""
        with self.cursor() as cur:
            return self.flavor.column_types(cur, schema, table)

    # -- snapshots ------------------------------------------------------------------------------------------
    def start_snapshot(self, conn: _mysql.connection) -> BinlogPosition | None:
        """Open a consistent snapshot on ``conn`` (a raw connection of this source) and return the binlog
        position it corresponds to: changes after it are exactly those the snapshot does not see, which is
        what lets full-load-and-cdc hand over from the load to the stream without loss or duplicates."""
        conn.query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.query("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        return self.flavor.snapshot_position(conn)

    # -- binlog -------------------------------------------------------------------------------------------
    def current_position(self) -> BinlogPosition:
        """Where the binlog is being written now."""
        with self.cursor() as cur:
            position = self.flavor.current_position(cur)
        if position is None:
            raise BinlakeError(
                f"binlog is off on {self.address.host}:{self.address.port}",
                fix="set log_bin=ON, binlog_format=ROW, binlog_row_image=FULL and restart MariaDB",
            )
        return position

    def binary_logs(self) -> list[str]:
        """The binlog files the server still has, oldest first."""
        with self.cursor() as cur:
            return self.flavor.binary_logs(cur)

    def gtid_position(self) -> str | None:
        """The server's current GTID position (None when it has logged no GTID yet)."""
        with self.cursor() as cur:
            return self.flavor.gtid_position(cur)
