"""The part the monitoring server and the API server share: bind a local address with a one-line error (a port in
use names the fix), then serve in a background thread or in the foreground."""

from __future__ import annotations

import errno
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from binlake.errors import BinlakeError


class LocalServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` on ``host:port`` (port 0: any free one); ``start`` serves in a thread named
    ``thread_name``, ``close`` stops it."""

    daemon_threads = True
    thread_name = "http-server"

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        try:
            super().__init__((host, port), handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise BinlakeError(
                    f"port {port} on {host} is in use", fix="pass --port with a free port (or --port 0 for any)"
                ) from None
            raise BinlakeError(
                f"cannot listen on {host}:{port}: {exc.strerror}", fix="check --host and --port"
            ) from None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``host:port`` as bound (the real port when 0 was asked for)."""
        host, port = self.server_address[:2]
        return f"{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> None:
        """Serve in a background thread (tests, or a caller with its own loop)."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name=self.thread_name)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
        self.server_close()
