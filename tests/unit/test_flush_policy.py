"""When a CDC batch is written (engine/flush_policy.py): CdcMaxBatchInterval, the memory bound that
MemoryLimitTotal sets, and the idle checkpoint."""

from __future__ import annotations

from binlake.engine.flush_policy import BUFFER_LIMIT_BYTES, MIN_BUFFER_BYTES, FlushPolicy

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
