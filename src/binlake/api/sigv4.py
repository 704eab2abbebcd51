"""AWS Signature Version 4, checked on the server: the canonical request, string to sign and signing key as in
https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html, computed with hashlib and hmac.

A request is refused when it carries no signature, names a key binlake did not issue, is signed with another
secret, or was signed more than 15 minutes away from now (AWS's limit).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from binlake.api.faults import ApiError
from binlake.config.secret import Secret

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 15 * 60
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<headers>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
MISSING = "MissingAuthenticationTokenException"
UNKNOWN_KEY = "UnrecognizedClientException"
BAD_SIGNATURE = "InvalidSignatureException"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent, without the query string
    query: str  # the raw query string
    headers: Callable[[str], list[str]]  # every value of a header, by case-insensitive name
    body: bytes


@dataclass(frozen=True)
class Caller:
    access_key_id: str
    region: str
    service: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _canonical_query(query: str) -> str:
    pairs = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_request(request: Request, signed_headers: list[str]) -> str:
    headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in request.headers(name))}\n" for name in signed_headers
    )
    payload = (request.headers("x-amz-content-sha256") or [_sha256(request.body)])[0]
    path = quote(unquote(request.path) or "/", safe="/~")
    return "\n".join(
        [request.method, path, _canonical_query(request.query), headers, ";".join(signed_headers), payload]
    )


def signature(secret: Secret, amz_date: str, scope: str, canonical: str) -> str:
    date, region, service, terminal = scope.split("/")
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret.reveal()).encode(), date), region), service), terminal)
    to_sign = "\n".join([ALGORITHM, amz_date, scope, _sha256(canonical.encode())])
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(request: Request, secret_of: Callable[[str], Secret | None], now: datetime | None = None) -> Caller:
    """The caller a correctly signed request comes from; an ``ApiError`` with AWS's code otherwise."""
    authorization = (request.headers("authorization") or [""])[0].strip()
    if not authorization:
        raise ApiError(MISSING, "Missing Authentication Token", 403)
    match = _AUTHORIZATION.match(authorization)
    if not match:
        raise ApiError("IncompleteSignatureException", f"Authorization header is not {ALGORITHM}: {authorization[:40]}")
    key_id, _, scope = match.group("credential").partition("/")
    scope_parts = scope.split("/")
    if len(scope_parts) != 4 or scope_parts[3] != "aws4_request":
        raise ApiError(
            "IncompleteSignatureException", f"Credential scope {scope!r} is not date/region/service/aws4_request"
        )
    secret = secret_of(key_id)
    if secret is None:
        raise ApiError(UNKNOWN_KEY, "The security token included in the request is invalid.")
    amz_date = (request.headers("x-amz-date") or [""])[0]
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ApiError("IncompleteSignatureException", "X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ") from None
    signed_headers = match.group("headers").split(";")
    canonical = canonical_request(request, signed_headers)
    expected = signature(secret, amz_date, scope, canonical)
    if not hmac.compare_digest(expected, match.group("signature")) or scope_parts[0] != amz_date[:8]:
        raise ApiError(
            BAD_SIGNATURE,
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    now = now or datetime.now(UTC)
    if abs((now - signed_at).total_seconds()) > MAX_SKEW_SECONDS:
        raise ApiError(
            BAD_SIGNATURE,
            f"Signature expired: {amz_date} is now earlier or later than {now:%Y%m%dT%H%M%SZ} by more than 15 minutes.",
        )
    return Caller(key_id, scope_parts[1], scope_parts[2])
