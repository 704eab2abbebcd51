"""The guide's parquet-tools and ``aws s3 ls --recursive`` steps: a file's schema and first rows, and a
task's target objects with their sizes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from binlake.catalog.lake import Lake
from binlake.errors import BinlakeError
from binlake.target.store import Bucket


@dataclass
class FileSummary:
    path: str
    schema: pa.Schema
    rows: int
    row_groups: int
    head: pa.Table
    metadata: dict[str, str]


def inspect_file(bucket: Bucket | None, path: str, head_rows: int = 5) -> FileSummary:
    """``path`` is local, or a key in ``bucket`` (an S3 target endpoint's bucket)."""
    try:
        if bucket is None:
            parquet = pq.ParquetFile(path)
        else:
            parquet = pq.ParquetFile(bucket.fs.open_input_file(bucket.full(path)))
    except FileNotFoundError:
        raise BinlakeError(f"no file at {path}", fix="list the target's files with binlake inspect --list") from None
    except (OSError, pa.ArrowInvalid) as exc:
        raise BinlakeError(f"cannot read {path} as Parquet: {str(exc).splitlines()[0]}") from None
    head = next(parquet.iter_batches(batch_size=max(head_rows, 1)), None)
    table = pa.Table.from_batches([head]) if head is not None else parquet.schema_arrow.empty_table()
    metadata = {
        k.decode(): v.decode() for k, v in (parquet.schema_arrow.metadata or {}).items() if k != b"ARROW:schema"
    }
    return FileSummary(path, parquet.schema_arrow, parquet.metadata.num_rows, parquet.num_row_groups,
                       table.slice(0, head_rows), metadata)  # fmt: skip


def list_objects(lake: Lake) -> list[dict[str, object]]:
    """Every object under the task's tables, like ``aws s3 ls --recursive``."""
    rows = []
    for table in lake.tables:
        for info in table.files:
            moment = datetime.fromtimestamp(info.mtime, UTC) if info.mtime else None
            rows.append(
                {
                    "LastModified": moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "",
                    "Size": info.size,
                    "Key": info.path,
                }
            )
    return rows
