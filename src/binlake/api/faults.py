"""AWS error shapes: a fault with the code botocore's service model declares, its HTTP status and message."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape


class ApiError(Exception):
    """An error the client sees as AWS's: ``code`` is the error shape's name (``ResourceNotFoundFault``)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def json_body(self) -> bytes:
        """The JSON 1.0/1.1 protocols' error document; botocore reads ``__type``."""
        return json.dumps({"__type": self.code, "message": self.message}).encode()

    def xml_body(self, request_id: str) -> bytes:
        """The query protocol's error document (CloudWatch)."""
        kind = "Receiver" if self.status >= 500 else "Sender"
        return (
            f'<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>{kind}</Type>'
            f"<Code>{escape(self.code)}</Code><Message>{escape(self.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()


def not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFoundFault", message)


def bad_state(message: str) -> ApiError:
    return ApiError("InvalidResourceStateFault", message)


def already_exists(message: str) -> ApiError:
    return ApiError("ResourceAlreadyExistsFault", message)


def bad_parameter(message: str, code: str = "InvalidParameterValueException") -> ApiError:
    return ApiError(code, message)


def unknown_operation(target: str) -> ApiError:
    return ApiError("UnknownOperationException", f"binlake does not implement {target}")
