"""The monitoring server: the dashboard page, its JSON API and Prometheus ``/metrics``, on the standard library.

Routes: ``/`` (the page), ``/api/tasks``, ``/api/tasks/<task>/metrics?window=SECONDS``, ``/metrics``.
It binds 127.0.0.1 unless told otherwise and only reads the state store.
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from binlake.errors import BinlakeError
from binlake.http_server import LocalServer
from binlake.monitor import api, prometheus
from binlake.monitor.page import PAGE
from binlake.monitor.targets import Target
from binlake.state.store import StateStore

log = logging.getLogger(__name__)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


class MonitorServer(LocalServer):
    thread_name = "monitor-server"

    def __init__(self, store: StateStore, targets: dict[str, Target], host: str, port: int) -> None:
        self.store = store
        self.targets = targets
        super().__init__(host, port, Handler)

    @property
    def url(self) -> str:
        return f"http://{self.address}/"


class Handler(BaseHTTPRequestHandler):
    server: MonitorServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = parse_qs(url.query)
        try:
            if not parts:
                self._send(200, "text/html; charset=utf-8", PAGE.encode())
            elif parts == ["metrics"]:
                self._send(200, prometheus.CONTENT_TYPE, prometheus.render(self.server.store).encode())
            elif parts == ["api", "tasks"]:
                self._json(200, api.tasks_document(self.server.store))
            elif len(parts) == 4 and parts[:2] == ["api", "tasks"] and parts[3] == "metrics":
                window = float(query.get("window", [api.DEFAULT_WINDOW_SECONDS])[0])
                self._json(200, api.metrics_document(self.server.store, parts[2], self.server.targets, window))
            else:
                self._json(404, {"Error": f"no such page: {url.path}"})
        except BinlakeError as exc:
            self._json(404, {"Error": str(exc)})
        except ValueError as exc:
            self._json(400, {"Error": str(exc)})

    def _json(self, status: int, document: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(document, default=str).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)
