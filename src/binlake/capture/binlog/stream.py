"""The replication protocol: COM_BINLOG_DUMP on a PyMySQL connection, yielding the events as records.

Each network packet of the dump is one event prefixed by an OK byte (0x00); whatever the socket holds is read at
once and cut into events by a scanner (capture/binlog/framing.py). The stream is blocking (it
waits for new events) unless ``non_blocking``, in which case it ends at the current end of the binlog.
"""

from __future__ import annotations

import contextlib
import ssl
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pymysql

from binlake.capture.binlog.framing import PACKET, Record
from binlake.errors import BinlakeError, TransientError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress
from binlake.source.flavor import MARIADB, Flavor, detect

ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236


class BinlogStream:
    """One dump connection. Iterate ``records()`` for the events as framing records."""

    def __init__(
        self,
        address: SourceAddress,
        start: BinlogPosition,
        server_id: int,
        *,
        non_blocking: bool = False,
        heartbeat_seconds: float = 1.0,
        gtid: str | None = None,
    ) -> None:
        self.address = address
        self.start = start
        self.gtid = gtid  # MariaDB GTID position to start from instead of ``start`` ('0-1-100,1-2-7')
        self.server_id = server_id
        self.non_blocking = non_blocking
        self.heartbeat_seconds = heartbeat_seconds
        # Whether the server's binlog_checksum was on when this stream connected. Each file says for itself
        # in its format description event; the reader goes by that.
        self.checksum_announced = False
        self.flavor: Flavor = MARIADB  # the server family's dump settings, known once connected
        self._conn: pymysql.connections.Connection | None = None
        self.scanner: Any = None  # the framing.Scanner of the running dump

    def _connect(self) -> pymysql.connections.Connection:
        address = self.address
        ssl = tls_context(address)
        try:
            conn = pymysql.connect(
                host=address.host,
                port=address.port,
                user=address.user,
                password=address.password.reveal(),
                connect_timeout=10,
                read_timeout=max(30.0, self.heartbeat_seconds * 10),
                ssl=ssl,
                autocommit=True,
            )
        except pymysql.err.OperationalError as exc:
            from binlake.source.connection import explain

            raise explain(exc, address) from None  # type: ignore[arg-type]
        try:
            self.flavor = detect(str(conn.server_version), address.host, address.port)
        except BinlakeError:
            conn.close()
            raise
        with conn.cursor() as cur:
            if ssl is not None:
                cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                row = cur.fetchone()
                if not row or not row[1]:
                    conn.close()
                    raise BinlakeError(
                        f"{address.host}:{address.port} does not offer TLS, and the endpoint's --ssl-mode is "
                        f"{address.ssl_mode}",
                        fix="enable TLS on the server (ssl_cert, ssl_key) or use --ssl-mode none",
                    )
            self.checksum_announced = self.flavor.prepare_dump(cur, self.heartbeat_seconds, self.gtid)
        return conn

    def records(self, make_scanner: Callable[[bool], Any]) -> Iterator[list[Record]]:
        """The dump as lists of records (capture/binlog/framing.py), one list per socket read: what the socket
        holds is read at once, and the scanner cuts it into events, so no Python runs per packet."""
        conn = self._connect()
        self._conn = conn
        # The scanner starts with the checksum setting announced; each file's format description then decides.
        scanner = self.scanner = make_scanner(self.checksum_announced)
        self._dump(conn)
        try:
            if conn._sock is None or conn._rfile is None:
                raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
            conn._sock.settimeout(conn._read_timeout)
            conn._current_timeout = conn._read_timeout
            read1, read = conn._rfile.read1, conn._rfile.read
            chunk = b""
            while True:
                records = scanner.feed(chunk)
                if records and records[-1][0] == PACKET:  # EOF or an error: the dump ends
                    packet = records.pop()[4]
                    if records:
                        yield records
                    if packet[:1] == b"\xfe" and len(packet) < 9:  # end of binlog in non-blocking mode
                        return
                    if packet[:1] == b"\xff":  # an error packet: raised as PyMySQL raises it, handled below
                        pymysql.protocol.MysqlPacket(packet, conn.encoding).raise_for_error()
                    raise _dump_error(packet, self.start)
                if records:
                    yield records
                wanted = scanner.wanted
                if not wanted:  # the scanner paused after an event the reader handles alone
                    chunk = b""
                    continue
                try:
                    chunk = read1(READ_SIZE) if wanted <= READ_SIZE else read(wanted)
                except OSError as exc:
                    raise pymysql.err.OperationalError(
                        2013, f"Lost connection to MySQL server during query ({exc})"
                    ) from None
                if not chunk:
                    raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else None
            if code == ER_MASTER_FATAL_ERROR_READING_BINLOG:
                raise _purged(str(exc.args[1]) if len(exc.args) > 1 else str(exc), self.start) from None
            raise TransientError(
                f"lost the binlog connection to {self.address.host}:{self.address.port}: {exc}"
            ) from None
        except pymysql.err.InternalError as exc:
            raise TransientError(f"binlog stream error: {exc}") from None
        finally:
            self.close()

    def _dump(self, conn: pymysql.connections.Connection) -> None:
        """COM_BINLOG_DUMP from the start position (or, with a GTID start, from the file the server finds)."""
        payload = self.flavor.dump_command(self.start, self.server_id, self.non_blocking, self.gtid)
        conn._write_bytes(struct.pack("<I", len(payload))[:3] + b"\x00" + payload)
        conn._next_seq_id = 1

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


MAX_PACKET = 0xFFFFFF
# Bytes asked of the socket per read: what it holds up to this is taken at once.
READ_SIZE = 1 << 20


def tls_context(address: SourceAddress) -> ssl.SSLContext | None:
    """The TLS the endpoint's --ssl-mode asks for (as the full load's connection uses it), or None."""
    if address.ssl_mode == "none":
        return None
    context = ssl.create_default_context(cafile=address.ssl_ca) if address.ssl_ca else ssl.create_default_context()
    context.check_hostname = address.ssl_mode == "verify-full"
    context.verify_mode = ssl.CERT_NONE if address.ssl_mode == "require" else ssl.CERT_REQUIRED
    return context


def _dump_error(data: bytes, start: BinlogPosition) -> BinlakeError:
    if data[0] == 0xFF:
        code = struct.unpack_from("<H", data, 1)[0]
        message = data[9:].decode(errors="replace") if data[3:4] == b"#" else data[3:].decode(errors="replace")
        if code == ER_MASTER_FATAL_ERROR_READING_BINLOG:
            return _purged(message, start)
        return BinlakeError(f"binlog dump failed ({code}: {message})")
    return BinlakeError(f"unexpected binlog packet starting with 0x{data[0]:02x}")


def _purged(message: str, start: BinlogPosition) -> BinlakeError:
    return BinlakeError(
        f"the source cannot send its binlog from {start} ({message}); the binlog was purged or the position is wrong",
        fix="start the task with --start-replication-task-type reload-target, and keep binlogs longer "
        "(expire_logs_days / binlog_expire_logs_seconds)",
    )
