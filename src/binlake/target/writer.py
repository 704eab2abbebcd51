"""Writers of one table's files in DMS's formats: Parquet or CSV, rolled over at MaxFileSize."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from binlake.config.endpoint import S3Settings
from binlake.dms_columns import timestamp_field
from binlake.target.store import Bucket

ROW_GROUP_ROWS = 131_072


def output_schema(settings: S3Settings, columns: pa.Schema, with_op: bool) -> pa.Schema:
    """DMS's column order: Op, then the timestamp column, then the table's columns."""
    fields: list[pa.Field] = []
    if with_op:
        fields.append(pa.field("Op", pa.string()))
    if settings.TimestampColumnName:
        fields.append(timestamp_field(settings.TimestampColumnName, settings.TimestampColumnType))
    return pa.schema(fields + list(columns))


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns Parquet encodes with a dictionary: all but timestamps, durations, decimals and floats.

    Those rarely repeat within a row group of table rows, and the encoder hashes every value of a row group into
    a dictionary before it gives up on it: measured on the orders table that was 0.15-0.3 µs per value, over a
    third of the encoding, for files no smaller. Written plain (fixed width) they are as small and several
    times cheaper; strings, integers and binary keep their dictionaries (repeated ids, ENUMs, Op)."""
    plain = (pa.types.is_timestamp, pa.types.is_duration, pa.types.is_decimal, pa.types.is_floating)
    return [field.name for field in schema if not any(is_type(field.type) for is_type in plain)]


class _FormatStream:
    """One open file of either format."""

    def __init__(self, settings: S3Settings, schema: pa.Schema, sink: pa.NativeFile) -> None:
        self.sink = sink
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        if settings.DataFormat == "parquet":
            self._parquet = pq.ParquetWriter(
                sink,
                schema,
                compression="gzip" if settings.CompressionType == "GZIP" else "snappy",
                # The format version stays 2.6 so every Arrow type keeps its logical type (1.0 would
                # widen uint32 to int64); DMS's ParquetVersion chooses the data page version.
                version="2.6",
                data_page_version="1.0" if settings.ParquetVersion == "parquet-1-0" else "2.0",
                write_statistics=settings.EnableStatistics,
                use_dictionary=dictionary_columns(schema),
                coerce_timestamps="ms" if settings.ParquetTimestampInMillisecond else None,
                allow_truncated_timestamps=settings.ParquetTimestampInMillisecond,
            )
        else:
            if settings.CompressionType == "GZIP":
                self.sink = pa.CompressedOutputStream(sink, "gzip")
            options = pacsv.WriteOptions(include_header=settings.AddColumnName, delimiter=settings.CsvDelimiter)
            self._csv = pacsv.CSVWriter(self.sink, schema, write_options=options)

    def write(self, table: pa.Table) -> None:
        if self._parquet is not None:
            self._parquet.write_table(table, row_group_size=ROW_GROUP_ROWS)
        else:
            assert self._csv is not None
            self._csv.write_table(table)

    def size(self) -> int:
        return self.sink.tell()

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        elif self._csv is not None:
            self._csv.close()
        self.sink.close()


class RollingFileWriter:
    """Writes batches of one schema into files named by ``name_for(sequence)``, each published whole.

    A file is closed and published once it reaches MaxFileSize; batches are buffered into row groups
    of up to ROW_GROUP_ROWS rows (or MaxFileSize bytes, whichever comes first).
    """

    def __init__(
        self,
        bucket: Bucket,
        prefix: str,
        settings: S3Settings,
        schema: pa.Schema,
        name_for: Callable[[int], str],
        first_sequence: int = 1,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.settings = settings
        self.schema = schema
        self.name_for = name_for
        self.sequence = first_sequence
        self.max_bytes = settings.MaxFileSize * 1024
        self.published: list[str] = []
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_rows = 0
        self._buffered_bytes = 0
        self._stream: _FormatStream | None = None
        self._temp = ""
        self._path = ""
        # Set by a writer thread (target/background.py): each row group is written back to disk as it is
        # encoded, so the fsync at the file's publication waits for the last row group only.
        self.write_back = False

    def write(self, batch: pa.RecordBatch) -> None:
        self._buffer.append(batch)
        self._buffered_rows += batch.num_rows
        self._buffered_bytes += batch.nbytes
        if self._buffered_rows >= ROW_GROUP_ROWS or self._buffered_bytes >= self.max_bytes:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        if self._stream is None:
            self._path = f"{self.prefix}/{self.name_for(self.sequence)}"
            sink, self._temp = self.bucket.open_temp_output(self._path)
            self._stream = _FormatStream(self.settings, self.schema, sink)
        try:
            self._stream.write(pa.Table.from_batches(self._buffer, schema=self.schema))
        except OSError as exc:
            raise self.bucket.write_error(exc, self._path) from None
        self._buffer, self._buffered_rows, self._buffered_bytes = [], 0, 0
        if self.write_back:
            self.bucket.write_back(self._temp)
        if self._stream.size() >= self.max_bytes:
            self._publish()

    def _publish(self) -> None:
        assert self._stream is not None
        try:
            self._stream.close()
            self.bucket.publish(self._temp, self._path)
        except OSError as exc:
            raise self.bucket.write_error(exc, self._path) from None
        self.published.append(self._path)
        self._stream = None
        self.sequence += 1

    def close(self) -> list[str]:
        """Flush and publish what is left; returns every published path."""
        self._flush()
        if self._stream is not None:
            self._publish()
        return self.published

    def abort(self) -> None:
        """Drop the unpublished file; published ones stay (the caller decides)."""
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.close()
            self.bucket.discard(self._temp, strict=False)
            self._stream = None
        self._buffer = []


def write_file(bucket: Bucket, path: str, settings: S3Settings, batch: pa.RecordBatch) -> None:
    """One whole file, published atomically (a CDC batch of one table). An S3 failure raises
    ``TransientError`` (or a ``BinlakeError`` for a missing bucket or denied access)."""
    sink, temp = bucket.open_temp_output(path)
    try:
        stream = _FormatStream(settings, batch.schema, sink)
        stream.write(pa.Table.from_batches([batch]))
        stream.close()
        bucket.publish(temp, path)
    except BaseException as exc:
        bucket.discard(temp, strict=False)
        if isinstance(exc, OSError):
            raise bucket.write_error(exc, path) from None
        raise
