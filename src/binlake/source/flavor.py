"""Which server a source is. binlake reads MariaDB; a MySQL server is refused until MySQL is built and tested.

MySQL differs where correctness depends on it: the full load's snapshot position (MariaDB's
binlog_snapshot_file/position status), GTIDs, and the binary JSON encoding of its binlog. Half-supporting it
would lose the changes made during a full load, so it is refused with the reason.
"""

from __future__ import annotations

from binlake.errors import BinlakeError


def require_mariadb(server_version: str, host: str, port: int) -> None:
    """Raise unless ``server_version`` (the handshake's, as ``get_server_info()`` gives it) is MariaDB's."""
    if "mariadb" in server_version.lower():
        return
    raise BinlakeError(
        f"{host}:{port} runs MySQL {server_version}, not MariaDB; binlake supports MariaDB sources only for now "
        "(MySQL's snapshot position, GTIDs and binary JSON are not built and tested yet)",
        fix="replicate from a MariaDB server (10.5 or later)",
    )
