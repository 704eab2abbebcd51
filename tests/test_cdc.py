"""Change data capture against the real MariaDB sandbox: files, handoff, exactly once, DDL, preflight."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import threading
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from binlake.position import BinlogPosition
from binlake.sandbox import process_alive
from tests.conftest import Binlake, mappings
from tests.helpers import (
    create_cdc_task,
    execute,
    master_position,
    start_detached,
    stop,
    wait_caught_up,
    wait_streaming,
)
from tests.lake import (
    cdc_files,
    cdc_rows,
    load_files,
    merged,
    source_state,
    statistics,
    table_dir,
    target_settings,
    task_row,
    wait_for,
)

CDC_NAME = re.compile(r"^\d{8}-\d{9}\.parquet$")


def test_cdc_files_follow_every_committed_change(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path
) -> None:
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(8,2), at DATETIME(6))",
        f"CREATE TABLE `{db}`.notes (k CHAR(3), n INT, body TEXT, PRIMARY KEY (k, n))",
        f"INSERT INTO `{db}`.items SELECT seq, CONCAT('item ', seq), seq / 4, '2026-01-02 03:04:05.123456' "
        f"FROM `{db}`.seq_1_to_100",
    )
    create_cdc_task(binlake, "cdc", db)
    start_detached(binlake, "cdc")
    wait_streaming(binlake, "cdc")

    execute(
        admin,
        f"INSERT INTO `{db}`.items VALUES (101, 'new', 1.25, NOW(6)), (102, 'Zürich 東京', NULL, NULL)",
        f"UPDATE `{db}`.items SET price = price + 1 WHERE id <= 10",
        f"UPDATE `{db}`.items SET id = 1000 WHERE id = 50",  # a key change
        f"DELETE FROM `{db}`.items WHERE id IN (20, 21, 102)",
        "BEGIN",
        f"INSERT INTO `{db}`.items VALUES (500, 'rolled back', 1, NULL)",
        "ROLLBACK",
        "BEGIN",
        f"INSERT INTO `{db}`.notes VALUES ('abc', 1, 'one transaction, two tables')",
        f"UPDATE `{db}`.items SET name = 'touched' WHERE id = 1",
        "COMMIT",
        f"INSERT INTO `{db}`.items SELECT 10000 + seq, 'bulk', seq, NULL FROM `{db}`.seq_1_to_100000",
    )
    wait_caught_up(binlake, "cdc", admin)
    stop(binlake, "cdc")

    items = table_dir(bucket, db, "items")
    assert merged(items, ("id",)) == source_state(admin, db, "items", ("id",))
    assert merged(table_dir(bucket, db, "notes"), ("k", "n")) == source_state(admin, db, "notes", ("k", "n"))
    names = [p.name for p in cdc_files(items)]
    assert names and all(CDC_NAME.match(n) for n in names)
    assert len(set(names)) == len(names)
    load_schema = pq.read_schema(load_files(items)[0])
    for path in cdc_files(items):
        schema = pq.read_schema(path)
        assert schema.names[0] == "Op"
        assert schema.remove(0) == load_schema.remove_metadata()
    changes = cdc_rows(items)
    assert not [r for r in changes if r["id"] == 500]  # the rolled back insert is nowhere
    key_change = [(r["Op"], r["id"]) for r in changes if r["id"] in (50, 1000)]
    assert key_change == [("D", 50), ("I", 1000)]
    deleted = [r for r in changes if r["Op"] == "D" and r["id"] == 102]
    assert deleted and deleted[0]["name"] == "Zürich 東京"  # a delete carries the before image
    stats = statistics(binlake.state_dir, "cdc")
    assert (stats["items"]["inserts"], stats["items"]["updates"], stats["items"]["deletes"]) == (100002, 12, 3)
    assert (stats["notes"]["inserts"], stats["notes"]["updates"], stats["notes"]["deletes"]) == (1, 0, 0)
    assert stats["items"]["full_load_rows"] == 100
    assert task_row(binlake.state_dir, "cdc")["cdc_changes_total"] == 100002 + 12 + 3 + 1  # an update counts once


def test_handoff_from_full_load_to_cdc_under_writes(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path, sandbox
) -> None:
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.counters (id INT PRIMARY KEY, version INT NOT NULL, pad CHAR(100))",
        f"INSERT INTO `{db}`.counters SELECT seq, 0, REPEAT('x', 100) FROM `{db}`.seq_1_to_60000",
    )
    create_cdc_task(binlake, "handoff", db)
    stop_writing = threading.Event()

    def writer() -> None:
        conn = sandbox.root_connection()
        cur = conn.cursor()
        next_id = 100_000
        rng = random.Random(7)
        while not stop_writing.is_set():
            cur.execute(f"UPDATE `{db}`.counters SET version = version + 1 WHERE id = {rng.randint(1, 60000)}")
            cur.execute(f"INSERT INTO `{db}`.counters VALUES ({next_id}, 0, 'new')")
            next_id += 1
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        start_detached(binlake, "handoff")
        wait_streaming(binlake, "handoff")
        wait_for(lambda: statistics(binlake.state_dir, "handoff")["counters"]["inserts"] > 200, what="changes")
    finally:
        stop_writing.set()
        thread.join()
    wait_caught_up(binlake, "handoff", admin)
    stop(binlake, "handoff")

    directory = table_dir(bucket, db, "counters")
    assert merged(directory, ("id",)) == source_state(admin, db, "counters", ("id",))
    seen: set[tuple[int, int]] = set()
    for path in load_files(directory):
        seen.update((r["id"], r["version"]) for r in pq.read_table(path).to_pylist())
    for row in cdc_rows(directory):
        pair = (row["id"], row["version"])
        assert pair not in seen, f"change {pair} is in the target twice"
        seen.add(pair)


def test_exactly_once_after_kill_9(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path, sandbox
) -> None:
    """Invariant 1: kill -9 at random moments, during full load and CDC, while a workload runs; after
    resume-processing every change is in the CDC files exactly once and the merged target equals the source.

    The workload is what applications write: multi-table transactions, ORM-style savepoints with ROLLBACK TO
    SAVEPOINT, rolled-back transactions, primary-key changes, XA transactions left prepared across kills and
    then committed or rolled back, and one transaction larger than the task's memory budget (spilled)."""
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.accounts (id INT PRIMARY KEY, version INT NOT NULL, balance DECIMAL(12,2))",
        f"INSERT INTO `{db}`.accounts SELECT seq, 0, 100 FROM `{db}`.seq_1_to_200000",
        f"CREATE TABLE `{db}`.ledger (id INT PRIMARY KEY, account INT NOT NULL, amount DECIMAL(12,2))",
        f"CREATE TABLE `{db}`.vault (id INT PRIMARY KEY, version INT NOT NULL)",
    )
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "small-files", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=0.2, MaxFileSize=64),
    )  # fmt: skip
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "crashy", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "small-files", "--migration-type", "full-load-and-cdc",
        "--table-mappings", mappings(db), "--replication-task-settings",
        json.dumps({"FullLoadSettings": {"CommitRate": 1000}, "ChangeProcessingTuning": {"MemoryLimitTotal": 1}}),
    )  # fmt: skip
    stop_writing = threading.Event()
    large_transaction = threading.Event()

    def writer() -> None:
        conn, xa_conn = sandbox.root_connection(), sandbox.root_connection()
        cur, xa = conn.cursor(), xa_conn.cursor()
        rng = random.Random(11)
        next_id, next_ledger, next_vault, xa_count = 1_000_000, 1, 1, 0
        prepared: list[str] = []  # prepared XA transactions of xa_conn, oldest first (one at a time)

        def change(cur) -> None:
            nonlocal next_id
            choice = rng.random()
            if choice < 0.6:
                cur.execute(
                    f"UPDATE `{db}`.accounts SET version = version + 1, balance = balance + 1 "
                    f"WHERE id = {rng.randint(1, 200000)}"
                )
            elif choice < 0.85:
                cur.execute(f"INSERT INTO `{db}`.accounts VALUES ({next_id}, 0, 1)")
                next_id += 1
            elif choice < 0.93:  # a primary-key change
                cur.execute(
                    f"UPDATE `{db}`.accounts SET id = {next_id}, version = version + 1 "
                    f"WHERE id = {rng.randint(1, 200000)}"
                )
                next_id += 1
            else:
                cur.execute(f"DELETE FROM `{db}`.accounts WHERE id = {rng.randint(1, 200000)}")

        while not stop_writing.is_set():
            shape = rng.random()
            if large_transaction.is_set():
                large_transaction.clear()
                cur.execute(f"UPDATE `{db}`.accounts SET version = version + 1 WHERE id <= 40000")
            elif shape < 0.1 and not prepared:  # XA: prepare now, decide some transactions later
                xa_count += 1
                xid = f"'crashy-{xa_count}'"
                xa.execute(f"XA START {xid}")
                for _ in range(rng.randint(1, 3)):
                    xa.execute(f"INSERT INTO `{db}`.vault VALUES ({next_vault}, 0)")
                    next_vault += 1
                xa.execute(f"UPDATE `{db}`.vault SET version = version + 1 WHERE id = {rng.randint(1, next_vault)}")
                xa.execute(f"XA END {xid}")
                xa.execute(f"XA PREPARE {xid}")
                prepared.append(xid)
            elif shape < 0.2 and prepared:
                xid = prepared.pop(0)
                xa.execute(f"XA COMMIT {xid}" if rng.random() < 0.7 else f"XA ROLLBACK {xid}")
            elif shape < 0.4:  # ORM nesting: savepoints, some rolled back to
                cur.execute("BEGIN")
                change(cur)
                cur.execute("SAVEPOINT outer_sp")
                change(cur)
                cur.execute("SAVEPOINT inner_sp")
                change(cur)
                if rng.random() < 0.5:
                    cur.execute("ROLLBACK TO SAVEPOINT inner_sp")
                if rng.random() < 0.3:
                    cur.execute("ROLLBACK TO SAVEPOINT outer_sp")
                cur.execute("RELEASE SAVEPOINT outer_sp")
                change(cur)
                cur.execute("COMMIT")
            elif shape < 0.45:  # rolled back as a whole
                cur.execute("BEGIN")
                change(cur)
                cur.execute("ROLLBACK")
            else:  # multi-table
                cur.execute("BEGIN")
                for _ in range(rng.randint(1, 20)):
                    change(cur)
                if rng.random() < 0.5:
                    cur.execute(f"INSERT INTO `{db}`.ledger VALUES ({next_ledger}, {rng.randint(1, 200000)}, 1)")
                    next_ledger += 1
                cur.execute("COMMIT")
        for xid in prepared:
            xa.execute(f"XA COMMIT {xid}")
        conn.close()
        xa_conn.close()

    rng = random.Random(2026)
    thread = threading.Thread(target=writer)
    thread.start()
    kills_in_load = kills_in_cdc = 0
    seen: list = []
    try:
        # One kill certainly inside the full load: the table's read waits on a lock held here.
        execute(admin, f"LOCK TABLES `{db}`.accounts WRITE")
        try:
            pid = start_detached(binlake, "crashy", "start-replication")
            wait_for(
                lambda: statistics(binlake.state_dir, "crashy").get("accounts", {}).get("table_state") == "Full load",
                what="full load started",
            )
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda pid=pid: not process_alive(pid), what="process gone")
            kills_in_load += 1
        finally:
            execute(admin, "UNLOCK TABLES")
        start_type = "resume-processing"
        for _ in range(10):  # kill while LOAD files are being written
            pid = start_detached(binlake, "crashy", start_type)
            start_type = "resume-processing"
            loading = wait_for(
                lambda: (
                    task_row(binlake.state_dir, "crashy")["cdc_read_position"] is not None
                    or statistics(binlake.state_dir, "crashy").get("accounts", {}).get("full_load_rows", 0) > 0
                ),
                what="loading or streaming",
            )
            in_load = task_row(binlake.state_dir, "crashy")["cdc_read_position"] is None
            seen.append((in_load, statistics(binlake.state_dir, "crashy"), task_row(binlake.state_dir, "crashy")))
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda pid=pid: not process_alive(pid), what="process gone")
            kills_in_load += in_load
            del loading
            if kills_in_load >= 3:
                break
        for kill in range(6):  # kill at random moments while streaming
            pid = start_detached(binlake, "crashy", "resume-processing")
            wait_streaming(binlake, "crashy")
            if kill == 2:
                large_transaction.set()
            threading.Event().wait(rng.uniform(0.05, 1.0))
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda pid=pid: not process_alive(pid), what="process gone")
            kills_in_cdc += 1
        log = binlake.state_dir / "tasks" / "crashy" / "task.log"
        for _ in range(2):  # kill between publishing a batch's files and its checkpoint
            published = log.read_text().count("checkpoint pending")
            pid = start_detached(
                binlake, "crashy", "resume-processing", env={"BINLAKE_FAULT_PAUSE_BEFORE_CHECKPOINT": "2"}
            )
            wait_for(lambda n=published: log.read_text().count("checkpoint pending") > n, what="batch published")
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda pid=pid: not process_alive(pid), what="process gone")
            kills_in_cdc += 1
    finally:
        stop_writing.set()
        thread.join()
    start_detached(binlake, "crashy", "resume-processing")
    wait_streaming(binlake, "crashy")
    wait_caught_up(binlake, "crashy", admin, timeout=120)
    assert log.read_text().count("CDC files of an unfinished batch") >= 2
    stop(binlake, "crashy")

    assert kills_in_load >= 1, seen[:2]
    assert kills_in_cdc == 8
    for table in ("accounts", "ledger", "vault"):
        directory = table_dir(bucket, db, table)
        assert merged(directory, ("id",)) == source_state(admin, db, table, ("id",)), table
        counts = Counter((r["Op"], r["id"], r.get("version")) for r in cdc_rows(directory))
        duplicates = [change for change, n in counts.items() if n > 1]
        assert not duplicates, f"changes of {table} present twice: {sorted(duplicates)[:5]}"
    assert sum(1 for op, _, _ in counts if op == "U") > 0  # vault: XA transactions reached the lake
    accounts = Counter(r["Op"] for r in cdc_rows(table_dir(bucket, db, "accounts")))
    assert accounts["U"] > 40_000  # the large transaction, spilled past MemoryLimitTotal
    assert not task_row(binlake.state_dir, "crashy")["last_failure_message"]


def test_schema_changes_mid_stream(binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path) -> None:
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, a VARCHAR(10), b INT)",
        f"CREATE TABLE `{db}`.gone (id INT PRIMARY KEY)",
        f"INSERT INTO `{db}`.t VALUES (1, 'one', 1), (2, 'two', 2)",
    )
    create_cdc_task(binlake, "ddl", db)
    start_detached(binlake, "ddl")
    wait_streaming(binlake, "ddl")

    execute(
        admin,
        f"ALTER TABLE `{db}`.t ADD COLUMN c DECIMAL(6,2)",
        f"INSERT INTO `{db}`.t VALUES (3, 'three', 3, 3.5)",
        f"ALTER TABLE `{db}`.t DROP COLUMN b",
        f"INSERT INTO `{db}`.t VALUES (4, 'four', 4.5)",
        f"ALTER TABLE `{db}`.t MODIFY COLUMN a VARCHAR(50)",
        f"ALTER TABLE `{db}`.t RENAME COLUMN a TO label",
        f"UPDATE `{db}`.t SET label = 'ONE' WHERE id = 1",
        f"CREATE TABLE `{db}`.fresh (id INT PRIMARY KEY, v TEXT)",
        f"INSERT INTO `{db}`.fresh VALUES (1, 'picked up')",
        f"DROP TABLE `{db}`.gone",
    )
    wait_caught_up(binlake, "ddl", admin)
    schemas = [pq.read_schema(p).names for p in cdc_files(table_dir(bucket, db, "t"))]
    assert ["Op", "id", "a", "b", "c"] in schemas
    assert ["Op", "id", "a", "c"] in schemas
    assert schemas[-1] == ["Op", "id", "label", "c"]
    execute(admin, f"TRUNCATE TABLE `{db}`.t", f"INSERT INTO `{db}`.t VALUES (9, 'after', 9)")
    wait_caught_up(binlake, "ddl", admin)
    assert task_row(binlake.state_dir, "ddl")["status"] == "running"
    stop(binlake, "ddl")

    stats = statistics(binlake.state_dir, "ddl")
    assert stats["t"]["ddls"] == 5
    assert stats["gone"]["ddls"] == 1
    assert stats["gone"]["table_state"] == "Table cancelled"
    assert stats["fresh"]["ddls"] == 1
    assert merged(table_dir(bucket, db, "t"), ("id",)) == source_state(admin, db, "t", ("id",))
    assert merged(table_dir(bucket, db, "fresh"), ("id",)) == {(1,): {"id": 1, "v": "picked up"}}
    events = binlake.state_dir / "tasks" / "ddl" / "task.log"
    assert "DDL on" in events.read_text()


def test_cdc_only_task_with_start_position_and_inserts_only(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path
) -> None:
    db = database
    execute(admin, f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v INT)", f"INSERT INTO `{db}`.t VALUES (1, 1)")
    start = master_position(admin)
    execute(
        admin,
        f"INSERT INTO `{db}`.t VALUES (2, 2)",
        f"UPDATE `{db}`.t SET v = 10 WHERE id = 1",
        f"DELETE FROM `{db}`.t WHERE id = 2",
    )
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "inserts", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=0.1, CdcInsertsOnly=True),
    )  # fmt: skip
    create_cdc_task(binlake, "only", db, migration="cdc", target="inserts")
    start_detached(binlake, "only", "start-replication", "--cdc-start-position", str(start))
    wait_caught_up(binlake, "only", admin)
    stop(binlake, "only")

    directory = table_dir(bucket, db, "t")
    assert load_files(directory) == []
    assert [(r["Op"], r["id"], r["v"]) for r in cdc_rows(directory)] == [("I", 2, 2)]
    stats = statistics(binlake.state_dir, "only")["t"]
    assert (stats["inserts"], stats["updates"], stats["deletes"], stats["table_state"]) == (1, 1, 1, "Table completed")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("binlog_format", "STATEMENT", "binlog_format is STATEMENT on 127.0.0.1:"),
        ("binlog_row_image", "MINIMAL", "binlog_row_image is MINIMAL on 127.0.0.1:"),
        ("binlog_row_metadata", "MINIMAL", "binlog_row_metadata is MINIMAL on 127.0.0.1:"),
    ],
)
def test_preflight_names_the_setting_to_change(
    binlake: Binlake, cdc_target: str, admin, database: str, variable: str, value: str, message: str
) -> None:
    create_cdc_task(binlake, "pre", database, migration="cdc")
    execute(admin, f"SET GLOBAL {variable} = '{value}'")
    try:
        result = binlake.run_process("start-replication-task", "--replication-task-arn", "pre", "--quiet")
    finally:
        execute(admin, f"SET GLOBAL {variable} = 'ROW'" if variable == "binlog_format" else
                f"SET GLOBAL {variable} = 'FULL'")  # fmt: skip
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert f"fix: SET GLOBAL {variable} = '" in lines[0]
    assert task_row(binlake.state_dir, "pre")["status"] == "failed"


def test_purged_binlog_names_reload_target(binlake: Binlake, cdc_target: str, admin, database: str) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    create_cdc_task(binlake, "purged", database, migration="cdc")
    start_detached(binlake, "purged")
    wait_streaming(binlake, "purged")
    execute(admin, f"INSERT INTO `{database}`.t VALUES (1)")
    wait_caught_up(binlake, "purged", admin)
    stop(binlake, "purged")
    checkpoint = task_row(binlake.state_dir, "purged")["cdc_checkpoint"]
    execute(admin, "FLUSH BINARY LOGS")
    current = master_position(admin).binlog_file
    # The server keeps a binlog that a dump thread still reads (one of a killed task may linger).
    cur = admin.cursor()
    cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'")
    for (thread_id,) in cur.fetchall():
        execute(admin, f"KILL {thread_id}")

    def purged() -> bool:
        # MariaDB purges a binlog only once InnoDB's binlog checkpoint has moved past it.
        execute(admin, f"PURGE BINARY LOGS TO '{current}'")
        cur.execute("SHOW BINARY LOGS")
        return checkpoint.rpartition(":")[0] not in [row[0] for row in cur.fetchall()]

    wait_for(purged, what="binlog purged")

    result = binlake.run_process(
        "start-replication-task", "--replication-task-arn", "purged", "--start-replication-task-type",
        "resume-processing", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert f"binlog {checkpoint.rpartition(':')[0]} (checkpoint {checkpoint}) is no longer on 127.0.0.1:" in line
    assert "--start-replication-task-type reload-target" in line

    # reload-target of a cdc task starts from the current position and works again.
    start_detached(binlake, "purged", "reload-target")
    wait_streaming(binlake, "purged")
    stop(binlake, "purged")


def test_describe_shows_cdc_state(binlake: Binlake, cdc_target: str, admin, database: str) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    create_cdc_task(binlake, "shown", database, migration="cdc")
    start_detached(binlake, "shown")
    wait_streaming(binlake, "shown")
    execute(admin, f"INSERT INTO `{database}`.t VALUES (1)")
    wait_caught_up(binlake, "shown", admin)
    described = json.loads(binlake.run_process("describe-replication-tasks", "--output", "json").stdout)[
        "ReplicationTasks"
    ][0]
    stop(binlake, "shown")
    assert described["Status"] == "running"
    assert described["MigrationType"] == "cdc"
    assert BinlogPosition.parse(described["CdcState"]["CheckpointPosition"]) <= master_position(admin)
    assert described["CdcState"]["ChangesApplied"] == 1
    assert described["CdcState"]["CheckpointGtid"].startswith("0-1-")


def gtid_position(admin) -> str:
    cur = admin.cursor()
    cur.execute("SELECT @@gtid_binlog_pos")
    return cur.fetchone()[0]


@pytest.mark.parametrize("start_by", ["gtid", "time"])
def test_cdc_start_by_gtid_or_time(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path, start_by: str
) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)", f"INSERT INTO `{database}`.t VALUES (1)")
    if start_by == "gtid":
        flag, value = "--cdc-start-position", gtid_position(admin)
    else:
        threading.Event().wait(1.1)  # the binlog's clock has whole seconds
        cur = admin.cursor()
        cur.execute("SELECT UNIX_TIMESTAMP()")
        flag, value = "--cdc-start-time", str(cur.fetchone()[0])
        threading.Event().wait(1.1)
    execute(admin, f"INSERT INTO `{database}`.t VALUES (2)")
    create_cdc_task(binlake, "from", database, migration="cdc")
    start_detached(binlake, "from", "start-replication", flag, value)
    wait_caught_up(binlake, "from", admin)
    stop(binlake, "from")
    assert [r["id"] for r in cdc_rows(table_dir(bucket, database, "t"))] == [2]


def test_cdc_reconnects_after_losing_its_connection(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path
) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    create_cdc_task(binlake, "lossy", database, migration="cdc")
    start_detached(binlake, "lossy")
    wait_streaming(binlake, "lossy")
    execute(admin, f"INSERT INTO `{database}`.t VALUES (1)")
    wait_caught_up(binlake, "lossy", admin)
    cur = admin.cursor()
    cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'")
    for (thread_id,) in cur.fetchall():
        execute(admin, f"KILL {thread_id}")
    execute(admin, f"INSERT INTO `{database}`.t VALUES (2)")
    wait_caught_up(binlake, "lossy", admin)
    assert task_row(binlake.state_dir, "lossy")["status"] == "running"
    stop(binlake, "lossy")
    assert [r["id"] for r in cdc_rows(table_dir(bucket, database, "t"))] == [1, 2]
    assert "CDC interrupted" in (binlake.state_dir / "tasks" / "lossy" / "task.log").read_text()
