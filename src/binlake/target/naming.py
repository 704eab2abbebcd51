"""DMS's object names under ``<BucketFolder>/<schema>/<table>/``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

LOAD_FILE = re.compile(r"^LOAD(\d{8})\.(parquet|csv)(\.gz)?$")
CDC_FILE = re.compile(r"^(\d{8}-\d{9})(?:-\d+)?\.(parquet|csv)(\.gz)?$")


def table_prefix(bucket_folder: str, schema: str, table: str) -> str:
    parts = [part for part in (bucket_folder.strip("/"), schema, table) if part]
    return "/".join(parts)


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
