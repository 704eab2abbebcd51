"""DMS's object names under ``<BucketFolder>/<schema>/<table>/``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

LOAD_FILE = re.compile(r"^LOAD(\d{8})\.(parquet|csv)(\.gz)?$")
CDC_FILE = re.compile(r"^(\d{8}-\d{9})(?:-\d+)?\.(parquet|csv)(\.gz)?$")


# A name's characters that would change where its key points: a separator (``/``, and ``\\`` which some
# stores and tools treat as one), NUL (ends a path in C), and ``%`` itself so the mapping stays reversible.
_ESCAPED = {"%": "%25", "/": "%2F", "\\": "%5C", "\0": "%00"}
_ESCAPE = re.compile("[%/\\\\\0]")


def key_segment(name: str) -> str:
    """A schema or table name as exactly one key segment (invariant 7, "names stay in their room").

    Names are written as they are (as DMS does) except ``%``, ``/``, ``\\`` and NUL, which are
    percent-encoded, and the names ``.`` and ``..`` (``%2E``, ``%2E%2E``), which a filesystem or an S3
    client would resolve. Different names give different segments, so no name leaves its table's prefix,
    nests inside another table's, or shares one.
    """
    if not name:
        raise ValueError("an empty name has no key segment")
    if name in (".", ".."):
        return "%2E" * len(name)
    return _ESCAPE.sub(lambda m: _ESCAPED[m.group(0)], name)


def name_of_segment(segment: str) -> str:
    """The name ``key_segment`` encoded (its inverse)."""
    return re.sub("%(25|2F|5C|00|2E)", lambda m: chr(int(m.group(1), 16)), segment)


def table_prefix(bucket_folder: str, schema: str, table: str) -> str:
    """``<BucketFolder>/<schema>/<table>``: a table's own prefix, every name one encoded segment."""
    parts = [part for part in bucket_folder.strip("/").split("/") if part]
    return "/".join([*parts, key_segment(schema), key_segment(table)])


def load_file_name(sequence: int, extension: str) -> str:
    """``LOAD00000001.parquet``: full-load files numbered from 1 per table."""
    return f"LOAD{sequence:08d}.{extension}"


def cdc_file_name(moment: datetime, extension: str) -> str:
    """``20260116-123456789.parquet``: a CDC batch named by UTC time to the millisecond."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y%m%d-%H%M%S}{moment.microsecond // 1000:03d}.{extension}"


def is_load_file(name: str) -> bool:
    return LOAD_FILE.match(name) is not None


def next_cdc_file_name(moment: datetime, extension: str, last: str | None) -> str:
    """A CDC name for ``moment`` that sorts after ``last`` (same millisecond or a clock step back: +1 ms)."""
    name = cdc_file_name(moment, extension)
    if last is not None and name <= last:
        stamp = datetime.strptime(last.split(".")[0] + "000", "%Y%m%d-%H%M%S%f").replace(tzinfo=UTC)
        name = cdc_file_name(stamp + timedelta(milliseconds=1), extension)
    return name


def date_partition(moment: datetime, sequence: str, delimiter: str) -> str:
    """DMS's DatePartitionSequence / DatePartitionDelimiter folder for a CDC file."""
    parts = {"YYYY": f"{moment:%Y}", "MM": f"{moment:%m}", "DD": f"{moment:%d}", "HH": f"{moment:%H}"}
    tokens: list[str] = []
    i = 0
    while i < len(sequence):
        token = "YYYY" if sequence.startswith("YYYY", i) else sequence[i : i + 2]
        tokens.append(parts[token])
        i += len(token)
    separator = {"SLASH": "/", "UNDERSCORE": "_", "DASH": "-", "NONE": ""}[delimiter]
    return separator.join(tokens)
