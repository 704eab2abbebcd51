"""End to end, lake against source: a seeded random transactional workload through a real full-load-and-cdc task,
then the lake's current state (LOAD merged with the CDC files by key) must equal every source table exactly, and
the CDC files must follow the file policy (CdcMaxBatchInterval / CdcMinFileSize), not the statements.

Every workload has multi-table transactions, primary-key changes, deletes, a spatial column followed by latin1
text, a table created with mysql56_temporal_format=OFF (old-format TIME/DATETIME), binlog rotations and one
large transaction (a 50,000-row UPDATE). Each parametrization adds one kind of transaction:

- ``savepoints``: ORM-style nesting (SAVEPOINT inside SAVEPOINT, ROLLBACK TO SAVEPOINT, RELEASE), also after a
  non-transactional (Aria) change, where MariaDB logs the rolled-back rows followed by a ``ROLLBACK TO`` event;
- ``xa``: XA PREPARE then XA COMMIT, XA PREPARE then XA ROLLBACK (its rows are in the binlog), XA COMMIT ONE PHASE;
- ``mixed-rollback``: ROLLBACK of transactions mixing InnoDB and Aria / MyISAM tables (the non-transactional rows
  stay in the source, and the binlog carries them as a transaction of their own).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from binlake.position import BinlogPosition
from tests.conftest import Binlake, mappings
from tests.helpers import master_position, start_detached, stop, wait_streaming
from tests.lake import cdc_files, merged, source_state, table_dir, target_settings, task_row, wait_for
from tests.oracle.source import global_setting

TRANSACTIONS = 60
LARGE_UPDATE_ROWS = 50_000
KEYS = {"accounts": ("id",), "orders": ("id",), "audit": ("id",), "journal": ("id",), "legacy": ("id",)}


class Workload:
    """Seeded random transactions; ``kind`` adds savepoints, XA or mixed-engine rollbacks to the common mix."""

    def __init__(self, admin, other, db: str, seed: int, kind: str) -> None:
        self.cur = admin.cursor()
        self.other = other.cursor()  # another session, for changes between XA PREPARE and XA COMMIT
        self.db = db
        self.rng = random.Random(seed)
        self.kind = kind
        self.next_id = 1_000_000
        self.xa = 0

    def sql(self, statement: str) -> None:
        self.cur.execute(statement)

    def key(self) -> int:
        self.next_id += 1
        return self.next_id

    def change(self, tables: tuple[str, ...] = ("accounts", "orders")) -> None:
        """One random statement on a transactional table: insert, update, delete or a primary-key change."""
        rng, db = self.rng, self.db
        table = rng.choice(tables)
        action = rng.choice(["insert", "insert", "update", "update", "delete", "rekey"])
        some = f"(SELECT id FROM (SELECT id FROM `{db}`.{table} ORDER BY RAND({rng.randint(0, 10**6)}) LIMIT 1) x)"
        if action == "insert" and table == "accounts":
            self.sql(
                f"INSERT INTO `{db}`.accounts VALUES ({self.key()}, 'acct {rng.random():.6f} ✓', "
                f"{rng.randint(-(10**8), 10**8) / 100}, POINT({rng.random()}, {rng.random()}), 'Zürich ÿ', "
                f"X'{rng.randbytes(rng.randint(0, 40)).hex()}', '2026-01-02 03:04:05.{rng.randint(0, 999999):06d}')"
            )
        elif action == "insert":
            self.sql(f"INSERT INTO `{db}`.orders VALUES ({self.key()}, {rng.randint(1, 500)}, 1.25, 'new')")
        elif action == "update" and table == "accounts":
            self.sql(
                f"UPDATE `{db}`.accounts SET balance = balance + 1, city = 'Besançon €', "
                f"shape = ST_GeomFromText('LINESTRING(0 0, {rng.random()} 1)') WHERE id = {some}"
            )
        elif action == "update":
            self.sql(f"UPDATE `{db}`.orders SET status = 'paid', amount = amount * 2 WHERE id = {some}")
        elif action == "delete":
            self.sql(f"DELETE FROM `{db}`.{table} WHERE id = {some}")
        else:
            self.sql(f"UPDATE `{db}`.{table} SET id = {self.key()} WHERE id = {some}")
        if rng.random() < 0.2:
            time = f"-{rng.randint(0, 838)}:01:02.{rng.randint(0, 999):03d}"
            moment = f"1999-12-31 23:59:59.{rng.randint(0, 9999):04d}"
            self.sql(f"INSERT INTO `{db}`.legacy VALUES ({self.key()}, '{time}', '{moment}')")

    def non_transactional(self) -> None:
        table = self.rng.choice(["audit", "journal"])
        self.sql(f"INSERT INTO `{self.db}`.{table} VALUES ({self.key()}, 'kept by {table} whatever happens')")

    def run(self) -> None:
        large_at = self.rng.randrange(TRANSACTIONS)
        for number in range(TRANSACTIONS):
            if number == large_at:
                self.sql(f"UPDATE `{self.db}`.orders SET amount = amount + 1, status = 'bulk'")  # one transaction
            if self.rng.random() < 0.05:
                self.sql("FLUSH BINARY LOGS")
            special = self.rng.random() < 0.6
            if special and self.kind == "savepoints":
                self.savepoints()
            elif special and self.kind == "xa":
                self.xa_transaction()
            elif special and self.kind == "mixed-rollback":
                self.mixed_rollback()
            else:
                self.sql("BEGIN")
                for _ in range(self.rng.randint(1, 4)):
                    self.change()
                self.sql("COMMIT")

    def savepoints(self) -> None:
        """Django atomic() / SQLAlchemy begin_nested() nesting; sometimes an Aria change inside."""
        rng = self.rng
        self.sql("BEGIN")
        self.change()
        for depth in range(rng.randint(1, 3)):
            self.sql(f"SAVEPOINT s{depth}")
            self.change()
            if rng.random() < 0.3:
                self.non_transactional()  # from here on MariaDB logs rolled-back rows and a ROLLBACK TO event
            self.change()
            if rng.random() < 0.5:
                self.sql(f"ROLLBACK TO SAVEPOINT s{depth}")
            else:
                self.sql(f"RELEASE SAVEPOINT s{depth}")
        self.change()
        self.sql("COMMIT" if rng.random() < 0.8 else "ROLLBACK")

    def xa_transaction(self) -> None:
        rng = self.rng
        self.xa += 1
        xid = f"'w{self.xa}', 'b', 1"
        self.sql(f"XA START {xid}")
        for _ in range(rng.randint(1, 3)):
            self.change()
        self.sql(f"XA END {xid}")
        ending = rng.choice(["commit", "rollback", "one phase"])
        if ending == "one phase":
            self.sql(f"XA COMMIT {xid} ONE PHASE")
            return
        self.sql(f"XA PREPARE {xid}")
        if rng.random() < 0.5:  # another session commits between PREPARE and COMMIT
            self.other.execute(f"INSERT INTO `{self.db}`.orders VALUES ({self.key()}, 1, 2.5, 'other')")
        self.sql(f"XA {'COMMIT' if ending == 'commit' else 'ROLLBACK'} {xid}")

    def mixed_rollback(self) -> None:
        self.sql("BEGIN")
        for _ in range(self.rng.randint(1, 4)):
            if self.rng.random() < 0.4:
                self.non_transactional()
            else:
                self.change()
        self.sql("ROLLBACK" if self.rng.random() < 0.7 else "COMMIT")


def create_tables(admin, db: str) -> None:
    cur = admin.cursor()
    cur.execute(
        f"CREATE TABLE `{db}`.accounts (id INT PRIMARY KEY, name VARCHAR(40), balance DECIMAL(12,2), "
        "shape GEOMETRY NULL, city VARCHAR(30) CHARACTER SET latin1, note BLOB, at DATETIME(6))"
    )
    cur.execute(f"CREATE TABLE `{db}`.orders (id INT PRIMARY KEY, account INT, amount DECIMAL(14,2), status CHAR(6))")
    cur.execute(f"CREATE TABLE `{db}`.audit (id INT PRIMARY KEY, msg VARCHAR(50)) ENGINE=Aria")
    cur.execute(f"CREATE TABLE `{db}`.journal (id INT PRIMARY KEY, msg VARCHAR(50)) ENGINE=MyISAM")
    with global_setting(admin, "mysql56_temporal_format", "OFF"):
        cur.execute(f"CREATE TABLE `{db}`.legacy (id INT PRIMARY KEY, t TIME(3), d DATETIME(4))")
    cur.execute(
        f"INSERT INTO `{db}`.accounts SELECT seq, CONCAT('a', seq), seq / 3, POINT(seq, 1), 'Köln', NULL, NULL "
        f"FROM `{db}`.seq_1_to_500"
    )
    cur.execute(
        f"INSERT INTO `{db}`.orders SELECT seq, seq % 500 + 1, seq / 7, 'open' FROM `{db}`.seq_1_to_{LARGE_UPDATE_ROWS}"
    )
    cur.execute(f"INSERT INTO `{db}`.legacy VALUES (1, '-838:59:59.999', '1000-01-01 00:00:00.0001')")


@pytest.mark.parametrize(
    ("kind", "seed"),
    [
        pytest.param("multi-table", 1, id="multi-table"),
        pytest.param("savepoints", 2, id="savepoints"),
        pytest.param("xa", 3, id="xa"),
        pytest.param("mixed-rollback", 4, id="mixed-rollback"),
    ],
)
def test_lake_equals_source_after_random_transactions(
    binlake: Binlake,
    endpoints,
    admin,
    sandbox,
    database: str,
    bucket: Path,
    kind: str,
    seed: int,
    decoder_path: str,
) -> None:
    db = database
    create_tables(admin, db)
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "lake-policy", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=3600, CdcMinFileSize=1_000_000),
    )  # fmt: skip
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "oracle", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "lake-policy", "--migration-type", "full-load-and-cdc",
        "--table-mappings", mappings(db),
    )  # fmt: skip
    start_detached(binlake, "oracle")
    other = sandbox.root_connection()
    try:
        wait_streaming(binlake, "oracle")
        Workload(admin, other, db, seed, kind).run()
        end = master_position(admin)
        compare_when_read(binlake, admin, db, bucket, kind, seed, end)
    finally:
        other.close()
        if task_row(binlake.state_dir, "oracle")["status"] not in ("stopped", "failed"):
            binlake.run_process("stop-replication-task", "--replication-task-arn", "oracle")
        rollback_prepared_xa(admin)


def rollback_prepared_xa(admin) -> None:
    """A prepared XA transaction outlives its session (MariaDB 10.5+): never leave one behind in the sandbox."""
    cur = admin.cursor()
    cur.execute("XA RECOVER")
    for format_id, gtrid_length, _bqual_length, data in cur.fetchall():
        if not (data if isinstance(data, bytes) else data.encode()).startswith(b"w"):
            continue  # not one of this workload's
        gtrid, bqual = data[:gtrid_length], data[gtrid_length:]
        if isinstance(gtrid, str):
            gtrid, bqual = gtrid.encode(), bqual.encode()
        cur.execute(f"XA ROLLBACK X'{gtrid.hex()}', X'{bqual.hex()}', {format_id}")


def compare_when_read(binlake: Binlake, admin, db: str, bucket: Path, kind: str, seed: int, end) -> None:

    def read_to_end() -> bool:
        row = task_row(binlake.state_dir, "oracle")
        assert row["status"] != "failed", f"seed {seed}: {row['last_failure_message']}"
        return bool(row.get("cdc_read_position")) and BinlogPosition.parse(row["cdc_read_position"]) >= end

    wait_for(read_to_end, 120, what=f"CDC read up to {end}")
    stop(binlake, "oracle")  # the stop writes what is pending
    checkpoint = BinlogPosition.parse(task_row(binlake.state_dir, "oracle")["cdc_checkpoint"])
    assert checkpoint >= end, f"seed {seed}: stopped at {checkpoint}, before the end of the workload {end}"

    for table, key in KEYS.items():
        lake = merged(table_dir(bucket, db, table), key)
        source = source_state(admin, db, table, key)
        missing, extra = sorted(set(source) - set(lake)), sorted(set(lake) - set(source))
        stale = sorted(k for k in set(source) & set(lake) if source[k] != lake[k])
        assert (missing[:5], extra[:5], stale[:5]) == ([], [], []), (
            f"seed {seed} ({kind}), {db}.{table}: {len(missing)} missing, {len(extra)} extra, {len(stale)} stale rows"
        )
    # Files follow CdcMaxBatchInterval / CdcMinFileSize (an hour, 1 GB): the stop's flush writes them, not every
    # statement, savepoint or XA step.
    files = {table: len(cdc_files(table_dir(bucket, db, table))) for table in KEYS}
    assert max(files.values()) <= 1, f"seed {seed} ({kind}): CDC files per table {files}"
