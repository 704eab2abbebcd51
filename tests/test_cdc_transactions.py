"""Transactions as applications write them, through a real CDC task: savepoints, XA, rolled-back work,
checksums that change between binlog files, events binlake cannot read, large transactions, TLS."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from binlake.errors import BinlakeError
from binlake.sandbox import Sandbox, free_port
from binlake.source.flavor import require_mariadb
from tests.conftest import Binlake, mappings
from tests.helpers import create_cdc_task, execute, start_detached, stop, wait_caught_up, wait_streaming
from tests.lake import cdc_files, cdc_rows, merged, source_state, table_dir, target_settings, task_row, wait_for


def test_savepoints_stay_inside_their_transaction(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, sandbox, decoder_path: str
) -> None:
    """ROLLBACK TO SAVEPOINT drops the rows since the savepoint, including when the server logs it (a
    non-transactional table changed after the savepoint); savepoints never cut a file or move the checkpoint."""
    db = database
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "slow", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=3600, CdcMinFileSize=1_000_000),
    )  # fmt: skip
    execute(
        admin,
        f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
        f"CREATE TABLE `{db}`.side (id INT PRIMARY KEY, v INT) ENGINE=Aria TRANSACTIONAL=0",
    )
    create_cdc_task(binlake, "sp", db, migration="cdc", target="slow")
    start_detached(binlake, "sp")
    wait_streaming(binlake, "sp")
    conn = sandbox.root_connection()
    cur = conn.cursor()
    for n in range(40):
        base = n * 10
        cur.execute("BEGIN")
        cur.execute(f"INSERT INTO `{db}`.t VALUES ({base + 1}, 1)")
        cur.execute("SAVEPOINT a")
        cur.execute(f"INSERT INTO `{db}`.t VALUES ({base + 2}, 2)")
        cur.execute("SAVEPOINT `b b`")
        cur.execute(f"UPDATE `{db}`.t SET v = 99 WHERE id = {base + 1}")
        if n % 2:
            # A non-transactional change after the savepoint makes the server log ROLLBACK TO.
            cur.execute(f"INSERT INTO `{db}`.side VALUES ({n}, 1)")
        cur.execute("ROLLBACK TO SAVEPOINT `b b`")
        cur.execute(f"INSERT INTO `{db}`.t VALUES ({base + 3}, 3)")
        if n % 3 == 0:
            cur.execute(f"UPDATE `{db}`.t SET v = 7 WHERE id = {base + 2}")
            cur.execute(f"INSERT INTO `{db}`.side VALUES ({1000 + n}, 1)")
            cur.execute("ROLLBACK TO a")  # drops base+2, base+3 and the update
        cur.execute("RELEASE SAVEPOINT a")
        cur.execute("COMMIT")
    conn.close()
    wait_for(lambda: task_row(binlake.state_dir, "sp")["cdc_read_position"], what="reading")
    stop(binlake, "sp")  # the stop flushes what the batch holds
    directory = table_dir(bucket, db, "t")
    assert merged(directory, ("id",)) == source_state(admin, db, "t", ("id",))
    assert 99 not in {r["v"] for r in cdc_rows(directory)}  # rolled-back updates never reach the lake
    # One batch: the savepoints cut no file (before the fix: a flush at every SAVEPOINT, 80+ files).
    assert len(cdc_files(directory)) == 1
    assert merged(table_dir(bucket, db, "side"), ("id",)) == source_state(admin, db, "side", ("id",))


def test_xa_transactions_reach_the_lake_only_when_committed(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path, sandbox, decoder_path: str
) -> None:
    """XA COMMIT writes the prepared rows, XA ROLLBACK never does; a transaction prepared before a stop and
    committed while the task is stopped is written once after resume-processing."""
    db = database
    execute(admin, f"CREATE TABLE `{db}`.x (id INT PRIMARY KEY, v VARCHAR(20))")
    create_cdc_task(binlake, "xa", db, migration="cdc")
    start_detached(binlake, "xa")
    wait_streaming(binlake, "xa")

    first, second = sandbox.root_connection(), sandbox.root_connection()
    a, b = first.cursor(), second.cursor()
    a.execute("XA START 'keep'")
    a.execute(f"INSERT INTO `{db}`.x VALUES (1, 'committed'), (2, 'committed')")
    a.execute("XA END 'keep'")
    a.execute("XA PREPARE 'keep'")
    b.execute("XA START 'drop', 'branch', 7")
    b.execute(f"INSERT INTO `{db}`.x VALUES (3, 'rolled back')")
    b.execute("XA END 'drop', 'branch', 7")
    b.execute("XA PREPARE 'drop', 'branch', 7")
    execute(admin, f"INSERT INTO `{db}`.x VALUES (4, 'plain')")
    b.execute("XA ROLLBACK 'drop', 'branch', 7")
    a.execute("XA COMMIT 'keep'")
    b.execute("XA START 'one'")
    b.execute(f"INSERT INTO `{db}`.x VALUES (5, 'one phase')")
    b.execute("XA END 'one'")
    b.execute("XA COMMIT 'one' ONE PHASE")
    a.execute("XA START 'later'")
    a.execute(f"UPDATE `{db}`.x SET v = 'across a stop' WHERE id = 4")
    a.execute("XA END 'later'")
    a.execute("XA PREPARE 'later'")
    execute(admin, f"INSERT INTO `{db}`.x VALUES (6, 'after prepare')")
    wait_caught_up(binlake, "xa", admin)
    # Prepared and still open at the checkpoint: the task keeps where it starts, to read it again on resume.
    assert list(json.loads(task_row(binlake.state_dir, "xa")["cdc_open_transactions"])) == ["x'6c61746572',x'',1"]
    stop(binlake, "xa")
    a.execute("XA COMMIT 'later'")  # committed while the task is stopped
    first.close()
    second.close()
    start_detached(binlake, "xa", "resume-processing")
    wait_streaming(binlake, "xa")
    wait_caught_up(binlake, "xa", admin)
    stop(binlake, "xa")

    directory = table_dir(bucket, db, "x")
    assert merged(directory, ("id",)) == source_state(admin, db, "x", ("id",))
    rows = cdc_rows(directory)
    assert "rolled back" not in {r["v"] for r in rows}
    counts = Counter((r["Op"], r["id"], r["v"]) for r in rows)
    assert counts[("U", 4, "across a stop")] == 1
    assert all(n == 1 for n in counts.values()), counts
    assert not task_row(binlake.state_dir, "xa")["cdc_open_transactions"]


def test_xa_prepared_before_the_full_load_and_committed_after(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path, sandbox
) -> None:
    """The full load's snapshot does not see a prepared transaction's rows, and CDC starts after its XA
    PREPARE: at XA COMMIT binlake finds the prepared group earlier in the binlog and writes it once."""
    db = database
    execute(
        admin, f"CREATE TABLE `{db}`.p (id INT PRIMARY KEY, v VARCHAR(20))", f"INSERT INTO `{db}`.p VALUES (1, 'a')"
    )
    conn = sandbox.root_connection()
    try:
        cur = conn.cursor()
        cur.execute("XA START 'early'")
        cur.execute(f"INSERT INTO `{db}`.p VALUES (2, 'prepared early')")
        cur.execute("XA END 'early'")
        cur.execute("XA PREPARE 'early'")
        execute(admin, "FLUSH BINARY LOGS", f"INSERT INTO `{db}`.p VALUES (3, 'b')")
        create_cdc_task(binlake, "early", db)
        start_detached(binlake, "early")
        wait_streaming(binlake, "early")
        cur.execute("XA COMMIT 'early'")
    finally:
        conn.close()
    wait_caught_up(binlake, "early", admin)
    stop(binlake, "early")
    directory = table_dir(bucket, db, "p")
    assert merged(directory, ("id",)) == source_state(admin, db, "p", ("id",))
    assert [(r["Op"], r["id"]) for r in cdc_rows(directory)] == [("I", 2)]


@pytest.fixture
def restore_checksum(admin):
    cur = admin.cursor()
    cur.execute("SELECT @@global.binlog_checksum")
    before = cur.fetchone()[0]
    yield
    cur.execute(f"SET GLOBAL binlog_checksum = '{before}'")


def test_binlog_checksum_changing_between_files(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path, restore_checksum
) -> None:
    """Each binlog file's format description says whether its events carry a CRC32: switched off and on
    again while the task runs, every event still decodes whole and every CRC is verified."""
    db = database
    execute(admin, f"CREATE TABLE `{db}`.c (id INT PRIMARY KEY, body VARCHAR(100))")
    create_cdc_task(binlake, "crc", db, migration="cdc")
    start_detached(binlake, "crc")
    wait_streaming(binlake, "crc")
    execute(admin, f"INSERT INTO `{db}`.c VALUES (1, 'crc32 file')", "SET GLOBAL binlog_checksum = 'NONE'")
    execute(admin, f"INSERT INTO `{db}`.c VALUES (2, 'no checksum file')", f"UPDATE `{db}`.c SET body = 'x' WHERE id=1")
    execute(admin, "SET GLOBAL binlog_checksum = 'CRC32'", f"INSERT INTO `{db}`.c VALUES (3, 'crc32 again')")
    wait_caught_up(binlake, "crc", admin)
    stop(binlake, "crc")
    assert merged(table_dir(bucket, db, "c"), ("id",)) == source_state(admin, db, "c", ("id",))
    assert not task_row(binlake.state_dir, "crc")["last_failure_message"]


@pytest.fixture
def restore_compression(admin):
    yield
    admin.cursor().execute("SET GLOBAL log_bin_compress = OFF")


def test_an_event_binlake_cannot_read_stops_the_task(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path, restore_compression
) -> None:
    """log_bin_compress switched on after the start checks: the compressed event is never skipped; the task
    fails with its position, the cause and the fix, and its checkpoint stays before the event."""
    db = database
    execute(admin, f"CREATE TABLE `{db}`.z (id INT PRIMARY KEY, body TEXT)")
    create_cdc_task(binlake, "zip", db, migration="cdc")
    start_detached(binlake, "zip")
    wait_streaming(binlake, "zip")
    execute(admin, f"INSERT INTO `{db}`.z VALUES (1, 'plain')")
    wait_caught_up(binlake, "zip", admin)
    execute(admin, "SET GLOBAL log_bin_compress = ON", f"INSERT INTO `{db}`.z VALUES (2, REPEAT('compressed ', 200))")
    wait_for(lambda: task_row(binlake.state_dir, "zip")["status"] == "failed", what="task failed")
    message = task_row(binlake.state_dir, "zip")["last_failure_message"]
    assert "compressed event" in message and "log_bin_compress=OFF" in message, message
    assert [r["id"] for r in cdc_rows(table_dir(bucket, db, "z"))] == [1]


def test_statement_based_changes_stop_the_task(
    binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path, sandbox
) -> None:
    """A session that logs its changes as statements leaves no rows in the binlog: binlake stops, naming it."""
    db = database
    execute(admin, f"CREATE TABLE `{db}`.s (id INT PRIMARY KEY)")
    create_cdc_task(binlake, "sbr", db, migration="cdc")
    start_detached(binlake, "sbr")
    wait_streaming(binlake, "sbr")
    conn = sandbox.root_connection()
    conn.cursor().execute("SET SESSION binlog_format = 'STATEMENT'")
    conn.cursor().execute(f"INSERT INTO `{db}`.s VALUES (1)")
    conn.close()
    wait_for(lambda: task_row(binlake.state_dir, "sbr")["status"] == "failed", what="task failed")
    message = task_row(binlake.state_dir, "sbr")["last_failure_message"]
    assert "statement-based change" in message and "binlog_format=ROW" in message, message


def test_a_transaction_larger_than_the_memory_budget_is_spilled_and_exact(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, decoder_path: str
) -> None:
    """One UPDATE of 60,000 rows with MemoryLimitTotal 1 MB: spilled to disk, written across several files
    under one checkpoint, equal to the source, and verify's cut at a position keeps the whole transaction."""
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.big (id INT PRIMARY KEY, n INT, pad VARCHAR(40))",
        f"INSERT INTO `{db}`.big SELECT seq, 0, REPEAT('p', 40) FROM `{db}`.seq_1_to_60000",
    )
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "batchy", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=0.2),
    )  # fmt: skip
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "big", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "batchy", "--migration-type", "full-load-and-cdc",
        "--table-mappings", mappings(db), "--replication-task-settings",
        json.dumps({"ChangeProcessingTuning": {"MemoryLimitTotal": 1}}),
    )  # fmt: skip
    start_detached(binlake, "big")
    wait_streaming(binlake, "big")
    execute(admin, f"UPDATE `{db}`.big SET n = n + 1, pad = REPEAT('q', 40)")
    execute(admin, f"INSERT INTO `{db}`.big VALUES (60001, 1, 'after')")
    wait_caught_up(binlake, "big", admin, timeout=120)
    stop(binlake, "big")
    directory = table_dir(bucket, db, "big")
    assert merged(directory, ("id",)) == source_state(admin, db, "big", ("id",))
    updates = Counter(r["Op"] for r in cdc_rows(directory))
    assert updates["U"] == 60_000
    assert len(cdc_files(directory)) >= 3  # the transaction was written in parts
    log = (binlake.state_dir / "tasks" / "big" / "task.log").read_text()
    assert "spilled to disk" in log
    assert not list((binlake.state_dir / "tasks" / "big" / "spill").glob("*.spill"))
    result = binlake("verify", "--replication-task-arn", "big", "--output", "json")
    compare = next(c for c in result.json()["Checks"] if c["Name"].startswith("Row counts match"))
    assert compare["Passed"], compare
    assert compare["Details"][f"{db}.big"]["DifferingKeys"] == 0
    assert compare["Details"][f"{db}.big"]["TargetRows"] == 60_001


def test_a_mysql_server_is_refused_with_the_reason() -> None:
    with pytest.raises(BinlakeError) as caught:
        require_mariadb("8.0.36", "db.example", 3306)
    assert "runs MySQL 8.0.36, not MariaDB" in str(caught.value)
    require_mariadb("5.5.5-10.11.6-MariaDB-0+deb12u1-log", "db.example", 3306)


@pytest.fixture(scope="module")
def tls_sandbox(tmp_path_factory: pytest.TempPathFactory):
    """A MariaDB that offers TLS, with a replication user that may only connect over TLS."""
    base = tmp_path_factory.mktemp("tls")
    key, cert = base / "server-key.pem", base / "server-cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    box = Sandbox(base / "mariadb", port=free_port(), extra_settings={"ssl_cert": str(cert), "ssl_key": str(key)})
    box.start()
    conn = box.root_connection()
    cur = conn.cursor()
    cur.execute("CREATE USER tls_only@'%' IDENTIFIED BY 'tls-secret' REQUIRE SSL")
    cur.execute("GRANT SELECT, RELOAD, REPLICATION SLAVE, REPLICATION CLIENT, BINLOG MONITOR ON *.* TO tls_only@'%'")
    cur.execute("CREATE DATABASE secure")
    cur.execute("CREATE TABLE secure.t (id INT PRIMARY KEY, v VARCHAR(20))")
    conn.close()
    (base / "password").write_text("tls-secret")
    yield box, base / "password"
    box.destroy()


def test_the_binlog_stream_uses_tls_when_the_endpoint_asks(binlake: Binlake, bucket: Path, tls_sandbox) -> None:
    """--ssl-mode require without a CA: the full load and the binlog stream both use TLS (the user may not
    connect without it)."""
    box, password = tls_sandbox
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "tls-src", "--endpoint-type", "source", "--engine-name",
        "mariadb", "--server-name", "127.0.0.1", "--port", str(box.port), "--username", "tls_only",
        "--password-file", str(password), "--ssl-mode", "require",
    )  # fmt: skip
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "tls-lake", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=0.2),
    )  # fmt: skip
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "tls", "--source-endpoint-arn", "tls-src",
        "--target-endpoint-arn", "tls-lake", "--migration-type", "full-load-and-cdc",
        "--table-mappings", mappings("secure"),
    )  # fmt: skip
    admin = box.root_connection()
    execute(admin, "INSERT INTO secure.t VALUES (1, 'loaded')")
    start_detached(binlake, "tls")
    wait_streaming(binlake, "tls")
    execute(admin, "INSERT INTO secure.t VALUES (2, 'streamed')", "UPDATE secure.t SET v = 'changed' WHERE id = 1")
    wait_caught_up(binlake, "tls", admin)
    stop(binlake, "tls")
    assert merged(table_dir(bucket, "secure", "t"), ("id",)) == source_state(admin, "secure", "t", ("id",))
    assert not task_row(binlake.state_dir, "tls")["last_failure_message"]
    admin.close()
