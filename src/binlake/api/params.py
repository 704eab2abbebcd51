"""Request parameters as DMS takes them: ``Filters``, ``MaxRecords``/``Marker`` paging, and binlake's refusals
turned into the fault an operation declares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from binlake.api.arns import identifier
from binlake.api.faults import ApiError, bad_parameter
from binlake.errors import BinlakeError

Params = dict[str, Any]
DEFAULT_MAX_RECORDS = 100


def filters(params: Params, allowed: dict[str, str | None]) -> dict[str, set[str]]:
    """DMS's ``Filters`` ([{Name, Values}]) as name -> values; ARN values become identifiers."""
    parsed: dict[str, set[str]] = {}
    for item in params.get("Filters") or []:
        name = item.get("Name", "")
        if name not in allowed:
            raise bad_parameter(f"Filter name {name!r} is not valid here; use one of {', '.join(allowed)}")
        kind = allowed[name]
        values = {identifier(v, kind) if kind else v for v in item.get("Values") or []}
        parsed.setdefault(name, set()).update(values)
    return parsed


def keep(wanted: dict[str, set[str]], fields: dict[str, str]) -> bool:
    return all(fields.get(name) in values for name, values in wanted.items())


def page(items: list[Params], params: Params, key: str) -> Params:
    """One page of ``items``: ``MaxRecords`` of them (DMS's default 100) from ``Marker``, and the next Marker."""
    size = int(params.get("MaxRecords") or DEFAULT_MAX_RECORDS)
    marker = str(params.get("Marker") or "0")
    if size <= 0 or not marker.isdigit():
        raise bad_parameter(f"MaxRecords {size} or Marker {marker!r} is not valid")
    start = int(marker)
    shape: Params = {key: items[start : start + size]}
    if start + size < len(items):
        shape["Marker"] = str(start + size)
    return shape


@contextmanager
def as_fault(fault: Callable[[str], ApiError]) -> Iterator[None]:
    """Turns a BinlakeError raised inside the block into ``fault`` (its one line as the message)."""
    try:
        yield
    except BinlakeError as exc:
        raise fault(str(exc)) from None


def as_parameter_error() -> AbstractContextManager[None]:
    return as_fault(bad_parameter)
