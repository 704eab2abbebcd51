"""Counts in prose: '1 row', '2 rows', '10,000 rows'."""

from __future__ import annotations


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``count`` with commas and ``noun``, in the plural unless the count is one."""
    return f"{count:,} {noun if count == 1 else plural_form or noun + 's'}"
