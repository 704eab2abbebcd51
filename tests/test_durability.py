"""Invariant 2, checkpoint after durability: the order of the durability calls around every flush.

The task runs in this process with ``os.fsync`` and ``os.replace`` wrapped (spied on, still called), and
the checkpoint and the full load's "Table completed" recorded as they happen; each must come after the
fsyncs of every file it covers and of the directories naming them.
"""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import pytest

from binlake.dms import StartType
from binlake.engine.publish import BatchPublisher
from binlake.engine.task import TaskRunner, request_stop
from binlake.position import BinlogPosition
from binlake.state.store import StateStore
from tests.conftest import Binlake
from tests.helpers import create_cdc_task, execute, master_position
from tests.lake import target_settings, task_row, wait_for

Event = tuple[str, str]


class DurabilitySpy:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, bucket: Path) -> None:
        self.events: list[Event] = []
        self.bucket = bucket
        real_fsync, real_replace = os.fsync, os.replace

        def fsync(fd: int) -> None:
            real_fsync(fd)
            self.events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))

        def replace(src: str, dst: str) -> None:
            real_replace(src, dst)
            self.events.append(("replace", str(dst)))

        real_checkpoint = BatchPublisher._commit  # every CDC checkpoint goes through it
        spy = self

        def checkpoint(publisher: BatchPublisher, boundary: object, files: list[str], *args: object) -> None:
            synchronous = publisher.store.query("PRAGMA synchronous")[0][0]
            for path in files:
                spy.events.append(("checkpoint", publisher.bucket.full(path)))
            spy.events.append(("checkpoint-commit", f"synchronous={synchronous}"))
            real_checkpoint(publisher, boundary, files, *args)

        real_execute = StateStore.execute

        def execute(store: StateStore, sql: str, params: tuple = ()) -> int:
            if "table_state = ?, full_load_rows = ?" in sql and params and params[0] == "Table completed":
                spy.events.append(("table-completed", str(params[-1])))
            return real_execute(store, sql, params)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(BatchPublisher, "_commit", checkpoint)
        monkeypatch.setattr(StateStore, "execute", execute)

    def first(self, kind: str, path: str, after: int = 0) -> int:
        for index in range(after, len(self.events)):
            if self.events[index] == (kind, path):
                return index
        raise AssertionError(f"no {kind} of {path} after event {after}: {self.events[after:]}")

    def assert_durable_before(self, path: str, moment: int, new_dirs: tuple[str, ...] = ()) -> None:
        """``path``'s data and directory entry (and ``new_dirs``' entries) were fsynced after its last rename
        and before the event at ``moment``."""
        renamed = max(i for i, e in enumerate(self.events[:moment]) if e == ("replace", path))
        assert self.first("fsync", path, renamed) < moment, f"{path} not fsynced before event {moment}"
        directory = os.path.dirname(path)
        assert self.first("fsync", directory, renamed) < moment, f"{directory} not fsynced before {moment}"
        for directory in new_dirs:  # created by whichever table's file came first
            assert self.first("fsync", directory) < moment, f"{directory} not fsynced before {moment}"


def test_checkpoint_after_durability(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE `{db}`.u (id INT PRIMARY KEY, v INT)",
        f"INSERT INTO `{db}`.t VALUES (1, 1)",
        f"INSERT INTO `{db}`.u VALUES (1, 1)",
    )
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "lake-cdc", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=0.1),
    )  # fmt: skip
    create_cdc_task(binlake, "durable", db)
    spy = DurabilitySpy(monkeypatch, bucket)
    store = StateStore(binlake.state_dir)
    runner = TaskRunner(store, "durable")
    thread = threading.Thread(target=runner.run, args=(StartType.START_REPLICATION,))
    thread.start()
    try:
        wait_for(lambda: task_row(binlake.state_dir, "durable").get("cdc_read_position"), what="CDC running")
        for i in range(2, 6):
            execute(admin, f"INSERT INTO `{db}`.t VALUES ({i}, {i})", f"UPDATE `{db}`.u SET v = {i}")
            target = master_position(admin)

            def caught_up(target: BinlogPosition = target) -> bool:
                checkpoint = task_row(binlake.state_dir, "durable")["cdc_checkpoint"]
                return bool(checkpoint) and BinlogPosition.parse(checkpoint) >= target

            wait_for(caught_up, what="checkpoint")
    finally:
        request_stop(store, "durable")
        thread.join(60)
    assert task_row(binlake.state_dir, "durable")["status"] == "stopped"

    events = spy.events
    schema_dir = str(bucket / "hub" / db)
    # Full load: each LOAD file, its table folder and the new folder's entry are durable before the table
    # is recorded complete (a resume skips completed tables).
    for table in ("t", "u"):
        completed = spy.first("table-completed", table)
        load = f"{schema_dir}/{table}/LOAD00000001.parquet"
        spy.assert_durable_before(load, completed, new_dirs=(schema_dir, str(bucket / "hub")))
    # CDC: every file a checkpoint covers is durable before the checkpoint commits, and the commit is FULL.
    flushed = [i for i, e in enumerate(events) if e[0] == "checkpoint"]
    assert len(flushed) >= 8  # 4 batches of 2 tables
    for index in flushed:
        commit = next(i for i in range(index, len(events)) if events[i][0] == "checkpoint-commit")
        spy.assert_durable_before(events[index][1], commit)
    commits = [e for e in events if e[0] == "checkpoint-commit"]
    assert commits and all(e[1] == "synchronous=2" for e in commits)
    # Synced once per flush: one fsync per file and one per directory, none repeated.
    for start, end in itertools.pairwise(flushed):
        syncs = [e[1] for e in events[start:end] if e[0] == "fsync"]
        assert len(syncs) == len(set(syncs))
