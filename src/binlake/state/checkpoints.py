"""The CDC intent log and checkpoint: the only code that reads or writes ``cdc_intents`` and a task's CDC
position columns.

The exactly-once sequence (invariants 1 and 2) is: record the batch's intent (its files) before writing them,
publish the files and make them durable, then ``commit`` the checkpoint, which deletes the intent in the same
transaction. A crash before the commit leaves the intent, and ``unfinished_intents`` names the files to delete
before the batch is read again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from binlake.position import BinlogPosition
from binlake.state import statistics
from binlake.state.store import StateStore


@dataclass(frozen=True)
class CdcIntent:
    """A CDC batch whose files may be (partly) published but whose checkpoint has not committed."""

    batch: int
    start_position: BinlogPosition | None
    end_position: BinlogPosition
    files: list[str]


@dataclass(frozen=True)
class Checkpoint:
    """A transaction boundary every change before which is durable in the target."""

    position: BinlogPosition
    gtid: str | None  # None keeps the previous GTID (a position without one, e.g. a DDL outside GTID mode)
    commit_time: str | None  # ISO time of the source commit at ``position``; None keeps the previous one
    changes: int = 0  # CDC changes this checkpoint adds to the task's total
    last_file: str | None = None  # the newest CDC file name, which the next one must sort after; None keeps it
    # Prepared XA transactions still open at ``position``: XA identifier → the position of their start.
    open_transactions: dict[str, BinlogPosition] = field(default_factory=dict)


@dataclass(frozen=True)
class ResumeState:
    """What a CDC run takes over from the last one."""

    last_file: str | None
    open_transactions: dict[str, BinlogPosition]
    snapshots: dict[tuple[str, str], BinlogPosition]  # each table's full-load snapshot position


def resume_state(store: StateStore, task: str) -> ResumeState:
    rows = store.query("SELECT last_cdc_file, cdc_open_transactions FROM tasks WHERE identifier = ?", (task,))
    raw = rows[0]["cdc_open_transactions"] if rows else None
    return ResumeState(
        last_file=rows[0]["last_cdc_file"] if rows else None,
        open_transactions={xid: BinlogPosition.parse(start) for xid, start in json.loads(raw or "{}").items()},
        snapshots={
            (s.schema_name, s.table_name): s.snapshot_position
            for s in statistics.for_task(store, task)
            if s.snapshot_position is not None
        },
    )


def record_intent(
    store: StateStore, task: str, batch: int, start: BinlogPosition | None, end: BinlogPosition, files: list[str]
) -> None:
    """Name a batch's files before any of them is written (they are deleted again if no checkpoint follows)."""
    store.execute(
        "INSERT INTO cdc_intents (task, batch, start_position, end_position, files) VALUES (?, ?, ?, ?, ?)",
        (task, batch, str(start), str(end), json.dumps(files)),
    )


def extend_intent(store: StateStore, task: str, batch: int, end: BinlogPosition, files: list[str]) -> None:
    """The batch grew (a large transaction published in parts): its files so far and where it now ends."""
    store.execute(
        "UPDATE cdc_intents SET files = ?, end_position = ? WHERE task = ? AND batch = ?",
        (json.dumps(files), str(end), task, batch),
    )


def unfinished_intents(store: StateStore, task: str) -> list[CdcIntent]:
    rows = store.query(
        "SELECT batch, start_position, end_position, files FROM cdc_intents WHERE task = ? ORDER BY batch", (task,)
    )
    return [
        CdcIntent(
            batch=row["batch"],
            start_position=_position(row["start_position"]),
            end_position=BinlogPosition.parse(row["end_position"]),
            files=json.loads(row["files"]),
        )
        for row in rows
    ]


def drop_intent(store: StateStore, task: str, batch: int) -> None:
    store.execute("DELETE FROM cdc_intents WHERE task = ? AND batch = ?", (task, batch))


def note_read(store: StateStore, task: str, position: BinlogPosition, source_time: str | None) -> None:
    """Where the reader is (for status and latency), ahead of the checkpoint; never a restart point."""
    store.execute(
        "UPDATE tasks SET cdc_read_position = ?, cdc_source_time = ? WHERE identifier = ?",
        (str(position), source_time, task),
    )


def commit(
    store: StateStore,
    task: str,
    checkpoint: Checkpoint,
    changes: dict[tuple[str, str], tuple[int, int, int]] | None = None,
    ddls: dict[tuple[str, str], int] | None = None,
    batch: int | None = None,
    zero_dates: dict[tuple[str, str], int] | None = None,
) -> None:
    """Move the task's checkpoint, add the batch's per-table counters and delete its intent, in one durable
    transaction (the store runs with synchronous=FULL): call it only after the batch's files are durable."""
    with store.transaction() as db:
        db.execute(
            "UPDATE tasks SET cdc_checkpoint = ?, cdc_checkpoint_gtid = COALESCE(?, cdc_checkpoint_gtid), "
            "cdc_checkpoint_commit_time = COALESCE(?, cdc_checkpoint_commit_time), cdc_read_position = ?, "
            "cdc_source_time = ?, "
            "cdc_changes_total = cdc_changes_total + ?, last_cdc_file = COALESCE(?, last_cdc_file), "
            "cdc_open_transactions = ? WHERE identifier = ?",
            (
                str(checkpoint.position),
                checkpoint.gtid,
                checkpoint.commit_time,
                str(checkpoint.position),
                checkpoint.commit_time,
                checkpoint.changes,
                checkpoint.last_file,
                _open_json(checkpoint.open_transactions),
                task,
            ),
        )
        statistics.add_changes(db, task, changes or {}, ddls or {}, zero_dates)
        if batch is not None:
            db.execute("DELETE FROM cdc_intents WHERE task = ? AND batch = ?", (task, batch))


def _open_json(open_transactions: dict[str, BinlogPosition]) -> str | None:
    return json.dumps({xid: str(start) for xid, start in open_transactions.items()}) if open_transactions else None


def _position(text: str | None) -> BinlogPosition | None:
    return BinlogPosition.parse(text) if text and text != "None" else None
