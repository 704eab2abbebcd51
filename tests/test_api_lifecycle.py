"""boto3 drives a full-load-and-cdc task through its whole life against the sandbox, with DMS's own waiters:
create endpoints and a task, start, change the source, read the statistics, stop, delete. DMS's error codes
where a step is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from binlake.sandbox import SandboxInfo
from tests.awsapi import Api, endpoint_arn, task_arn
from tests.conftest import Binlake, mappings
from tests.helpers import execute
from tests.lake import merged, source_state, table_dir, wait_for

INSTANCE = "arn:aws:dms:us-east-1:000000000000:rep:local"
FAST = {"Delay": 1, "MaxAttempts": 120}  # DMS's waiters poll every 15 s; a local task moves faster


def error_code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def test_boto3_drives_a_full_load_and_cdc_task_through_its_life(
    api: Api, binlake: Binlake, sandbox_info: SandboxInfo, admin, database: str, bucket: Path
) -> None:
    execute(
        admin,
        f"CREATE TABLE `{database}`.orders (id INT PRIMARY KEY, amount DECIMAL(10,2), note VARCHAR(20))",
        f"INSERT INTO `{database}`.orders SELECT seq, seq * 1.25, CONCAT('n', seq) FROM `{database}`.seq_1_to_500",
        f"CREATE TABLE `{database}`.notes (id INT PRIMARY KEY)",
        f"INSERT INTO `{database}`.notes SELECT seq FROM `{database}`.seq_1_to_50",
    )
    dms = api.client("dms")
    source = {
        "EndpointIdentifier": "mariadb-source",
        "EndpointType": "source",
        "EngineName": "mariadb",
        "ServerName": sandbox_info.host,
        "Port": sandbox_info.port,
        "Username": sandbox_info.user,
    }
    # binlake keeps no passwords: DMS's Password is refused, a secret's reference (env: or file:) is taken.
    refused = error_code(lambda: dms.create_endpoint(**source, Password="secret"))
    assert refused == "InvalidParameterValueException"
    created = dms.create_endpoint(
        **source, MySQLSettings={"SecretsManagerSecretId": f"file:{sandbox_info.password_file}"}
    )["Endpoint"]
    assert created["EndpointArn"] == endpoint_arn("mariadb-source") and created["Status"] == "active"
    assert (
        error_code(lambda: dms.create_endpoint(**source, MySQLSettings={"SecretsManagerSecretId": "env:X"}))
        == "ResourceAlreadyExistsFault"
    )
    dms.create_endpoint(
        EndpointIdentifier="s3-raw-bucket", EndpointType="target", EngineName="s3",
        S3Settings={"BucketName": str(bucket), "BucketFolder": "hub", "DataFormat": "parquet",
                    "CdcMaxBatchInterval": 1},
    )  # fmt: skip
    tested = dms.test_connection(ReplicationInstanceArn=INSTANCE, EndpointArn=endpoint_arn("mariadb-source"))
    assert tested["Connection"]["Status"] == "successful"
    dms.get_waiter("test_connection_succeeds").wait(
        Filters=[{"Name": "endpoint-arn", "Values": [endpoint_arn("mariadb-source")]}], WaiterConfig=FAST
    )

    arn = task_arn("orders-task")
    by_arn = [{"Name": "replication-task-arn", "Values": [arn]}]
    task = dms.create_replication_task(
        ReplicationTaskIdentifier="orders-task",
        SourceEndpointArn=endpoint_arn("mariadb-source"),
        TargetEndpointArn=endpoint_arn("s3-raw-bucket"),
        ReplicationInstanceArn=INSTANCE,
        MigrationType="full-load-and-cdc",
        TableMappings=mappings(database),
        ReplicationTaskSettings=json.dumps({"FullLoadSettings": {"TargetTablePrepMode": "DROP_AND_CREATE"}}),
    )["ReplicationTask"]
    assert task["ReplicationTaskArn"] == arn
    dms.get_waiter("replication_task_ready").wait(Filters=by_arn, WaiterConfig=FAST)

    for bad in ({"CdcStartPosition": "not-a-position"}, {"StartReplicationTaskType": "start"}):
        start = {"ReplicationTaskArn": arn, "StartReplicationTaskType": "start-replication", **bad}
        assert error_code(lambda start=start: dms.start_replication_task(**start)) == "InvalidParameterValueException"
    started = dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    assert started["ReplicationTask"]["Status"] in ("starting", "running")
    dms.get_waiter("replication_task_running").wait(Filters=by_arn, WaiterConfig=FAST)
    # What DMS refuses while a task runs.
    again = lambda: dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")  # noqa: E731
    assert error_code(again) == "InvalidResourceStateFault"
    assert error_code(lambda: dms.delete_replication_task(ReplicationTaskArn=arn)) == "InvalidResourceStateFault"
    in_use = lambda: dms.delete_endpoint(EndpointArn=endpoint_arn("s3-raw-bucket"))  # noqa: E731
    assert error_code(in_use) == "InvalidResourceStateFault"

    def statistics(table: str = "orders") -> dict:
        rows = dms.describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"]
        return next(row for row in rows if row["TableName"] == table)

    wait_for(
        lambda: statistics("notes")["TableState"] == statistics()["TableState"] == "Table completed", 120, "loaded"
    )
    assert statistics()["FullLoadRows"] == 500
    execute(
        admin,
        f"INSERT INTO `{database}`.orders SELECT seq, seq, 'cdc' FROM `{database}`.seq_501_to_510",
        f"UPDATE `{database}`.orders SET note = 'updated' WHERE id <= 5",
        f"DELETE FROM `{database}`.orders WHERE id IN (100, 200)",
    )
    wait_for(lambda: [statistics()[k] for k in ("Inserts", "Updates", "Deletes")] == [10, 5, 2], 120, "CDC counted")
    orders = table_dir(bucket, database, "orders")
    wait_for(lambda: merged(orders, ("id",)) == source_state(admin, database, "orders", ("id",)), 60, "lake = source")

    # ReloadTables: the named table is loaded again from a fresh snapshot, the other keeps its load and counts.
    notes_before = statistics("notes")
    reloaded = dms.reload_tables(
        ReplicationTaskArn=arn, TablesToReload=[{"SchemaName": database, "TableName": "orders"}]
    )
    assert reloaded["ReplicationTaskArn"] == arn
    dms.get_waiter("replication_task_running").wait(Filters=by_arn, WaiterConfig=FAST)
    wait_for(lambda: statistics()["TableState"] == "Table completed", 120, "orders reloaded")
    assert (statistics()["FullLoadRows"], statistics()["Inserts"]) == (508, 0)
    assert {k: statistics("notes")[k] for k in ("FullLoadRows", "Inserts", "FullLoadEndTime")} == {
        k: notes_before[k] for k in ("FullLoadRows", "Inserts", "FullLoadEndTime")
    }
    execute(admin, f"INSERT INTO `{database}`.orders VALUES (600, 6, 'after reload')")
    wait_for(lambda: statistics()["Inserts"] == 1, 120, "CDC after the reload")
    wait_for(lambda: merged(orders, ("id",)) == source_state(admin, database, "orders", ("id",)), 60, "lake = source")
    bad = [{"SchemaName": database, "TableName": "nope"}]
    assert error_code(lambda: dms.reload_tables(ReplicationTaskArn=arn, TablesToReload=bad)) == (
        "InvalidParameterValueException"
    )

    stopped = dms.stop_replication_task(ReplicationTaskArn=arn)
    assert stopped["ReplicationTask"]["Status"] in ("stopping", "stopped")
    dms.get_waiter("replication_task_stopped").wait(Filters=by_arn, WaiterConfig=FAST)
    (described,) = dms.describe_replication_tasks(Filters=by_arn)["ReplicationTasks"]
    assert described["StopReason"] == "STOPPED_BY_USER"
    assert described["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100
    assert described["ReplicationTaskStats"]["StopDate"] >= described["ReplicationTaskStats"]["StartDate"]

    # resume-processing continues from the checkpoint: no reload, the change made while stopped arrives.
    execute(admin, f"INSERT INTO `{database}`.orders VALUES (999, 9.99, 'while stopped')")
    dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
    dms.get_waiter("replication_task_running").wait(Filters=by_arn, WaiterConfig=FAST)
    wait_for(lambda: statistics()["Inserts"] == 2, 120, "the insert made while stopped")
    assert statistics()["FullLoadRows"] == 508
    wait_for(lambda: merged(orders, ("id",)) == source_state(admin, database, "orders", ("id",)), 60, "lake = source")
    dms.stop_replication_task(ReplicationTaskArn=arn)
    dms.get_waiter("replication_task_stopped").wait(Filters=by_arn, WaiterConfig=FAST)

    deleted = dms.delete_replication_task(ReplicationTaskArn=arn)
    assert deleted["ReplicationTask"]["Status"] == "deleting"
    dms.get_waiter("replication_task_deleted").wait(Filters=by_arn, WaiterConfig=FAST)
    for name in ("mariadb-source", "s3-raw-bucket"):
        dms.delete_endpoint(EndpointArn=endpoint_arn(name))
    dms.get_waiter("endpoint_deleted").wait(
        Filters=[{"Name": "endpoint-id", "Values": ["mariadb-source", "s3-raw-bucket"]}], WaiterConfig=FAST
    )
    assert binlake.ok("describe-replication-tasks", "--output", "json").json() == {"ReplicationTasks": []}
    assert binlake.ok("describe-endpoints", "--output", "json").json() == {"Endpoints": []}
    missing = lambda: dms.describe_table_statistics(ReplicationTaskArn=arn)  # noqa: E731
    assert error_code(missing) == "ResourceNotFoundFault"
