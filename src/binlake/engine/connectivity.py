"""DMS's test-connection: can binlake reach the endpoint, log in, and do what a task will need?"""

from __future__ import annotations

from dataclasses import dataclass

import MySQLdb

from binlake.config.endpoint import Endpoint
from binlake.errors import BinlakeError
from binlake.source.connection import SourceAddress, explain
from binlake.source.server import Source
from binlake.target.store import Bucket


@dataclass
class ConnectionResult:
    endpoint: str
    status: str  # successful | failed
    message: str = ""
    warnings: tuple[str, ...] = ()

    def describe(self) -> dict[str, object]:
        shape: dict[str, object] = {
            "ReplicationInstanceArn": "local",
            "EndpointArn": self.endpoint,
            "EndpointIdentifier": self.endpoint,
            "Status": self.status,
        }
        if self.message:
            shape["LastFailureMessage"] = self.message
        if self.warnings:
            shape["Warnings"] = list(self.warnings)
        return {"Connection": shape}


def check_source(address: SourceAddress) -> list[str]:
    """Raise on what stops a full load; return warnings for what would stop CDC."""
    source = Source(address)
    conn = source.connect()
    try:
        cur = conn.cursor()
        try:
            cur.execute("SELECT 1 FROM information_schema.TABLES LIMIT 1")
            cur.execute("SHOW GRANTS")
            grants = [row[0] for row in cur.fetchall()]
        except MySQLdb.Error as exc:
            raise explain(exc, address) from None
    finally:
        conn.close()
    missing = source.flavor.missing_cdc_privileges(grants)
    if missing:
        return [
            f"{address.user} lacks {', '.join(missing)}, which cdc tasks need "
            f"(fix: GRANT {', '.join(missing)} ON *.* TO '{address.user}'@'%')"
        ]
    return []


def test_endpoint(endpoint: Endpoint, address: SourceAddress | None) -> ConnectionResult:
    try:
        if endpoint.is_source:
            assert address is not None
            warnings = check_source(address)
        else:
            assert endpoint.S3Settings is not None
            Bucket.open(endpoint.S3Settings).check_writable()
            warnings = []
    except BinlakeError as exc:
        return ConnectionResult(endpoint.EndpointIdentifier, "failed", str(exc))
    return ConnectionResult(endpoint.EndpointIdentifier, "successful", warnings=tuple(warnings))
