"""AWS CLI ``--filters "Name=replication-task-arn,Values=a,b"`` parsing."""

from __future__ import annotations

from binlake.errors import BinlakeError


def parse_filters(filters: list[str] | None, allowed: tuple[str, ...]) -> dict[str, set[str]]:
    parsed: dict[str, set[str]] = {}
    for text in filters or []:
        for chunk in text.split(" ") if " Name=" in text else [text]:
            name, values = _parse_one(chunk.strip(), allowed)
            parsed.setdefault(name, set()).update(values)
    return parsed


def _parse_one(text: str, allowed: tuple[str, ...]) -> tuple[str, list[str]]:
    if not text.startswith("Name=") or ",Values=" not in text:
        raise BinlakeError(f"bad filter {text!r}", fix='use "Name=<name>,Values=<value>[,<value>...]"')
    name, _, values = text[len("Name=") :].partition(",Values=")
    if name not in allowed:
        raise BinlakeError(f"unknown filter name {name!r}", fix=f"use one of {', '.join(allowed)}")
    return name, [v for v in values.split(",") if v]


def keep(filters: dict[str, set[str]], fields: dict[str, str]) -> bool:
    """True when every filter matches: ``fields`` maps filter names to this record's value."""
    return all(fields.get(name) in values for name, values in filters.items())
