"""When a CDC batch is written: DMS's two S3 triggers, a memory bound, and an idle checkpoint.

- ``CdcMinFileSize`` (KB) is the size of the *output file*, as DMS means it: the batch is written once the
  Parquet (or CSV) file of one of its tables would reach it. A file's size is known only once it is encoded,
  so each table's is estimated as the row-image bytes it holds (the binlog bytes of its row events) times the
  table's output ratio: file bytes over row-image bytes of the files already written for it, recent files
  weighing more and large files more than small ones. Before a table's first file the ratio is a safe guess
  (``first_ratio``): the most a format usually takes, so the first file stays under CdcMinFileSize.
- ``CdcMaxBatchInterval`` (seconds) since the batch's first change.
- The memory bound, whatever the two settings say: the row images held reach a quarter of MemoryLimitTotal
  (at most ``BUFFER_LIMIT_BYTES``); decoded, they weigh several times as much, so memory must not follow the
  batch settings alone. A transaction larger than that is written in parts within one batch.
- With nothing to write but a position that moved (other tables' transactions), a checkpoint now and then,
  so a restart does not read them again and the binlog they sit in may be purged.
"""

from __future__ import annotations

from collections.abc import Hashable

# Row images (as binlog bytes) held in the change buffer before it is written out, whatever CdcMinFileSize says.
BUFFER_LIMIT_BYTES = 16 * 1024 * 1024
MIN_BUFFER_BYTES = 64 * 1024
IDLE_CHECKPOINT_SECONDS = 1.0
# Output bytes per row-image byte before a table's first file, on the high side: Parquet (and gzipped CSV) is
# rarely larger than the row images; CSV text of numbers and times is up to about three times their binary size.
FIRST_RATIO = 1.0
FIRST_RATIO_PLAIN_TEXT = 3.0
DECAY = 0.5  # weight of what earlier files taught, against the newest file


def first_ratio(data_format: str, compression_type: str) -> float:
    """The ratio a table starts from (S3Settings' DataFormat and CompressionType)."""
    return FIRST_RATIO_PLAIN_TEXT if data_format == "csv" and compression_type != "GZIP" else FIRST_RATIO


class FlushPolicy:
    """Decides when the change buffer is written; learns each table's output bytes per row-image byte."""

    def __init__(
        self, min_file_size_kb: int, max_batch_interval: float, memory_limit: int, start_ratio: float = FIRST_RATIO
    ) -> None:
        self.min_file_bytes = int(min_file_size_kb) * 1024
        self.max_batch_interval = float(max_batch_interval)
        self.memory_cap = min(BUFFER_LIMIT_BYTES, max(MIN_BUFFER_BYTES, memory_limit // 4))
        self._held: dict[Hashable, list[float]] = {}  # each pending file (buffer key): see ``added``
        self._learned: dict[Hashable, tuple[float, float]] = {}  # table -> (decayed file bytes, decayed images)
        self._file_full = False
        self.start_ratio = start_ratio

    def ratio(self, table: Hashable) -> float:
        """Output bytes per row-image byte of ``table``, as its files so far have shown."""
        learned = self._learned.get(table)
        return learned[0] / learned[1] if learned else self.start_ratio

    def added(self, pending: Hashable, table: Hashable, image_bytes: int) -> None:
        """``image_bytes`` of row images joined the pending file ``pending`` of ``table`` (once per row event:
        kept cheap, one dictionary lookup)."""
        held = self._held.get(pending)
        if held is None:
            # [row-image bytes held, the row-image bytes at which the file reaches CdcMinFileSize]
            held = self._held[pending] = [0, self.min_file_bytes / self.ratio(table)]
        held[0] += image_bytes
        if held[0] >= held[1]:
            self._file_full = True

    def estimated_file_bytes(self, pending: Hashable, table: Hashable) -> int:
        held = self._held.get(pending)
        return int(held[0] * self.ratio(table)) if held else 0

    def written(self, pending: Hashable, table: Hashable, file_bytes: int | None) -> None:
        """The pending file was written with ``file_bytes`` bytes (None: unknown): learn from it."""
        held = self._held.pop(pending, None)
        if file_bytes and held and held[0]:
            files, images = self._learned.get(table, (0.0, 0.0))
            self._learned[table] = (files * DECAY + file_bytes, images * DECAY + held[0])

    def cleared(self) -> None:
        """The buffer was written out (or emptied): nothing is held any more."""
        self._held.clear()
        self._file_full = False

    def over_memory(self, buffer_bytes: int) -> bool:
        """The buffer holds as many row images as memory allows: write it now, even mid-transaction."""
        return buffer_bytes >= self.memory_cap

    def due(self, buffer_bytes: int, first_change_at: float | None, now: float) -> bool:
        """The batch should be written: a file reached CdcMinFileSize, memory is full, or the interval passed."""
        if first_change_at is None:
            return False
        if self._file_full or self.over_memory(buffer_bytes):
            return True
        return now - first_change_at >= self.max_batch_interval

    def idle_checkpoint_due(self, position_moved: bool, checkpointed_at: float, now: float) -> bool:
        """Nothing to write, but the position moved: checkpoint it now and then."""
        return position_moved and now - checkpointed_at > IDLE_CHECKPOINT_SECONDS
