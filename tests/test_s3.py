"""The S3 target against a real S3-compatible server on loopback (moto's server, one process per module).

binlake talks to it through pyarrow's S3 filesystem with EndpointUrl; the tests look at the bucket with
boto3, as any other S3 client would.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from binlake.config.endpoint import S3Settings
from binlake.sandbox import SandboxInfo, free_port
from binlake.target.store import Bucket
from binlake.target.writer import RollingFileWriter
from tests.conftest import Binlake, create_task, mappings, run_task
from tests.helpers import execute, stop, wait_caught_up, wait_streaming
from tests.s3server import (
    COLUMNS,
    MotoServer,
    create_readings,
    create_s3_target,
    create_source,
    data_keys,
    object_keys,
    source_rows,
)


def read_object(s3, bucket: str, key: str) -> pa.Table:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


def lake_rows(s3, bucket: str, keys: list[str]) -> list[tuple]:
    rows = [tuple(r[c] for c in COLUMNS) for key in keys for r in read_object(s3, bucket, key).to_pylist()]
    return sorted(rows, key=lambda r: r[0])


def load_files(n: int) -> list[str]:
    return [f"LOAD{i:08d}.parquet" for i in range(1, n + 1)]


def split_settings(commit_rate: int) -> str:
    return json.dumps({"FullLoadSettings": {"CommitRate": commit_rate}})


def describe_task(binlake: Binlake, name: str) -> dict:
    tasks = binlake.ok(
        "describe-replication-tasks", "--filters", f"Name=replication-task-arn,Values={name}", "--output", "json"
    ).json()["ReplicationTasks"]
    assert len(tasks) == 1
    return tasks[0]


def test_full_load_to_s3(binlake: Binlake, s3_endpoints: str, admin, database: str, s3, s3_bucket: str) -> None:
    create_readings(admin, database, 300)
    create_task(binlake, "to-s3", mappings(database, "readings"), target=s3_endpoints)

    result = run_task(binlake, "to-s3")
    assert result.exit_code == 0, result.stderr

    key = f"hub/{database}/readings/LOAD00000001.parquet"
    assert object_keys(s3, s3_bucket) == [key]  # nothing else: no temp files, no write-test probe
    table = read_object(s3, s3_bucket, key)
    assert table.schema.names == list(COLUMNS)
    assert table.schema.field("amount").type == pa.decimal128(12, 4)
    assert table.schema.field("taken").type == pa.timestamp("us")
    expected = source_rows(admin, database)
    assert len(expected) == 300
    assert any(None in row for row in expected)
    assert any(row[3] is not None and row[3].microsecond for row in expected)
    assert lake_rows(s3, s3_bucket, [key]) == expected

    stats = binlake.ok("describe-table-statistics", "--replication-task-arn", "to-s3", "--output", "json").json()
    [entry] = stats["TableStatistics"]
    assert (entry["SchemaName"], entry["TableName"]) == (database, "readings")
    assert entry["FullLoadRows"] == 300
    assert entry["TableState"] == "Table completed"
    task = describe_task(binlake, "to-s3")
    assert (task["Status"], task["StopReason"]) == ("stopped", "FULL_LOAD_ONLY_FINISHED")


def test_max_file_size_splits_s3_load_files(
    binlake: Binlake, sandbox_info: SandboxInfo, moto: MotoServer, s3_env, admin, database: str, s3, s3_bucket: str
) -> None:
    create_readings(admin, database, 5000)
    create_source(binlake, sandbox_info)
    target = create_s3_target(binlake, moto, s3_bucket, MaxFileSize=1)  # a bare name with EndpointUrl is S3 too
    create_task(binlake, "split", mappings(database, "readings"), "--replication-task-settings", split_settings(500),
                target=target)  # fmt: skip

    assert run_task(binlake, "split").exit_code == 0

    prefix = f"hub/{database}/readings/"
    keys = object_keys(s3, s3_bucket)
    assert len(keys) > 1
    assert keys == [prefix + name for name in load_files(len(keys))]
    rows_per_file = [read_object(s3, s3_bucket, key).num_rows for key in keys]
    assert sum(rows_per_file) == 5000
    for key in keys[:-1]:  # a file is cut once it reaches MaxFileSize, at a row-group boundary
        assert s3.head_object(Bucket=s3_bucket, Key=key)["ContentLength"] >= 1024
    assert lake_rows(s3, s3_bucket, keys) == source_rows(admin, database)
    stats = binlake.ok("describe-table-statistics", "--replication-task-arn", "split", "--output", "json").json()
    assert stats["TableStatistics"][0]["FullLoadRows"] == 5000


@pytest.mark.parametrize("key_prefix", ["", "/nested/prefix"])
def test_test_connection_to_an_existing_bucket(
    binlake: Binlake, moto: MotoServer, s3_env, s3, s3_bucket: str, key_prefix: str
) -> None:
    """A key prefix in BucketName ("s3://name/prefix") needs only the bucket to exist."""
    create_s3_target(binlake, moto, f"s3://{s3_bucket}{key_prefix}")

    result = binlake("test-connection", "--endpoint-arn", "s3lake", "--output", "json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json()["Connection"]["Status"] == "successful"
    assert "LastFailureMessage" not in result.json()["Connection"]
    assert data_keys(object_keys(s3, s3_bucket)) == []  # the write probe is gone
    assert "successful" in binlake("test-connection", "--endpoint-arn", "s3lake").stdout


@pytest.mark.parametrize("form", ["s3-url", "bare-name"])
def test_test_connection_to_a_missing_bucket(binlake: Binlake, moto: MotoServer, s3_env, form: str) -> None:
    missing = f"nobucket-{uuid.uuid4().hex[:10]}"
    create_s3_target(binlake, moto, f"s3://{missing}" if form == "s3-url" else missing)

    result = binlake("test-connection", "--endpoint-arn", "s3lake", "--output", "json")

    assert result.exit_code == 1
    connection = result.json()["Connection"]
    assert connection["Status"] == "failed"
    message = connection["LastFailureMessage"]
    assert "\n" not in message
    assert message.startswith(f"bucket s3://{missing} does not exist (fix: ")
    table = binlake("test-connection", "--endpoint-arn", "s3lake")
    assert table.exit_code == 1
    assert "failed" in table.stdout
    assert missing in table.stdout
    assert "Traceback" not in table.stdout + table.stderr


def test_test_connection_with_a_closed_endpoint(binlake: Binlake, s3_env) -> None:
    settings = {"BucketName": "s3://lake", "EndpointUrl": f"http://127.0.0.1:{free_port()}"}
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "nowhere", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", json.dumps(settings),
    )  # fmt: skip

    result = binlake("test-connection", "--endpoint-arn", "nowhere", "--output", "json")

    assert result.exit_code == 1
    message = result.json()["Connection"]["LastFailureMessage"]
    assert message.startswith("cannot reach s3://lake (")
    assert message.endswith("(fix: check EndpointUrl, Region and the network)")


def test_start_against_a_missing_bucket_fails_the_task(
    binlake: Binlake, sandbox_info: SandboxInfo, moto: MotoServer, s3_env, admin, database: str, s3
) -> None:
    create_readings(admin, database, 10)
    create_source(binlake, sandbox_info)
    missing = f"nobucket-{uuid.uuid4().hex[:10]}"
    target = create_s3_target(binlake, moto, f"s3://{missing}")
    create_task(binlake, "no-bucket", mappings(database, "readings"), target=target)

    result = run_task(binlake, "no-bucket")

    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert f"bucket s3://{missing} does not exist (fix: " in lines[0]
    task = describe_task(binlake, "no-bucket")
    assert task["Status"] == "failed"
    assert f"s3://{missing}" in task["LastFailureMessage"]
    assert "does not exist" in task["LastFailureMessage"]
    assert missing not in {b["Name"] for b in s3.list_buckets()["Buckets"]}  # binlake never creates buckets


def test_reload_target_replaces_the_objects(
    binlake: Binlake, sandbox_info: SandboxInfo, moto: MotoServer, s3_env, admin, database: str, s3, s3_bucket: str
) -> None:
    create_readings(admin, database, 5000)
    create_source(binlake, sandbox_info)
    target = create_s3_target(binlake, moto, f"s3://{s3_bucket}", MaxFileSize=1)
    create_task(binlake, "reload", mappings(database, "readings"), "--replication-task-settings", split_settings(500),
                target=target)  # fmt: skip
    assert run_task(binlake, "reload").exit_code == 0
    prefix = f"hub/{database}/readings/"
    before = object_keys(s3, s3_bucket)
    assert len(before) > 3

    admin.cursor().execute(f"DELETE FROM `{database}`.readings WHERE id > 1200 OR id % 3 = 0")
    result = run_task(binlake, "reload", "reload-target")
    assert result.exit_code == 0, result.stderr

    keys = object_keys(s3, s3_bucket)
    after = data_keys(keys)
    assert 1 <= len(after) < len(before)
    assert after == [prefix + name for name in load_files(len(after))]
    # The only other object allowed is pyarrow's zero-byte marker for the emptied table folder.
    for marker in sorted(set(keys) - set(after)):
        assert marker == prefix
        assert s3.head_object(Bucket=s3_bucket, Key=marker)["ContentLength"] == 0
    expected = source_rows(admin, database)
    assert len(expected) == 800
    assert lake_rows(s3, s3_bucket, after) == expected
    stats = binlake.ok("describe-table-statistics", "--replication-task-arn", "reload", "--output", "json").json()
    assert stats["TableStatistics"][0]["FullLoadRows"] == 800


def test_an_aborted_file_never_appears(moto: MotoServer, s3_env, s3, s3_bucket: str) -> None:
    """A load that stops mid-file (stop request, source error) leaves no partial LOAD object behind."""
    settings = S3Settings.from_dict({"BucketName": f"s3://{s3_bucket}", "EndpointUrl": moto.url, "MaxFileSize": 64})
    bucket = Bucket.open(settings)
    schema = pa.schema([pa.field("id", pa.int64())])
    writer = RollingFileWriter(bucket, "hub/db/t", settings, schema, lambda n: f"LOAD{n:08d}.parquet")
    # 80 KB in memory (a row group is flushed), a few hundred bytes compressed (the file stays open).
    writer.write(pa.record_batch([pa.array([7] * 10_000, pa.int64())], schema=schema))
    assert writer.published == []

    writer.abort()

    assert data_keys(object_keys(s3, s3_bucket)) == []


@pytest.fixture(scope="module")
def moto_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoServer, str, str]]:
    """A second moto server that checks signatures against its IAM users; yields it and a valid key pair."""
    server = MotoServer(tmp_path_factory.mktemp("moto-auth") / "moto_server.log")
    server.start()
    access_key, secret_key = server.require_auth()
    server.client(access_key=access_key, secret_key=secret_key).create_bucket(Bucket="guarded")
    yield server, access_key, secret_key
    server.stop()


@pytest.mark.parametrize("wrong", ["unknown-key", "wrong-secret"])
def test_test_connection_with_wrong_credentials(
    binlake: Binlake, moto_auth: tuple[MotoServer, str, str], s3_env, monkeypatch: pytest.MonkeyPatch, wrong: str
) -> None:
    server, access_key, secret_key = moto_auth
    create_s3_target(binlake, server, "s3://guarded")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    good = binlake("test-connection", "--endpoint-arn", "s3lake", "--output", "json")
    assert good.exit_code == 0, good.stdout + good.stderr

    if wrong == "unknown-key":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
    else:
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key[::-1])
    result = binlake("test-connection", "--endpoint-arn", "s3lake", "--output", "json")

    assert result.exit_code == 1
    message = result.json()["Connection"]["LastFailureMessage"]
    assert "\n" not in message
    assert message.startswith("access to s3://guarded denied (")
    assert message.endswith("(fix: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and the bucket policy)")


def test_catalog_query_and_verify_over_s3(
    binlake: Binlake, s3_endpoints: str, moto: MotoServer, admin, database: str, s3, s3_bucket: str
) -> None:
    """The guide's Steps 6-7 over an S3 target: DuckDB reads the bucket through pyarrow, no httpfs download."""
    create_readings(admin, database, 120)
    fast = create_s3_target(binlake, moto, f"s3://{s3_bucket}", name="s3fast", CdcMaxBatchInterval=0.2)
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "s3cdc", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", fast, "--migration-type", "full-load-and-cdc",
        "--table-mappings", mappings(database),
    )  # fmt: skip
    started = binlake.run_process("start-replication-task", "--replication-task-arn", "s3cdc", "--detach")
    assert started.exit_code == 0, started.stderr
    wait_streaming(binlake, "s3cdc")
    execute(admin, f"UPDATE `{database}`.readings SET label = 'changed' WHERE id <= 3",
            f"DELETE FROM `{database}`.readings WHERE id = 10")  # fmt: skip
    wait_caught_up(binlake, "s3cdc", admin)
    stop(binlake, "s3cdc")
    assert any(key.split("/")[-1][0].isdigit() for key in object_keys(s3, s3_bucket, "hub/"))  # a CDC object

    binlake.ok("crawl", "--replication-task-arn", "s3cdc")
    catalog = database.split("_")[0] + "_db"
    counts = binlake.ok(
        "query", f"SELECT count(*) AS n, count(*) FILTER (label = 'changed') AS changed FROM {catalog}.readings",
        "--output", "json",
    ).json()  # fmt: skip
    assert counts == [{"n": 119, "changed": 3}]
    report = json.loads(
        binlake.run_process("verify", "--replication-task-arn", "s3cdc", "--no-probe", "--output", "json").stdout
    )
    exact = report["Checks"][3]
    assert exact["Passed"] is True, exact
    assert exact["Details"][f"{database}.readings"]["SourceRows"] == 119
    assert [c["Passed"] for c in report["Checks"][5:]] == [True, True]
