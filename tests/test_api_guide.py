"""The seed guide's Steps 1-5, verbatim with the real AWS CLI (awscli from PyPI), against a running
full-load-and-cdc task: only ``--endpoint-url`` is added, and the ARN; credentials and region come from the
environment as for AWS. Each answer is checked against the source database or binlake's own CLI."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from binlake.monitor.periods import epoch
from tests.awsapi import Api, endpoint_arn, task_arn
from tests.conftest import Binlake, mappings
from tests.helpers import create_cdc_task, execute, samples, wait_caught_up, wait_streaming
from tests.lake import task_row, wait_for

COUNTED = ("SchemaName", "TableName", "Inserts", "Updates", "Deletes", "Ddls", "FullLoadRows", "TableState")
_RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def log_records(path: Path) -> list[str]:
    """The file's records: a line that starts with a time, and the lines that continue it."""
    records: list[str] = []
    for line in path.read_text().splitlines():
        if _RECORD_START.match(line) or not records:
            records.append(line)
        else:
            records[-1] += "\n" + line
    return records


def test_seed_guide_steps_1_to_5_with_the_aws_cli(
    api: Api, binlake: Binlake, cdc_target: str, admin, database: str, bucket: Path, monkeypatch
) -> None:
    monkeypatch.setenv("BINLAKE_METRICS_INTERVAL", "0.3")  # the task process, started by the API, inherits it
    execute(
        admin,
        f"CREATE TABLE `{database}`.customers (id INT PRIMARY KEY, email VARCHAR(64))",
        f"INSERT INTO `{database}`.customers SELECT seq, CONCAT('c', seq, '@example.com') "
        f"FROM `{database}`.seq_1_to_300",
        f"CREATE TABLE `{database}`.products (id INT PRIMARY KEY, name VARCHAR(32))",
        f"INSERT INTO `{database}`.products SELECT seq, CONCAT('p', seq) FROM `{database}`.seq_1_to_120",
    )
    create_cdc_task(binlake, "guide", database)
    arn = task_arn("guide")

    # Step 2: start the task.
    started = api.aws(
        "dms", "start-replication-task", "--replication-task-arn", arn,
        "--start-replication-task-type", "start-replication", "--region", "us-east-1",
    )  # fmt: skip
    assert started.exit_code == 0, started.stderr
    assert started.json()["ReplicationTask"]["ReplicationTaskArn"] == arn
    assert started.json()["ReplicationTask"]["Status"] in ("starting", "running")
    wait_streaming(binlake, "guide")
    # Step 6's changes on the source, so the statistics have CDC counts to show.
    execute(
        admin,
        f"INSERT INTO `{database}`.customers VALUES (301, 'test@example.com'), (302, 'x@example.com')",
        f"UPDATE `{database}`.customers SET email = CONCAT('new-', email) WHERE id IN (1, 2, 3)",
        f"DELETE FROM `{database}`.products WHERE id = 7",
    )
    wait_caught_up(binlake, "guide", admin)

    # Step 1: the task's status, as binlake's own describe-replication-tasks shows it.
    listed = api.aws("dms", "describe-replication-tasks", "--region", "us-east-1")
    assert listed.exit_code == 0, listed.stderr
    (task,) = listed.json()["ReplicationTasks"]
    (own,) = binlake.ok("describe-replication-tasks", "--output", "json").json()["ReplicationTasks"]
    assert task["ReplicationTaskArn"] == arn
    assert task["Status"] == own["Status"] == "running"
    assert task["SourceEndpointArn"] == endpoint_arn("src") and task["TargetEndpointArn"] == endpoint_arn("lake-cdc")
    for key in ("ReplicationTaskIdentifier", "MigrationType", "TableMappings", "ReplicationTaskSettings"):
        assert task[key] == own[key], key
    assert task["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100
    assert task["ReplicationTaskStats"]["TablesLoaded"] == 2
    # AWS's timestamps: epoch seconds on the wire, printed as they came by AWS CLI v1 (ISO 8601 by v2).
    assert task["ReplicationTaskCreationDate"] == epoch(own["ReplicationTaskCreationDate"])

    # The guide's recipes: --filters with the ARN, piped to jq, and the CLI's own --query.
    recipe = api.shell(
        f'aws dms describe-replication-tasks --filters "Name=replication-task-arn,Values={arn}" '
        "| jq '.ReplicationTasks[0].TableMappings'"
    )
    assert recipe.exit_code == 0, recipe.stderr
    assert json.loads(json.loads(recipe.stdout)) == json.loads(mappings(database))
    migration = api.aws(
        "dms", "describe-replication-tasks", "--filters", f"Name=replication-task-arn,Values={arn}",
        "--query", "ReplicationTasks[0].MigrationType", "--output", "text",
    )  # fmt: skip
    assert migration.stdout.strip() == "full-load-and-cdc"

    # Step 3: table statistics, equal to binlake's and to what happened on the source.
    stats = api.aws("dms", "describe-table-statistics", "--replication-task-arn", arn, "--region", "us-east-1")
    assert stats.exit_code == 0, stats.stderr
    rows = {r["TableName"]: r for r in stats.json()["TableStatistics"]}
    own_stats = binlake.ok("describe-table-statistics", "--replication-task-arn", "guide", "--output", "json").json()
    for row in own_stats["TableStatistics"]:
        assert {k: rows[row["TableName"]][k] for k in COUNTED} == {k: row[k] for k in COUNTED}
    assert {k: rows["customers"][k] for k in ("FullLoadRows", "Inserts", "Updates", "Deletes")} == {
        "FullLoadRows": 300, "Inserts": 2, "Updates": 3, "Deletes": 0,
    }  # fmt: skip
    assert {k: rows["products"][k] for k in ("FullLoadRows", "Inserts", "Updates", "Deletes")} == {
        "FullLoadRows": 120, "Inserts": 0, "Updates": 0, "Deletes": 1,
    }  # fmt: skip
    assert {r["TableState"] for r in rows.values()} == {"Table completed"}
    assert {r["SchemaName"] for r in rows.values()} == {database}

    # Step 4: the target endpoints, with the bucket the guide lists next.
    targets = api.aws(
        "dms", "describe-endpoints", "--filters", "Name=endpoint-type,Values=target", "--region", "us-east-1"
    )
    assert targets.exit_code == 0, targets.stderr
    found = {e["EndpointIdentifier"]: e for e in targets.json()["Endpoints"]}
    assert sorted(found) == ["lake", "lake-cdc"]
    assert {e["EndpointType"] for e in found.values()} == {"TARGET"}
    assert found["lake-cdc"]["S3Settings"]["BucketName"] == str(bucket)
    assert found["lake-cdc"]["EndpointArn"] == endpoint_arn("lake-cdc")
    tested = api.aws(
        "dms", "test-connection", "--replication-instance-arn", "arn:aws:dms:us-east-1:000000000000:rep:local",
        "--endpoint-arn", endpoint_arn("src"),
    )  # fmt: skip
    assert tested.exit_code == 0, tested.stderr
    assert tested.json()["Connection"]["Status"] == "successful"

    # Step 5: recent events, the same as binlake describe-events lists.
    events = api.aws(
        "dms", "describe-events", "--source-identifier", "guide", "--source-type", "replication-task",
        "--duration", "60", "--region", "us-east-1",
    )  # fmt: skip
    assert events.exit_code == 0, events.stderr
    own_events = binlake.ok("describe-events", "--source-identifier", "guide", "--output", "json").json()["Events"]
    assert [e["Message"] for e in events.json()["Events"]] == [e["Message"] for e in own_events]
    assert "Replication task started" in [e["Message"] for e in own_events]
    assert {(e["SourceIdentifier"], e["SourceType"]) for e in events.json()["Events"]} == {
        ("guide", "replication-task")
    }

    # The troubleshooting section's stop, then the logs and metrics of the whole run.
    stopped = api.aws("dms", "stop-replication-task", "--replication-task-arn", arn)
    assert stopped.exit_code == 0, stopped.stderr
    assert stopped.json()["ReplicationTask"]["Status"] == "stopping"
    wait_for(lambda: task_row(binlake.state_dir, "guide")["status"] == "stopped", 60, "task stopped")
    task_log = binlake.state_dir / "tasks" / "guide" / "task.log"

    streams = api.aws(
        "logs", "describe-log-streams", "--log-group-name", "/aws/dms/tasks/guide", "--region", "us-east-1"
    )
    assert streams.exit_code == 0, streams.stderr
    sizes = {s["logStreamName"]: s["storedBytes"] for s in streams.json()["logStreams"]}
    assert sizes["task.log"] == task_log.stat().st_size
    assert "process.out" in sizes  # the task runs detached, its output in a stream of its own
    # `aws logs tail` is AWS CLI v2 only; with v1, get-log-events and filter-log-events read the same log.
    read = api.aws(
        "logs", "get-log-events", "--log-group-name", "/aws/dms/tasks/guide", "--log-stream-name", "task.log",
        "--start-from-head",
    )  # fmt: skip
    assert read.exit_code == 0, read.stderr
    assert [e["message"] for e in read.json()["events"]] == log_records(task_log)
    loaded = api.aws(
        "logs", "filter-log-events", "--log-group-name", "/aws/dms/tasks/guide", "--filter-pattern", '"Full load"'
    )
    assert loaded.exit_code == 0, loaded.stderr
    matching = [r for r in log_records(task_log) if "Full load" in r]
    assert matching and [e["message"] for e in loaded.json()["events"]] == matching

    recorded = samples(binlake.state_dir, "guide")["CDCLatencySource"]
    first = recorded[0][0] // 60 * 60
    metric = api.aws(
        "cloudwatch", "get-metric-statistics", "--namespace", "AWS/DMS", "--metric-name", "CDCLatencySource",
        "--dimensions", "Name=ReplicationInstanceIdentifier,Value=local", "Name=ReplicationTaskIdentifier,Value=guide",
        "--start-time", datetime.fromtimestamp(first, UTC).isoformat(),
        "--end-time", datetime.fromtimestamp(time.time() + 60, UTC).isoformat(),
        "--period", "60", "--statistics", "SampleCount", "Maximum", "--region", "us-east-1",
    )  # fmt: skip
    assert metric.exit_code == 0, metric.stderr
    points = metric.json()["Datapoints"]
    assert sum(p["SampleCount"] for p in points) == len(recorded)
    assert max(p["Maximum"] for p in points) == max(value for _, value in recorded)

    # A task that does not exist is DMS's ResourceNotFoundFault, on stderr, with a failing exit code.
    missing = api.aws("dms", "describe-table-statistics", "--replication-task-arn", task_arn("missing"))
    assert missing.exit_code != 0
    assert "An error occurred (ResourceNotFoundFault) when calling the DescribeTableStatistics operation" in (
        missing.stderr
    )
