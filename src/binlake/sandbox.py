"""A private MariaDB for the demo and the tests: own data directory, socket and port, binlog on.

It never touches the machine's system MariaDB service: everything lives under one directory and the
server is started from a my.cnf written there.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from binlake.errors import BinlakeError

REPLICATION_USER = "binlake"
ADMIN_USER = "binlake_admin"
DEFAULT_PORT = 33306

# Settings a CDC source needs (docs/cdc.md); the CDC preflight checks these same names.
BINLOG_SETTINGS = {
    "log_bin": "mysql-bin",
    "binlog_format": "ROW",
    "binlog_row_image": "FULL",
    "binlog_row_metadata": "FULL",
    "server_id": "1",
}


@dataclass
class SandboxInfo:
    host: str
    port: int
    socket: str
    user: str
    password_file: str
    admin_user: str
    admin_password_file: str
    data_dir: str
    running: bool

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _server_binaries() -> tuple[str, str]:
    server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/local/sbin")
    install_db = shutil.which("mariadb-install-db") or shutil.which(
        "mariadb-install-db", path="/usr/bin:/usr/local/bin"
    )
    if not server or not install_db:
        raise BinlakeError(
            "MariaDB server binaries (mariadbd, mariadb-install-db) not found",
            fix="run scripts/install.sh, or apt-get install mariadb-server",
        )
    return server, install_db


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def process_alive(pid: int) -> bool:
    try:  # reap it when it is our own child, or a zombie would look alive
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sandbox:
    """One private MariaDB instance rooted at ``base_dir``."""

    def __init__(self, base_dir: Path, port: int | None = None, extra_settings: dict[str, str] | None = None) -> None:
        self.base_dir = Path(base_dir).absolute()
        self._requested_port = port
        self.extra_settings = dict(extra_settings or {})

    # -- paths ---------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_path(self) -> Path:
        return self.base_dir / "mariadb.sock"

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "mariadb.pid"

    @property
    def cnf_path(self) -> Path:
        return self.base_dir / "my.cnf"

    @property
    def password_file(self) -> Path:
        return self.base_dir / "replication.password"

    @property
    def admin_password_file(self) -> Path:
        return self.base_dir / "admin.password"

    @property
    def meta_path(self) -> Path:
        return self.base_dir / "sandbox.json"

    # -- state ---------------------------------------------------------------
    def _meta(self) -> dict[str, object]:
        if self.meta_path.exists():
            return json.loads(self.meta_path.read_text())
        return {}

    @property
    def port(self) -> int:
        meta = self._meta()
        if "port" in meta:
            return int(str(meta["port"]))
        return self._requested_port or DEFAULT_PORT

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if process_alive(pid) else None

    def is_running(self) -> bool:
        return self.pid() is not None and self.socket_path.exists()

    def info(self) -> SandboxInfo:
        return SandboxInfo(
            host="127.0.0.1",
            port=self.port,
            socket=str(self.socket_path),
            user=REPLICATION_USER,
            password_file=str(self.password_file),
            admin_user=ADMIN_USER,
            admin_password_file=str(self.admin_password_file),
            data_dir=str(self.data_dir),
            running=self.is_running(),
        )

    # -- lifecycle -----------------------------------------------------------
    def _write_cnf(self, port: int) -> None:
        settings = {
            "datadir": str(self.data_dir),
            "socket": str(self.socket_path),
            "pid-file": str(self.pid_file),
            "port": str(port),
            "bind-address": "127.0.0.1",
            "log-error": str(self.base_dir / "mariadb.err"),
            "innodb_buffer_pool_size": "256M",
            "innodb_log_file_size": "256M",
            "innodb_flush_log_at_trx_commit": "2",
            "sync_binlog": "0",
            "max_allowed_packet": "256M",
            "character-set-server": "utf8mb4",
            "collation-server": "utf8mb4_general_ci",
            "max_connections": "200",
            **BINLOG_SETTINGS,
            **self.extra_settings,
        }
        lines = ["[mariadbd]"]
        for key, value in settings.items():
            lines.append(key if value is None else f"{key}={value}")
        lines += ["", "[client]", f"socket={self.socket_path}", f"port={port}", ""]
        self.cnf_path.write_text("\n".join(lines))

    def _user_args(self) -> list[str]:
        return ["--user=root"] if os.geteuid() == 0 else []

    def start(self, timeout: float = 60.0) -> SandboxInfo:
        if self.is_running():
            return self.info()
        server, install_db = _server_binaries()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        port = self.port
        if not _port_free(port):
            if self._requested_port is not None or "port" in self._meta():
                raise BinlakeError(
                    f"port {port} on 127.0.0.1 is in use",
                    fix="pass --port with a free port, or stop what listens there",
                )
            port = free_port()
        self._write_cnf(port)
        self.meta_path.write_text(json.dumps({"port": port}))
        fresh = not (self.data_dir / "mysql").exists()
        if fresh:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            result = subprocess.run(
                [
                    install_db,
                    f"--defaults-file={self.cnf_path}",
                    "--skip-test-db",
                    "--auth-root-authentication-method=socket",
                    *self._user_args(),
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise BinlakeError(
                    f"mariadb-install-db failed: {result.stderr.strip().splitlines()[-1:]}",
                    fix=f"see {self.base_dir / 'mariadb.err'}; remove {self.base_dir} to start over",
                )
        log = open(self.base_dir / "mariadbd.out", "ab")  # noqa: SIM115 - handed to the child
        subprocess.Popen(
            [server, f"--defaults-file={self.cnf_path}", *self._user_args()],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_ready(timeout)
        if fresh:
            self._create_users()
        return self.info()

    def _wait_ready(self, timeout: float) -> None:
        import MySQLdb

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                MySQLdb.connect(unix_socket=str(self.socket_path), user="root").close()
                return
            except MySQLdb.Error as exc:
                last = exc
                time.sleep(0.2)
        raise BinlakeError(
            f"sandbox MariaDB did not start within {timeout:.0f}s ({last})",
            fix=f"see {self.base_dir / 'mariadb.err'}",
        )

    def root_connection(self):
        import MySQLdb

        return MySQLdb.connect(unix_socket=str(self.socket_path), user="root", charset="utf8mb4", autocommit=True)

    def _create_users(self) -> None:
        repl_password = secrets.token_urlsafe(18)
        admin_password = secrets.token_urlsafe(18)
        for path, value in ((self.password_file, repl_password), (self.admin_password_file, admin_password)):
            path.write_text(value + "\n")
            path.chmod(0o600)
        conn = self.root_connection()
        try:
            cur = conn.cursor()
            for host in ("127.0.0.1", "localhost"):
                cur.execute(f"CREATE OR REPLACE USER '{REPLICATION_USER}'@'{host}' IDENTIFIED BY %s", (repl_password,))
                cur.execute(
                    f"GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT, SHOW VIEW "
                    f"ON *.* TO '{REPLICATION_USER}'@'{host}'"
                )
                cur.execute(f"CREATE OR REPLACE USER '{ADMIN_USER}'@'{host}' IDENTIFIED BY %s", (admin_password,))
                cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'{host}' WITH GRANT OPTION")
        finally:
            conn.close()

    def stop(self, timeout: float = 60.0) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process_alive(pid):
                return True
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        return True

    def destroy(self) -> bool:
        stopped = self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)
        return stopped
