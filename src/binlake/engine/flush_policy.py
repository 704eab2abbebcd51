"""When a CDC batch is written: DMS's two S3 triggers, a memory bound, and an idle checkpoint.

- ``CdcMinFileSize`` (KB) of row images held (the binlog bytes of their row events);
- ``CdcMaxBatchInterval`` (seconds) since the batch's first change;
- the memory bound, whatever the two settings say: the row images held reach a quarter of MemoryLimitTotal
  (at most ``BUFFER_LIMIT_BYTES``); decoded, they weigh several times as much, so memory must not follow the
  batch settings alone. A transaction larger than that is written in parts within one batch;
- with nothing to write but a position that moved (other tables' transactions), a checkpoint now and then,
  so a restart does not read them again and the binlog they sit in may be purged.
"""

from __future__ import annotations

# Row images (as binlog bytes) held in the change buffer before it is written out, whatever CdcMinFileSize says.
BUFFER_LIMIT_BYTES = 16 * 1024 * 1024
MIN_BUFFER_BYTES = 64 * 1024
IDLE_CHECKPOINT_SECONDS = 1.0


class FlushPolicy:
    """Decides when the change buffer is written."""

    def __init__(self, min_file_size_kb: int, max_batch_interval: float, memory_limit: int) -> None:
        self.min_file_bytes = int(min_file_size_kb) * 1024
        self.max_batch_interval = float(max_batch_interval)
        self.memory_cap = min(BUFFER_LIMIT_BYTES, max(MIN_BUFFER_BYTES, memory_limit // 4))

    def over_memory(self, buffer_bytes: int) -> bool:
        """The buffer holds as many row images as memory allows: write it now, even mid-transaction."""
        return buffer_bytes >= self.memory_cap

    def due(self, buffer_bytes: int, first_change_at: float | None, now: float) -> bool:
        """The batch should be written: CdcMinFileSize or the memory bound is reached, or the interval passed."""
        if first_change_at is None:
            return False
        if buffer_bytes >= min(self.min_file_bytes, self.memory_cap):
            return True
        return now - first_change_at >= self.max_batch_interval

    def idle_checkpoint_due(self, position_moved: bool, checkpointed_at: float, now: float) -> bool:
        """Nothing to write, but the position moved: checkpoint it now and then."""
        return position_moved and now - checkpointed_at > IDLE_CHECKPOINT_SECONDS
