"""When a CDC batch is written (engine/flush_policy.py): CdcMaxBatchInterval, the memory bound that
MemoryLimitTotal sets, and the idle checkpoint."""

from __future__ import annotations

from binlake.engine.flush_policy import BUFFER_LIMIT_BYTES, MIN_BUFFER_BYTES, FlushPolicy, first_ratio

MB = 1024 * 1024


def test_nothing_held_is_never_due() -> None:
    policy = FlushPolicy(min_file_size_kb=1, max_batch_interval=0, memory_limit=64 * MB)
    assert not policy.due(10 * MB, None, now=1e9)


def test_the_batch_interval_counts_from_the_first_change() -> None:
    policy = FlushPolicy(min_file_size_kb=32_000, max_batch_interval=60, memory_limit=64 * MB)
    assert not policy.due(1, first_change_at=100.0, now=159.9)
    assert policy.due(1, first_change_at=100.0, now=160.0)


def test_the_memory_bound_is_a_quarter_of_memory_limit_total_within_fixed_limits() -> None:
    assert FlushPolicy(32_000, 60, 64 * MB).memory_cap == 16 * MB
    assert FlushPolicy(32_000, 60, 1024 * MB).memory_cap == BUFFER_LIMIT_BYTES
    assert FlushPolicy(32_000, 60, 1 * MB).memory_cap == MB // 4
    assert FlushPolicy(32_000, 60, 100 * 1024).memory_cap == MIN_BUFFER_BYTES
    assert FlushPolicy(32_000, 60, 8 * MB).memory_cap == 2 * MB


def test_memory_makes_the_batch_due_whatever_the_file_settings_say() -> None:
    policy = FlushPolicy(min_file_size_kb=1_000_000, max_batch_interval=3600, memory_limit=8 * MB)
    assert not policy.over_memory(2 * MB - 1)
    assert not policy.due(2 * MB - 1, first_change_at=0.0, now=1.0)
    assert policy.over_memory(2 * MB)
    assert policy.due(2 * MB, first_change_at=0.0, now=1.0)


def test_an_idle_position_is_checkpointed_after_a_second_only_when_it_moved() -> None:
    policy = FlushPolicy(32_000, 60, 64 * MB)
    assert not policy.idle_checkpoint_due(False, checkpointed_at=0.0, now=100.0)
    assert not policy.idle_checkpoint_due(True, checkpointed_at=100.0, now=100.5)
    assert policy.idle_checkpoint_due(True, checkpointed_at=100.0, now=101.5)


def test_a_file_is_due_when_its_estimated_output_reaches_cdc_min_file_size() -> None:
    """Before a table's first file, one row-image byte counts as one output byte."""
    policy = FlushPolicy(min_file_size_kb=64, max_batch_interval=3600, memory_limit=64 * MB)
    policy.added("t#1", "t", 64 * 1024 - 1)
    assert not policy.due(64 * 1024 - 1, first_change_at=0.0, now=1.0)
    policy.added("t#1", "t", 1)
    assert policy.due(64 * 1024, first_change_at=0.0, now=1.0)


def test_the_size_of_the_written_files_teaches_the_ratio_per_table() -> None:
    """Files a quarter of their row images: the next file is due at four times CdcMinFileSize of row images,
    for that table only."""
    policy = FlushPolicy(min_file_size_kb=64, max_batch_interval=3600, memory_limit=64 * MB)
    policy.added("t#1", "t", 64 * 1024)
    policy.written("t#1", "t", 16 * 1024)
    policy.cleared()
    assert policy.ratio("t") == 0.25
    assert policy.ratio("u") == 1.0
    policy.added("t#1", "t", 4 * 64 * 1024 - 1)
    assert not policy.due(4 * 64 * 1024 - 1, first_change_at=0.0, now=1.0)
    assert policy.estimated_file_bytes("t#1", "t") == 64 * 1024 - 1
    policy.added("t#1", "t", 1)
    assert policy.due(4 * 64 * 1024, first_change_at=0.0, now=1.0)


def test_one_table_reaching_the_size_makes_the_batch_due_not_the_sum_of_tables() -> None:
    """CdcMinFileSize is per output file, and each table has its own file."""
    policy = FlushPolicy(min_file_size_kb=64, max_batch_interval=3600, memory_limit=64 * MB)
    for table in ("a", "b", "c"):
        policy.added(f"{table}#1", table, 40 * 1024)
    assert not policy.due(120 * 1024, first_change_at=0.0, now=1.0)
    policy.added("b#1", "b", 24 * 1024)
    assert policy.due(144 * 1024, first_change_at=0.0, now=1.0)


def test_recent_and_large_files_weigh_more_in_the_ratio() -> None:
    policy = FlushPolicy(min_file_size_kb=64, max_batch_interval=3600, memory_limit=64 * MB)
    policy.written("t#1", "t", None)  # nothing held: nothing learned
    assert policy.ratio("t") == 1.0
    policy.added("t#1", "t", 1000)
    policy.written("t#1", "t", 900)  # a tiny file, mostly Parquet footer
    policy.added("t#1", "t", 400_000)
    policy.written("t#1", "t", 100_000)
    assert 0.25 < policy.ratio("t") < 0.26
    policy.added("t#1", "t", 400_000)
    policy.written("t#1", "t", None)  # size unknown (the store could not say): the ratio stays
    assert 0.25 < policy.ratio("t") < 0.26


def test_the_memory_bound_still_applies_when_output_is_small() -> None:
    """A table compressing a hundredfold would need 6.4 MB of row images for a 64 KB file: memory comes first."""
    policy = FlushPolicy(min_file_size_kb=64, max_batch_interval=3600, memory_limit=8 * MB)
    policy.added("t#1", "t", 100_000)
    policy.written("t#1", "t", 1_000)
    policy.cleared()
    policy.added("t#1", "t", 2 * MB)
    assert policy.estimated_file_bytes("t#1", "t") < 64 * 1024
    assert policy.due(2 * MB, first_change_at=0.0, now=1.0)


def test_a_table_starts_from_a_ratio_on_the_safe_side_of_its_format() -> None:
    """CSV text of numbers and times is larger than their binlog images; Parquet and gzipped CSV are smaller."""
    assert first_ratio("csv", "NONE") == 3.0
    assert first_ratio("csv", "GZIP") == 1.0
    assert first_ratio("parquet", "NONE") == first_ratio("parquet", "GZIP") == 1.0
    policy = FlushPolicy(min_file_size_kb=64, max_batch_interval=3600, memory_limit=64 * MB, start_ratio=3.0)
    policy.added("t#1", "t", 64 * 1024 // 3 + 1)
    assert policy.due(64 * 1024 // 3 + 1, first_change_at=0.0, now=1.0)
