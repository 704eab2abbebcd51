"""Endpoints kept in the state store."""

from __future__ import annotations

import sqlite3

from binlake.config.endpoint import Endpoint
from binlake.errors import BinlakeError
from binlake.state.store import StateStore, utcnow


def create(store: StateStore, endpoint: Endpoint) -> Endpoint:
    try:
        store.execute(
            "INSERT INTO endpoints (identifier, endpoint_type, body, created_at) VALUES (?, ?, ?, ?)",
            (endpoint.EndpointIdentifier, endpoint.EndpointType, endpoint.to_json(), utcnow()),
        )
    except sqlite3.IntegrityError:
        raise BinlakeError(
            f"endpoint {endpoint.EndpointIdentifier} already exists",
            fix="choose another --endpoint-identifier or delete-endpoint first",
        ) from None
    return endpoint


def get(store: StateStore, identifier: str) -> Endpoint:
    rows = store.query("SELECT body FROM endpoints WHERE identifier = ?", (identifier,))
    if not rows:
        raise BinlakeError(f"endpoint {identifier} not found", fix="list endpoints with binlake describe-endpoints")
    return Endpoint.from_json(rows[0]["body"])


def list_all(store: StateStore, endpoint_type: str | None = None) -> list[Endpoint]:
    rows = store.query("SELECT body FROM endpoints ORDER BY created_at, identifier")
    endpoints = [Endpoint.from_json(row["body"]) for row in rows]
    return [e for e in endpoints if endpoint_type is None or e.EndpointType == endpoint_type.lower()]


def delete(store: StateStore, identifier: str) -> Endpoint:
    endpoint = get(store, identifier)
    users = store.query(
        "SELECT identifier FROM tasks WHERE source_endpoint = ? OR target_endpoint = ?", (identifier, identifier)
    )
    if users:
        raise BinlakeError(
            f"endpoint {identifier} is used by task {users[0]['identifier']}",
            fix=f"delete-replication-task --replication-task-arn {users[0]['identifier']} first",
        )
    store.execute("DELETE FROM endpoints WHERE identifier = ?", (identifier,))
    return endpoint
