"""A loopback HTTP proxy in front of the S3 server that fails on demand, for the transient-error tests.

``stop_server()`` closes its listening socket, so connections are refused as if the S3 server were down;
``start_server()`` listens again on the same port. ``fail`` makes matching requests answer ``503 SlowDown``
(S3's throttling answer) without reaching the server. Everything else is forwarded unchanged, one request
per upstream connection. moto keeps its state in memory, so restarting moto itself would lose the bucket;
the proxy stops and restarts what binlake sees instead.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from binlake.sandbox import free_port

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


def _read_until(conn: socket.socket, buffer: bytearray, marker: bytes) -> int:
    while (index := buffer.find(marker)) < 0:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk
    return index


def _read_exactly(conn: socket.socket, buffer: bytearray, size: int) -> None:
    while len(buffer) < size:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.fail: Callable[[str, str, int], bool] = lambda method, path, number: False
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of every request
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._closed = False
        self.start_server()

    # -- control ------------------------------------------------------------------------------------
    def start_server(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop_server(self) -> None:
        """Connection refused from now on (connections already open are cut too)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def close(self) -> None:
        self._closed = True
        self.stop_server()

    def count(self, status: int) -> int:
        with self._lock:
            return sum(1 for _, _, s in self.requests if s == status)

    # -- serving ------------------------------------------------------------------------------------
    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, listener), daemon=True).start()

    def _serve(self, conn: socket.socket, listener: socket.socket) -> None:
        try:
            with conn:
                buffer = bytearray()
                while self._listener is listener:  # a stopped server answers nothing more
                    if not self._one_request(conn, buffer):
                        return
        except (ConnectionError, OSError):
            return

    def _one_request(self, conn: socket.socket, buffer: bytearray) -> bool:
        end = _read_until(conn, buffer, b"\r\n\r\n")
        head = bytes(buffer[: end + 4])
        del buffer[: end + 4]
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if headers.get("expect", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            head = b"\r\n".join(line for line in head.split(b"\r\n") if not line.lower().startswith(b"expect:"))
        body = bytearray()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                end = _read_until(conn, buffer, b"\r\n")
                size = int(bytes(buffer[:end]).split(b";")[0], 16)
                _read_exactly(conn, buffer, end + 2 + size + 2)
                body += buffer[: end + 2 + size + 2]
                del buffer[: end + 2 + size + 2]
                if size == 0:
                    break
        else:
            size = int(headers.get("content-length", "0"))
            _read_exactly(conn, buffer, size)
            body += buffer[:size]
            del buffer[:size]
        with self._lock:
            number = len(self.requests)
            failing = self.fail(method, path, number)
            self.requests.append((method, path, 503 if failing else 0))
        if failing:
            payload = b"" if method == "HEAD" else SLOW_DOWN
            conn.sendall(
                b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                + f"Content-Length: {len(SLOW_DOWN)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            return False
        conn.sendall(self._forward(head, bytes(body)))
        return False  # one request per connection: the response says Connection: close

    def _forward(self, head: bytes, body: bytes) -> bytes:
        lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:") and line]
        request = b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body
        with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30) as upstream:
            upstream.sendall(request)
            response = bytearray()
            while chunk := upstream.recv(65536):
                response += chunk
        end = response.find(b"\r\n\r\n")
        response_lines = [
            line for line in bytes(response[:end]).split(b"\r\n") if not line.lower().startswith(b"connection:")
        ]
        return b"\r\n".join([*response_lines, b"Connection: close"]) + bytes(response[end:])
