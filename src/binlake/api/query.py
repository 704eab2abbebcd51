"""The AWS query protocol, as older botocore and the AWS CLI v1 speak it to CloudWatch: a form-encoded request
(``Action=GetMetricStatistics&Version=2010-08-01&Dimensions.member.1.Name=...``) and an XML response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from binlake.api.cbor import Timestamp

NAMESPACE = "http://monitoring.amazonaws.com/doc/2010-08-01/"
MAPS = frozenset({"ExtendedStatistics"})  # map members: <entry><key/><value/></entry>


def decode(body: bytes) -> tuple[str, dict[str, Any]]:
    """The Action and its parameters, nested: ``A.member.1.B=x`` becomes ``{"A": [{"B": "x"}]}``."""
    tree: dict[str, Any] = {}
    action = ""
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        if key == "Action":
            action = value
            continue
        if key == "Version":
            continue
        node = tree
        parts = [p for p in key.split(".") if p != "member"]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return action, _lists(tree)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


def _xml(name: str, value: Any) -> str:
    if isinstance(value, dict):
        if name in MAPS:
            inner = "".join(f"<entry><key>{escape(k)}</key>{_xml('value', v)}</entry>" for k, v in value.items())
        else:
            inner = "".join(_xml(k, v) for k, v in value.items())
    elif isinstance(value, list):
        inner = "".join(_xml("member", v) for v in value)
    elif isinstance(value, Timestamp):
        moment = datetime.fromtimestamp(value.seconds, UTC)
        inner = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{name}>{inner}</{name}>"


def encode(action: str, result: dict[str, Any], request_id: str) -> bytes:
    body = "".join(_xml(key, value) for key, value in result.items())
    return (
        f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{body}</{action}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    ).encode()
