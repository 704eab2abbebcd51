"""A RollingFileWriter on a thread of its own, so Parquet encoding overlaps the reads of the next rows.

The loading thread hands batches over through a queue bounded in rows and bytes; the writer thread buffers them
into row groups, encodes them (pyarrow's encoder releases the GIL, so it runs on the second core while the
compiled reader fills the next batch), publishes each file at MaxFileSize and makes it durable right away (the
fsync happens here, not in one burst at the table's end). Files, names and row groups are exactly those of the
RollingFileWriter it wraps: only the thread that does the work changes.
"""

from __future__ import annotations

import threading
from collections import deque

import pyarrow as pa

from binlake.target.store import Bucket
from binlake.target.writer import ROW_GROUP_ROWS, RollingFileWriter

_CLOSE = None


class BackgroundWriter:
    """Feeds ``writer`` from a thread of its own; ``write``, ``close`` and ``abort`` as RollingFileWriter's.

    At most ``max_rows`` rows (default: half a row group, more than the reader fills while a row group is
    encoded) and ``max_bytes`` bytes wait in the queue (always at least one batch), so memory
    stays bounded by the row group being encoded, the one being buffered and this queue. An error of the writer
    thread is raised by the next ``write`` or by ``close``.
    """

    def __init__(
        self, writer: RollingFileWriter, bucket: Bucket, max_rows: int = ROW_GROUP_ROWS // 2, max_bytes: int = 0
    ) -> None:
        self.writer = writer
        self.writer.write_back = True
        self.bucket = bucket
        self.max_rows = max_rows
        self.max_bytes = max_bytes or writer.max_bytes
        self._queue: deque[pa.RecordBatch | None] = deque()
        self._rows = 0
        self._bytes = 0
        self._changed = threading.Condition()
        self._error: BaseException | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="binlake-writer", daemon=True)
        self._thread.start()

    @property
    def published(self) -> list[str]:
        return self.writer.published

    def write(self, batch: pa.RecordBatch) -> None:
        with self._changed:
            while self._queue and (self._rows >= self.max_rows or self._bytes >= self.max_bytes):
                if self._error is not None:
                    break
                self._changed.wait()
            self._raise_error()
            self._queue.append(batch)
            self._rows += batch.num_rows
            self._bytes += batch.nbytes
            self._changed.notify_all()

    def close(self) -> list[str]:
        """Write what is queued, publish the last file, make the files durable; returns every published path."""
        with self._changed:
            self._queue.append(_CLOSE)
            self._changed.notify_all()
        self._thread.join()
        self._raise_error()
        return self.writer.published

    def abort(self) -> None:
        """Stop the writer thread and drop the unpublished file; published ones stay (the caller decides)."""
        with self._changed:
            self._stopping = True
            self._queue.clear()
            self._changed.notify_all()
        self._thread.join()
        self.writer.abort()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            while True:
                with self._changed:
                    while not self._queue and not self._stopping:
                        self._changed.wait()
                    if self._stopping:
                        return
                    batch = self._queue.popleft()
                    if batch is not None:
                        self._rows -= batch.num_rows
                        self._bytes -= batch.nbytes
                    self._changed.notify_all()
                if batch is None:
                    self.writer.close()
                    self.bucket.sync()
                    return
                published = len(self.writer.published)
                self.writer.write(batch)
                if len(self.writer.published) > published:
                    # Durable now, while the reader goes on, rather than all at the table's end.
                    self.bucket.sync()
        except BaseException as exc:  # raised in the loading thread by its next write or close
            with self._changed:
                self._error = exc
                self._changed.notify_all()
