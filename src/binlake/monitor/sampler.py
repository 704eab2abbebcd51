"""The metrics sampler: a thread in the task process that turns the task's progress into samples.

Every BINLAKE_METRICS_INTERVAL seconds (default 5; 0 switches sampling off) it reads the task's row and table
statistics from the state store, and, while CDC runs, the CDC runner's in-memory counters, and records one
sample of every metric in ``metrics.METRICS``. It takes one more sample when the task ends.

Latency while idle: the binlog carries no event when nothing changes, so "now minus the last event's time"
would grow forever on an idle source. The task is *caught up* when its read position and checkpoint did not
move since the previous sample, no change waits in memory, and the read position is the checkpoint (or has
not moved for ``STILL_SAMPLES`` samples: a binlog rotation moves the read position past the last COMMIT);
then both latencies are 0, as DMS reports them for an idle source.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import psutil

from binlake.monitor import metrics
from binlake.monitor.periods import epoch
from binlake.state import statistics
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_SECONDS = 5.0
STILL_SAMPLES = 3
PRUNE_EVERY_SAMPLES = 100


def interval_seconds() -> float:
    """BINLAKE_METRICS_INTERVAL: seconds between samples (default 5); 0 or 'off' switches sampling off."""
    text = os.environ.get("BINLAKE_METRICS_INTERVAL", "").strip().lower()
    if text in ("off", "false", "no"):
        return 0.0
    try:
        return max(0.0, float(text)) if text else DEFAULT_INTERVAL_SECONDS
    except ValueError:
        log.warning("BINLAKE_METRICS_INTERVAL=%r is not a number of seconds; using %s", text, DEFAULT_INTERVAL_SECONDS)
        return DEFAULT_INTERVAL_SECONDS


class _Buffer(Protocol):
    @property
    def changes(self) -> int: ...


class CdcCounters(Protocol):
    """What the sampler reads from a running CDC runner (plain attributes; a torn read is harmless)."""

    @property
    def changes_seen(self) -> int: ...

    @property
    def buffer(self) -> _Buffer: ...


@dataclass
class Observation:
    """The task as the sampler saw it at ``at`` (seconds since the epoch)."""

    at: float
    full_load_rows: dict[tuple[str, str], int]
    changes_total: int
    read_position: str | None
    checkpoint: str | None
    source_time: float | None
    checkpoint_time: float | None
    changes_read: int | None = None  # from the CDC runner, None when none is attached
    pending: int | None = None
    cpu_percent: float = 0.0
    rss_bytes: int = 0


def _growth(previous: int, current: int) -> int:
    # A counter that went down was reset (a reload starts a table's FullLoadRows at 0): all of it is new.
    return current - previous if current >= previous else current


@dataclass
class LatencyState:
    still: int = 0
    caught_up_at: float | None = None


@dataclass
class Calculator:
    """Turns consecutive observations into metric values (kept apart from the thread for tests)."""

    state: LatencyState = field(default_factory=LatencyState)

    def values(self, previous: Observation, current: Observation) -> dict[str, float]:
        elapsed = max(current.at - previous.at, 1e-6)
        loaded = sum(_growth(previous.full_load_rows.get(key, 0), rows) for key, rows in current.full_load_rows.items())
        written = _growth(previous.changes_total, current.changes_total)
        if current.changes_read is not None and previous.changes_read is not None:
            read = _growth(previous.changes_read, current.changes_read)
        else:
            read = written  # no runner attached: what was written is what was read
        pending = current.pending or 0
        source_latency, target_latency = self._latency(previous, current)
        return {
            "CDCLatencySource": source_latency,
            "CDCLatencyTarget": target_latency,
            "CDCIncomingChanges": pending,
            "CDCChangesMemoryTarget": pending,
            "CDCThroughputRowsSource": read / elapsed,
            "CDCThroughputRowsTarget": written / elapsed,
            "FullLoadThroughputRowsSource": loaded / elapsed,
            "FullLoadThroughputRowsTarget": loaded / elapsed,
            "CPUUtilization": current.cpu_percent,
            "MemoryUsageBytes": float(current.rss_bytes),
        }

    def _latency(self, previous: Observation, current: Observation) -> tuple[float, float]:
        if current.checkpoint is None or current.read_position is None:
            self.state = LatencyState()
            return 0.0, 0.0  # CDC has not started
        # Right after CDC starts, the last event read may be the binlog's format description (as old as the
        # file); the first position seen is where the stream starts, not a move.
        started = previous.read_position is not None and previous.checkpoint is not None
        moved = started and (current.read_position, current.checkpoint) != (previous.read_position, previous.checkpoint)
        self.state.still = 0 if moved else self.state.still + 1
        settled = current.read_position == current.checkpoint or self.state.still >= STILL_SAMPLES
        if not moved and not current.pending and settled:
            self.state.caught_up_at = current.at
            return 0.0, 0.0
        source = max(0.0, current.at - current.source_time) if current.source_time else 0.0
        # The oldest change not yet written is younger than the checkpoint's commit and than the last moment
        # the task was seen caught up.
        oldest = max(current.checkpoint_time or 0.0, self.state.caught_up_at or 0.0)
        target = max(source, current.at - oldest) if oldest else source
        return source, target


def observe(store: StateStore, task: str, process: psutil.Process, cdc: CdcCounters | None) -> Observation:
    row = tasks_api.find(store, task)
    tables = statistics.for_task(store, task)
    with process.oneshot():
        cpu, rss = process.cpu_percent(None), process.memory_info().rss
    return Observation(
        at=time.time(),
        full_load_rows={(t.schema_name, t.table_name): t.full_load_rows for t in tables},
        changes_total=row.cdc_changes_total if row else 0,
        read_position=row.cdc_read_position if row else None,
        checkpoint=row.cdc_checkpoint if row else None,
        source_time=epoch(row.cdc_source_time) if row else None,
        checkpoint_time=epoch(row.cdc_checkpoint_commit_time) if row else None,
        changes_read=cdc.changes_seen if cdc is not None else None,
        pending=cdc.buffer.changes if cdc is not None else None,
        cpu_percent=cpu,
        rss_bytes=rss,
    )


class MetricsSampler:
    """Samples one task's metrics in a daemon thread until ``stop()``."""

    def __init__(self, store: StateStore, task: str, interval: float | None = None) -> None:
        self.store = store
        self.task = task
        self.interval = interval_seconds() if interval is None else interval
        self.calculator = Calculator()
        self.samples = 0
        self._cdc: CdcCounters | None = None
        self._previous: Observation | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._process = psutil.Process()

    def start(self) -> None:
        if self.interval <= 0:
            return
        self._process.cpu_percent(None)  # the first reading only sets psutil's baseline
        metrics.prune(self.store, self.task, time.time(), metrics.retention_seconds())
        baseline = observe(self.store, self.task, self._process, None)
        # A first sample of zero rates marks where the run starts: rate x interval over the samples that
        # follow adds up to the rows moved.
        metrics.record(self.store, self.task, baseline.at, self.calculator.values(baseline, baseline))
        self._previous = baseline
        self._thread = threading.Thread(target=self._loop, daemon=True, name="metrics-sampler")
        self._thread.start()

    def watch(self, cdc: CdcCounters) -> None:
        """Read CDC counters from ``cdc`` from now on (a new runner after a reconnect replaces the old one)."""
        with self._lock:
            self._cdc = cdc
            if self._previous is not None:
                self._previous.changes_read = 0  # a new runner counts from 0

    def stop(self) -> None:
        """Stop the thread and take a last sample, so the end of a short task is recorded too."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._sample_safely()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample_safely()

    def _sample_safely(self) -> None:
        try:
            self.sample()
        except Exception:  # a failed sample must never fail the task
            log.warning("Metrics sample failed", exc_info=True)

    def sample(self) -> dict[str, float]:
        with self._lock:
            current = observe(self.store, self.task, self._process, self._cdc)
            previous = self._previous or current
            values = self.calculator.values(previous, current)
            self._previous = current
        metrics.record(self.store, self.task, current.at, values)
        self.samples += 1
        if self.samples % PRUNE_EVERY_SAMPLES == 0:
            metrics.prune(self.store, self.task, current.at, metrics.retention_seconds())
        return values
