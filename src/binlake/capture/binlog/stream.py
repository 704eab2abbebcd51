"""The replication protocol: COM_BINLOG_DUMP on a PyMySQL connection, yielding raw binlog events.

Each network packet of the dump is one event prefixed by an OK byte (0x00). The stream is blocking (it
waits for new events) unless ``non_blocking``, in which case it ends at the current end of the binlog.
"""

from __future__ import annotations

import contextlib
import ssl
import struct
from collections.abc import Iterator

import pymysql

from binlake.errors import BinlakeError, TransientError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress
from binlake.source.flavor import MARIADB, Flavor, detect

ER_MASTER_FATAL_ERROR_READING_BINLOG = 1236


class BinlogStream:
    """One dump connection. Iterate ``events()`` for ``bytes`` of whole events (header included)."""

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

    def events(self) -> Iterator[bytes]:
        conn = self._connect()
        self._conn = conn
        payload = self.flavor.dump_command(self.start, self.server_id, self.non_blocking, self.gtid)
        conn._write_bytes(struct.pack("<I", len(payload))[:3] + b"\x00" + payload)
        conn._next_seq_id = 1
        try:
            for data in _packets(conn):
                marker = data[0]
                if marker == 0xFE and len(data) < 9:  # EOF: end of binlog in non-blocking mode
                    return
                if marker == 0xFF:  # an error packet: raised as PyMySQL raises it, handled below
                    pymysql.protocol.MysqlPacket(data, conn.encoding).raise_for_error()
                if marker != 0x00:
                    raise _dump_error(data, self.start)
                yield data[1:]
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

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


MAX_PACKET = 0xFFFFFF


def _packets(conn: pymysql.connections.Connection) -> Iterator[bytes]:
    """The dump's packets, read straight from the connection's buffered socket: PyMySQL's ``_read_packet`` costs
    a packet object and several calls per event, a tenth of the CDC loop on small events. A packet of 16 MB - 1
    bytes continues in the next one (the protocol's large packets); a lost connection is PyMySQL's error 2013."""
    if conn._sock is None or conn._rfile is None:
        raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
    conn._sock.settimeout(conn._read_timeout)
    conn._current_timeout = conn._read_timeout
    read = conn._rfile.read

    def exactly(count: int) -> bytes:
        data = read(count)
        if len(data) != count:
            raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
        return data

    while True:
        try:
            header = exactly(4)
            length = header[0] | header[1] << 8 | header[2] << 16
            data = exactly(length)
            while length == MAX_PACKET:
                header = exactly(4)
                length = header[0] | header[1] << 8 | header[2] << 16
                data += exactly(length)
        except OSError as exc:
            raise pymysql.err.OperationalError(2013, f"Lost connection to MySQL server during query ({exc})") from None
        yield data


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
