"""Connections to the source, with server errors turned into one-line causes and fixes."""

from __future__ import annotations

from dataclasses import dataclass

import MySQLdb
from MySQLdb import _mysql

from binlake.config.endpoint import Endpoint
from binlake.config.secret import Secret
from binlake.errors import BinlakeError, TransientError
from binlake.source.flavor import require_mariadb

CONNECT_TIMEOUT_SECONDS = 10
# Server error codes (https://mariadb.com/kb/en/mariadb-error-codes/).
ER_ACCESS_DENIED = 1045
ER_DBACCESS_DENIED = 1044
ER_TABLEACCESS_DENIED = 1142
ER_SPECIFIC_ACCESS_DENIED = 1227
ER_COLUMNACCESS_DENIED = 1143
ER_BAD_DB = 1049
CR_CONNECTION_ERROR = 2002
CR_CONN_HOST_ERROR = 2003
CR_UNKNOWN_HOST = 2005
CR_SERVER_GONE = 2006
CR_SERVER_LOST = 2013
CR_SSL_CONNECTION_ERROR = 2026
ER_CON_COUNT_ERROR = 1040
ER_SERVER_SHUTDOWN = 1053
ER_OPTION_PREVENTS_STATEMENT = 1290  # --read-only, e.g. during a failover
ER_CONNECTION_KILLED = 1927
CR_SERVER_LOST_EXTENDED = 2055
# Errors the environment causes and ends by itself: a task retries them (ErrorBehavior's RecoverableError*).
RECOVERABLE_CODES = frozenset(
    {
        CR_CONNECTION_ERROR,
        CR_CONN_HOST_ERROR,
        CR_SERVER_GONE,
        CR_SERVER_LOST,
        CR_SERVER_LOST_EXTENDED,
        ER_CON_COUNT_ERROR,
        ER_SERVER_SHUTDOWN,
        ER_OPTION_PREVENTS_STATEMENT,
        ER_CONNECTION_KILLED,
    }
)


@dataclass(frozen=True)
class SourceAddress:
    """Where and as whom to connect; the password is resolved only when connecting."""

    host: str
    port: int
    user: str
    password: Secret
    database: str | None = None
    ssl_mode: str = "none"  # none | require | verify-ca | verify-full
    ssl_ca: str | None = None

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def _ssl_kwargs(address: SourceAddress) -> dict[str, object]:
    if address.ssl_mode == "none":
        return {}
    ssl: dict[str, object] = {}
    if address.ssl_ca:
        ssl["ca"] = address.ssl_ca
    kwargs: dict[str, object] = {"ssl": ssl or {"ca": None}}
    kwargs["ssl_mode"] = {"require": "REQUIRED", "verify-ca": "VERIFY_CA", "verify-full": "VERIFY_IDENTITY"}[
        address.ssl_mode
    ]
    return kwargs


def explain(exc: MySQLdb.Error, address: SourceAddress) -> BinlakeError:
    """A server or client error as a one-line cause and fix."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    detail = exc.args[1] if len(exc.args) > 1 else str(exc)
    if code in (CR_CONN_HOST_ERROR, CR_CONNECTION_ERROR, CR_UNKNOWN_HOST):
        # A refused or lost connection may come back (retried); a host name that does not resolve will not.
        unreachable = BinlakeError if code == CR_UNKNOWN_HOST else TransientError
        return unreachable(
            f"cannot reach MySQL at {address.host}:{address.port} ({detail})",
            fix="check --server-name and --port, and that the server runs and accepts TCP connections from here",
        )
    if code == ER_ACCESS_DENIED:
        return BinlakeError(
            f"access denied for {address.label}: wrong user name or password",
            fix="check --username and the password in the endpoint's --password-env variable or --password-file",
        )
    if code in (ER_DBACCESS_DENIED, ER_TABLEACCESS_DENIED, ER_COLUMNACCESS_DENIED, ER_SPECIFIC_ACCESS_DENIED):
        return BinlakeError(
            f"{address.user} lacks a privilege on {address.host}:{address.port} ({detail})",
            fix=f"GRANT SELECT, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '{address.user}'@'%'",
        )
    if code == ER_BAD_DB:
        return BinlakeError(f"{detail} on {address.host}:{address.port}", fix="check --database-name")
    if code == CR_SSL_CONNECTION_ERROR:
        return BinlakeError(
            f"TLS connection to {address.host}:{address.port} failed ({detail})",
            fix="check --ssl-mode and --certificate (the CA file), or use --ssl-mode none",
        )
    if code == ER_CON_COUNT_ERROR:
        return TransientError(
            f"{address.host}:{address.port} has no free connection ({detail})",
            fix="raise max_connections on the source, or close idle connections",
        )
    if code in RECOVERABLE_CODES:
        return TransientError(
            f"lost the connection to {address.host}:{address.port} ({detail})",
            fix="check that the server is up; raise net_write_timeout if it drops long reads",
        )
    return BinlakeError(f"MySQL error on {address.host}:{address.port}: {detail}")


def connect(address: SourceAddress, *, raw: bool = False) -> MySQLdb.connections.Connection | _mysql.connection:
    """A connection in UTC with utf8mb4. ``raw`` gives the low-level connection returning bytes."""
    kwargs: dict[str, object] = dict(
        host=address.host,
        port=address.port,
        user=address.user,
        password=address.password.reveal(),
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        **_ssl_kwargs(address),
    )
    if address.database:
        kwargs["database"] = address.database
    try:
        if raw:
            conn = _mysql.connect(conv={}, **kwargs)
            require_mariadb(conn.get_server_info(), address.host, address.port)
            conn.set_character_set("utf8mb4")
            conn.query("SET time_zone = '+00:00', net_write_timeout = 3600, net_read_timeout = 3600")
            return conn
        conn = MySQLdb.connect(charset="utf8mb4", autocommit=True, **kwargs)
        require_mariadb(conn.get_server_info(), address.host, address.port)
        conn.query("SET time_zone = '+00:00'")
        return conn
    except MySQLdb.Error as exc:
        raise explain(exc, address) from None


def endpoint_address(endpoint: Endpoint) -> SourceAddress:
    """A source endpoint's address, its password read now from where the endpoint says it lives."""
    return SourceAddress(
        host=endpoint.ServerName,
        port=endpoint.Port,
        user=endpoint.Username,
        password=endpoint.password_ref().resolve(),
        database=endpoint.DatabaseName or None,
        ssl_mode=endpoint.SslMode,
        ssl_ca=endpoint.CertificatePath or None,
    )
