"""The full load's target writer on a thread of its own (target/background.py) writes exactly the files the
RollingFileWriter writes on the loading thread: the same names, rollover, row groups and rows, whatever the batch
sizes; an error of the writer thread reaches the loading thread; an abort leaves no file behind."""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from binlake.config.endpoint import S3Settings
from binlake.errors import BinlakeError
from binlake.target.background import BackgroundWriter
from binlake.target.store import Bucket
from binlake.target.writer import ROW_GROUP_ROWS, RollingFileWriter

SCHEMA = pa.schema([("id", pa.int64()), ("note", pa.string()), ("amount", pa.decimal128(12, 2))])


def batches(seed: int, total: int, largest: int = ROW_GROUP_ROWS + 3) -> list[pa.RecordBatch]:
    """Random batch sizes (1 row to ``largest``, more than a row group) of random rows, ``total`` rows in all."""
    rng = random.Random(seed)
    out, start = [], 0
    while start < total:
        size = min(total - start, largest, rng.choice([1, 7, 1000, 10_000, 50_000, ROW_GROUP_ROWS + 3]))
        ids = list(range(start, start + size))
        notes = [None if rng.random() < 0.1 else "x" * rng.randrange(0, 40) for _ in ids]
        amounts = [rng.randrange(-(10**11), 10**11) for _ in ids]
        out.append(
            pa.record_batch(
                [
                    pa.array(ids),
                    pa.array(notes, pa.string()),
                    pa.array([Decimal(a).scaleb(-2) for a in amounts], pa.decimal128(12, 2)),
                ],
                schema=SCHEMA,
            )
        )
        start += size
    return out


def settings(root: Path, max_file_kb: int) -> S3Settings:
    return S3Settings(BucketName=str(root), MaxFileSize=max_file_kb)


def write(root: Path, data: list[pa.RecordBatch], background: bool, max_file_kb: int) -> list[str]:
    s3 = settings(root, max_file_kb)
    bucket = Bucket.open(s3)
    writer = RollingFileWriter(bucket, "db/t", s3, SCHEMA, lambda n: f"LOAD{n:08X}.parquet")
    target: RollingFileWriter | BackgroundWriter = BackgroundWriter(writer, bucket) if background else writer
    for batch in data:
        target.write(batch)
    return target.close()


@pytest.mark.parametrize(
    ("seed", "total", "largest", "max_file_kb", "files"),
    [
        (1, 300_000, ROW_GROUP_ROWS + 3, 1_048_576, 1),
        (2, 300_000, ROW_GROUP_ROWS + 3, 2_000, 2),
        (3, 100_000, 10_000, 100, 10),  # row groups cut by MaxFileSize bytes, many files
        (4, 5, 7, 10, 1),
    ],
)
def test_the_writer_thread_writes_the_files_the_loading_thread_wrote(
    tmp_path: Path, seed: int, total: int, largest: int, max_file_kb: int, files: int
) -> None:
    data = batches(seed, total, largest)
    on_loop = write(tmp_path / "loop", data, background=False, max_file_kb=max_file_kb)
    on_thread = write(tmp_path / "thread", data, background=True, max_file_kb=max_file_kb)
    assert on_thread == on_loop
    assert len(on_loop) >= files
    for path in on_loop:
        loop, thread = pq.ParquetFile(tmp_path / "loop" / path), pq.ParquetFile(tmp_path / "thread" / path)
        groups = [loop.metadata.row_group(i).num_rows for i in range(loop.metadata.num_row_groups)]
        assert groups == [thread.metadata.row_group(i).num_rows for i in range(thread.metadata.num_row_groups)]
        assert max(groups) <= ROW_GROUP_ROWS
    # Every row once, in order, read by DuckDB (not by pyarrow, which wrote them).
    written = [str(tmp_path / "thread" / path) for path in on_thread]
    listed = f"read_parquet({written!r}, filename=true, file_row_number=true)"
    read = duckdb.sql(f"SELECT id, note, amount FROM {listed} ORDER BY filename, file_row_number")
    expected = pa.Table.from_batches(data, schema=SCHEMA)
    assert read.fetchall() == list(zip(*(expected.column(i).to_pylist() for i in range(3)), strict=True))


def test_an_error_on_the_writer_thread_is_raised_to_the_loading_thread_and_abort_leaves_no_file(
    tmp_path: Path,
) -> None:
    s3 = settings(tmp_path, 1_048_576)
    bucket = Bucket.open(s3)
    writer = BackgroundWriter(
        RollingFileWriter(bucket, "db/t", s3, SCHEMA, lambda n: f"LOAD{n:08X}.parquet"), bucket, max_rows=1
    )
    good = batches(4, 2_000)
    wrong = pa.record_batch([pa.array(["not", "an", "id"])], names=["id"])  # fails in the Parquet writer
    for batch in [*good, wrong]:
        writer.write(batch)
    with pytest.raises((pa.ArrowInvalid, ValueError, BinlakeError)):
        for batch in good * ROW_GROUP_ROWS:  # raised by a later write at the latest
            writer.write(batch)
        writer.close()
    writer.abort()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert "binlake-writer" not in [t.name for t in threading.enumerate()]


def test_only_columns_whose_values_repeat_get_a_parquet_dictionary(tmp_path: Path) -> None:
    """Timestamps, durations, decimals and floats are written plain (a dictionary attempt on them cost over a third
    of the encoding); strings and integers keep theirs. DuckDB reads the same values either way."""
    rows = 5000
    schema = pa.schema(
        [
            ("status", pa.string()),
            ("qty", pa.int32()),
            ("at", pa.timestamp("us")),
            ("at_utc", pa.timestamp("us", tz="UTC")),
            ("took", pa.duration("us")),
            ("price", pa.decimal128(10, 2)),
            ("ratio", pa.float64()),
        ]
    )
    batch = pa.record_batch(
        [
            pa.array([("pending", "shipped")[i % 2] for i in range(rows)]),
            pa.array([i % 7 for i in range(rows)], pa.int32()),
            pa.array([1_700_000_000_000_000 + i for i in range(rows)], pa.timestamp("us")),
            pa.array([1_700_000_000_000_000 + i for i in range(rows)], pa.timestamp("us", tz="UTC")),
            pa.array([i * 1_000 for i in range(rows)], pa.duration("us")),
            pa.array([Decimal(i).scaleb(-2) for i in range(rows)], pa.decimal128(10, 2)),
            pa.array([i / 3 for i in range(rows)], pa.float64()),
        ],
        schema=schema,
    )
    s3 = settings(tmp_path, 1_048_576)
    writer = RollingFileWriter(Bucket.open(s3), "db/t", s3, schema, lambda n: f"LOAD{n:08X}.parquet")
    writer.write(batch)
    (path,) = writer.close()
    group = pq.ParquetFile(tmp_path / path).metadata.row_group(0)
    dictionary = {group.column(i).path_in_schema: group.column(i).has_dictionary_page for i in range(len(schema))}
    assert dictionary == {
        "status": True,
        "qty": True,
        "at": False,
        "at_utc": False,
        "took": False,
        "price": False,
        "ratio": False,
    }
    read = duckdb.sql(f"SELECT status, qty, epoch_us(\"at\"), price, ratio FROM read_parquet('{tmp_path / path}')")
    assert read.fetchall() == [
        (s, q, a, p, r)
        for s, q, a, p, r in zip(
            *(batch.column(i).to_pylist() for i in (0, 1)),
            [1_700_000_000_000_000 + i for i in range(rows)],
            batch.column(5).to_pylist(),
            batch.column(6).to_pylist(),
            strict=True,
        )
    ]
