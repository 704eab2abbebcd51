"""Durations and points in time as the AWS CLI writes them: ``10m``, ``1h``, ``2d``, or an ISO 8601 time."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from binlake.errors import BinlakeError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.I)


def parse_duration(text: str, flag: str) -> float:
    """Seconds in ``text`` (``30s``, ``10m``, ``1h``, ``2d``, ``1w``)."""
    match = _DURATION.match(text)
    if not match:
        raise BinlakeError(f"{flag} {text!r} is not a duration", fix=f"use a number and a unit, e.g. {flag} 10m")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def parse_since(text: str, flag: str = "--since") -> float:
    """Seconds since the epoch: ``text`` ago when it is a duration, else an ISO 8601 time (UTC without a zone)."""
    if _DURATION.match(text):
        return time.time() - parse_duration(text, flag)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BinlakeError(
            f"{flag} {text!r} is neither a duration nor a time",
            fix=f"use e.g. {flag} 10m or {flag} 2026-01-16T12:00:00Z",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso(epoch: float) -> str:
    """An epoch time as the state store writes times (UTC, milliseconds)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def epoch(text: str | None) -> float | None:
    """A time from the state store (ISO 8601) as seconds since the epoch; None stays None."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
