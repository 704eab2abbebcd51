"""The API server: one ``http.server`` that routes each signed request to its service by protocol.

- ``X-Amz-Target: AmazonDMSv20160101.<Op>`` / ``Logs_20140328.<Op>`` / ``GraniteServiceVersion20100801.<Op>``:
  the JSON protocols (DMS and CloudWatch Logs 1.1; CloudWatch 1.0, what botocore sends it today);
- ``POST /service/GraniteServiceVersion20100801/operation/<Op>`` with ``smithy-protocol: rpc-v2-cbor``:
  CloudWatch in CBOR (botocore releases of 2025 that preferred it);
- a form body with ``Action=<Op>``: CloudWatch's query protocol (older botocore and AWS CLI v1 releases).

It binds 127.0.0.1 unless told otherwise, and answers nothing before the request's SigV4 signature checks out.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from binlake.api import cbor, keys, query, sigv4
from binlake.api.arns import DEFAULT_ACCOUNT, Arns
from binlake.api.cloudwatch import CloudWatchOperations
from binlake.api.dms import DmsOperations
from binlake.api.faults import ApiError, unknown_operation
from binlake.api.logs import LogsOperations
from binlake.config.secret import Secret
from binlake.errors import BinlakeError
from binlake.http_server import LocalServer
from binlake.state.store import StateStore

log = logging.getLogger(__name__)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
DMS_PREFIX = "AmazonDMSv20160101"
LOGS_PREFIX = "Logs_20140328"
CLOUDWATCH_PREFIX = "GraniteServiceVersion20100801"
_CBOR_PATH = re.compile(rf"^/service/{CLOUDWATCH_PREFIX}/operation/(\w+)$")
# The query-protocol codes CloudWatch's JSON and CBOR errors carry in x-amzn-query-error, by error shape.
QUERY_CODES = {
    "InvalidParameterValue": "InvalidParameterValueException",
    "MissingParameter": "MissingRequiredParameterException",
    "InvalidParameterCombination": "InvalidParameterCombinationException",
}
# The query protocol's names for the signature errors.
QUERY_AUTH_CODES = {
    sigv4.MISSING: "MissingAuthenticationToken",
    sigv4.UNKNOWN_KEY: "InvalidClientTokenId",
    sigv4.BAD_SIGNATURE: "SignatureDoesNotMatch",
}


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


class ApiServer(LocalServer):
    thread_name = "api-server"

    def __init__(
        self, store: StateStore, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, account: str = ""
    ) -> None:
        self.store = store
        self.account = account or DEFAULT_ACCOUNT
        self.services: dict[str, Any] = {
            DMS_PREFIX: DmsOperations(store, store.state_dir),
            LOGS_PREFIX: LogsOperations(store),
            CLOUDWATCH_PREFIX: CloudWatchOperations(store),
        }
        super().__init__(host, port, Handler)

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def secret_of(self, access_key_id: str) -> Secret | None:
        try:
            return keys.lookup(self.store.state_dir, access_key_id)
        except BinlakeError as exc:  # the secret's file went missing: the key no longer authenticates anyone
            log.warning("access key %s cannot be checked: %s", access_key_id, exc)
            return None

    def operation(self, prefix: str, name: str) -> Callable[[dict[str, Any], Arns], dict[str, Any]]:
        service = self.services.get(prefix)
        if service is None or name not in service.OPERATIONS:
            raise unknown_operation(f"{prefix}.{name}")
        return getattr(service, _snake(name))


class Handler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._send_json(unknown_operation(f"GET {self.path}"), "1.1", str(uuid.uuid4()), query_compatible=False)

    def do_POST(self) -> None:
        request_id = str(uuid.uuid4())
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        target = self.headers.get("X-Amz-Target", "")
        cbor_match = _CBOR_PATH.match(url.path)
        if target:
            prefix, _, name = target.partition(".")
            kind = "json"
        elif cbor_match and self.headers.get("smithy-protocol") == "rpc-v2-cbor":
            prefix, name, kind = CLOUDWATCH_PREFIX, cbor_match.group(1), "cbor"
        else:
            prefix, name, kind = CLOUDWATCH_PREFIX, "", "query"
        compatible = prefix == CLOUDWATCH_PREFIX
        json_version = "1.0" if compatible else "1.1"
        try:
            caller = sigv4.verify(
                sigv4.Request("POST", url.path, url.query, lambda h: self.headers.get_all(h) or [], body),
                self.server.secret_of,
            )
            if kind == "json":
                params = json.loads(body or b"{}")
            elif kind == "cbor":
                params = cbor.decode(body)
            else:
                name, params = query.decode(body)
            if not isinstance(params, dict):
                raise ApiError("SerializationException", "the request body is not an object")
            result = self._call(prefix, name, params, Arns(caller.region, self.server.account))
        except ApiError as error:
            if kind == "query":
                self._send_query_error(error, request_id)
            elif kind == "cbor":
                self._send_cbor(error, request_id)
            else:
                self._send_json(error, json_version, request_id, query_compatible=compatible)
            return
        except ValueError as exc:  # a body that is not JSON, UTF-8 or a form (operations raise only ApiError)
            self._send_json(ApiError("SerializationException", str(exc)), json_version, request_id, compatible)
            return
        if kind == "query":
            self._send(200, "text/xml", query.encode(name, result, request_id), request_id)
        elif kind == "cbor":
            self._send(200, "application/cbor", cbor.encode(result), request_id, {"smithy-protocol": "rpc-v2-cbor"})
        else:
            payload = json.dumps(result, default=_json_default).encode()
            self._send(200, f"application/x-amz-json-{json_version}", payload, request_id)

    def _call(self, prefix: str, name: str, params: dict[str, Any], arns: Arns) -> dict[str, Any]:
        method = self.server.operation(prefix, name)
        try:
            return method(params, arns)
        except ApiError:
            raise
        except BinlakeError as exc:
            code = "InvalidParameterException" if prefix == LOGS_PREFIX else "InvalidParameterValueException"
            if prefix == CLOUDWATCH_PREFIX:
                code = "InvalidParameterValue"
            raise ApiError(code, str(exc)) from None
        except Exception:
            log.exception("%s.%s failed", prefix, name)
            raise ApiError(
                "InternalFailure", "binlake failed to process the request; see the server's log", 500
            ) from None

    def _send(
        self, status: int, content_type: str, payload: bytes, request_id: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", request_id)
        for header, value in (extra or {}).items():
            self.send_header(header, value)
        self.end_headers()
        self.wfile.write(payload)

    def _error_headers(self, error: ApiError, query_compatible: bool) -> tuple[str, dict[str, str]]:
        """The error's shape name, and the headers that carry its codes."""
        shape = QUERY_CODES.get(error.code, error.code) if query_compatible else error.code
        headers = {"x-amzn-ErrorType": shape}
        if query_compatible:
            code = QUERY_AUTH_CODES.get(error.code, error.code)
            headers["x-amzn-query-error"] = f"{code};{'Receiver' if error.status >= 500 else 'Sender'}"
        return shape, headers

    def _send_json(self, error: ApiError, version: str, request_id: str, query_compatible: bool) -> None:
        shape, headers = self._error_headers(error, query_compatible)
        payload = json.dumps({"__type": shape, "message": error.message}).encode()
        self._send(error.status, f"application/x-amz-json-{version}", payload, request_id, headers)

    def _send_cbor(self, error: ApiError, request_id: str) -> None:
        shape, headers = self._error_headers(error, True)
        payload = cbor.encode({"__type": shape, "message": error.message})
        self._send(error.status, "application/cbor", payload, request_id, {**headers, "smithy-protocol": "rpc-v2-cbor"})

    def _send_query_error(self, error: ApiError, request_id: str) -> None:
        code = QUERY_AUTH_CODES.get(error.code, error.code)
        status = 403 if error.code in QUERY_AUTH_CODES else error.status
        self._send(status, "text/xml", ApiError(code, error.message, status).xml_body(request_id), request_id)


def _json_default(value: Any) -> Any:
    if isinstance(value, cbor.Timestamp):
        return value.seconds
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
