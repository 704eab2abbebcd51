"""Transient S3 failures (connection refused, 503 SlowDown) are retried with backoff in the full load and in
CDC: nothing lost, nothing doubled, no partial object visible. binlake reaches moto through tests/faultproxy.py,
which refuses connections or answers 503 on demand."""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest

from binlake.sandbox import SandboxInfo
from binlake.target.naming import CDC_FILE, LOAD_FILE
from tests.conftest import Binlake, mappings
from tests.faultproxy import FaultProxy
from tests.helpers import execute, start_detached, stop, wait_caught_up, wait_streaming
from tests.s3server import MotoServer, create_source, data_keys, object_keys


@pytest.fixture
def proxy(moto: MotoServer) -> Iterator[FaultProxy]:
    server = FaultProxy(moto.port)
    yield server
    server.close()


def create_proxied_target(binlake: Binlake, proxy: FaultProxy, bucket: str, **extra: Any) -> None:
    settings = {"BucketName": f"s3://{bucket}", "BucketFolder": "hub", "EndpointUrl": proxy.url, **extra}
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "flaky", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", json.dumps(settings),
    )  # fmt: skip


def lake_objects(s3, bucket: str, prefix: str) -> dict[str, list[dict]]:
    """Every object under ``prefix`` read back whole: a partial object would fail to parse here."""
    keys = data_keys(object_keys(s3, bucket, prefix))
    names = [k.rpartition("/")[2] for k in keys]
    assert all(LOAD_FILE.match(n) or CDC_FILE.match(n) for n in names), names
    return {k: pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())).to_pylist() for k in keys}


def merged(objects: dict[str, list[dict]]) -> dict[int, dict]:
    state: dict[int, dict] = {}
    ordered = sorted(objects, key=lambda k: (not k.rpartition("/")[2].startswith("LOAD"), k.rpartition("/")[2]))
    for key in ordered:
        for row in objects[key]:
            op = row.pop("Op", "I")
            if op == "D":
                state.pop(row["id"], None)
            else:
                state[row["id"]] = row
    return state


def source(admin, db: str) -> dict[int, dict]:
    cur = admin.cursor()
    cur.execute(f"SELECT id, version FROM `{db}`.t")
    return {i: {"id": i, "version": v} for i, v in cur.fetchall()}


def uploads(method: str, path: str) -> bool:
    return method in ("PUT", "POST") and "/hub/" in path


def test_full_load_retries_s3_errors(
    binlake: Binlake, sandbox_info: SandboxInfo, proxy: FaultProxy, s3_env, s3, s3_bucket: str, admin, database: str
) -> None:
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, version INT, pad VARCHAR(200))",
        f"INSERT INTO `{db}`.t SELECT seq, 0, CONCAT(MD5(seq), MD5(-seq), MD5(seq * 7)) FROM `{db}`.seq_1_to_30000",
    )
    create_source(binlake, sandbox_info)
    create_proxied_target(binlake, proxy, s3_bucket, MaxFileSize=512)
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "flaky-load", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "flaky", "--migration-type", "full-load", "--table-mappings", mappings(db),
        "--replication-task-settings", json.dumps({"FullLoadSettings": {"CommitRate": 2000}}),
    )  # fmt: skip
    # Every upload fails until 8 have failed (more than the S3 client's own 3 attempts), then the 3rd
    # successful upload is followed by 6 more failures: a table fails in its first file and mid-way.
    state = {"failed": 0, "ok": 0}

    def fail(method: str, path: str, number: int) -> bool:
        if not uploads(method, path):
            return False
        if state["failed"] < 8 or (state["ok"] >= 3 and state["failed"] < 14):
            state["failed"] += 1
            return True
        state["ok"] += 1
        return False

    proxy.fail = fail
    result = binlake(
        "start-replication-task", "--replication-task-arn", "flaky-load",
        "--start-replication-task-type", "start-replication", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert proxy.count(503) == 14
    objects = lake_objects(s3, s3_bucket, f"hub/{db}/t/")
    assert len(objects) >= 3
    rows = Counter(row["id"] for rows in objects.values() for row in rows)
    assert sorted(rows) == list(range(1, 30001)) and set(rows.values()) == {1}
    events = binlake.ok("describe-events", "--source-identifier", "flaky-load", "--output", "json").stdout
    assert f"Full load of {db}.t interrupted, retrying" in events


def test_cdc_survives_the_s3_server_stopping_and_failing(
    binlake: Binlake, sandbox_info: SandboxInfo, proxy: FaultProxy, s3_env, s3, s3_bucket: str, admin, database: str
) -> None:
    db = database
    execute(
        admin,
        f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, version INT)",
        f"INSERT INTO `{db}`.t SELECT seq, 0 FROM `{db}`.seq_1_to_100",
    )
    create_source(binlake, sandbox_info)
    create_proxied_target(binlake, proxy, s3_bucket, CdcMaxBatchInterval=0.2)
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "flaky-cdc", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "flaky", "--migration-type", "full-load-and-cdc", "--table-mappings", mappings(db),
        # Retries a second apart (DMS's default waits 5 s, then longer), so they fall inside the faults' windows.
        "--replication-task-settings",
        json.dumps({"ErrorBehavior": {"RecoverableErrorInterval": 1, "RecoverableErrorThrottling": False}}),
    )  # fmt: skip
    start_detached(binlake, "flaky-cdc")
    wait_streaming(binlake, "flaky-cdc")

    halt = threading.Event()

    def write() -> None:
        conn = admin  # one writer; the test thread only waits meanwhile
        cur = conn.cursor()
        next_id = 1000
        while not halt.is_set():
            cur.execute(f"INSERT INTO `{db}`.t VALUES ({next_id}, 0)")
            cur.execute(f"UPDATE `{db}`.t SET version = version + 1 WHERE id = {next_id % 100 + 1}")
            if next_id % 3 == 0:
                cur.execute(f"DELETE FROM `{db}`.t WHERE id = {next_id - 1}")
            next_id += 1
            time.sleep(0.01)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        time.sleep(1)
        proxy.stop_server()  # S3 down: connection refused
        time.sleep(4)
        proxy.start_server()
        proxy.fail = lambda method, path, number: uploads(method, path)  # back, but throttling every upload
        time.sleep(3)
        proxy.fail = lambda method, path, number: False
        time.sleep(1)
    finally:
        halt.set()
        writer.join(10)
    wait_caught_up(binlake, "flaky-cdc", admin, timeout=120)
    stop(binlake, "flaky-cdc")

    assert proxy.count(503) > 0
    events = binlake.ok("describe-events", "--source-identifier", "flaky-cdc", "--output", "json").stdout
    assert "CDC interrupted, resuming" in events
    objects = lake_objects(s3, s3_bucket, f"hub/{db}/t/")
    assert merged({k: [dict(r) for r in v] for k, v in objects.items()}) == source(admin, db)
    changes = Counter(
        (row["Op"], row["id"], row["version"])
        for key, rows in objects.items()
        if CDC_FILE.match(key.rpartition("/")[2])
        for row in rows
    )
    assert [change for change, n in changes.items() if n > 1] == []
