"""Bad input gets one line naming the cause and the fix, a non-zero exit, no traceback, and loses nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from binlake.sandbox import SandboxInfo, free_port
from tests.conftest import Binlake, Result, create_task, mappings, run_task
from tests.helpers import assert_one_line_error


def source_endpoint(binlake: Binlake, name: str, info: SandboxInfo, **overrides: str) -> Result:
    args = {
        "--server-name": info.host,
        "--port": str(info.port),
        "--username": info.user,
        "--password-file": info.password_file,
    }
    args.update(overrides)
    flat = [item for pair in args.items() for item in pair]
    return binlake(
        "create-endpoint", "--endpoint-identifier", name, "--endpoint-type", "source", "--engine-name", "mysql", *flat
    )


def test_wrong_flag_is_a_usage_error(binlake: Binlake) -> None:
    result = binlake("describe-endpoints", "--filterz", "x")
    assert_one_line_error(result, "No such option: --filterz", "binlake describe-endpoints --help", exit_code=2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "table mappings are empty"),
        ("{not json", "table mappings are not valid JSON"),
        ('{"rules": {}}', 'need a top-level "rules" list'),
        ('{"rules": []}', "no selection rule that includes tables"),
        (
            '{"rules": [{"rule-type": "selection", "rule-action": "include", "object-locator": {"schema-name": "x"}}]}',
            "object-locator needs table-name",
        ),
        (
            '{"rules": [{"rule-type": "selection", "rule-action": "add", '
            '"object-locator": {"schema-name": "x", "table-name": "%"}}]}',
            "rule-action 'add' is not a selection action",
        ),
    ],
)
def test_malformed_mappings_are_refused(binlake: Binlake, endpoints, text: str, message: str) -> None:
    result = binlake(
        "create-replication-task", "--replication-task-identifier", "t", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "lake", "--migration-type", "full-load", "--table-mappings", text,
    )  # fmt: skip
    assert_one_line_error(result, message)
    assert binlake.ok("describe-replication-tasks", "--output", "json").json() == {"ReplicationTasks": []}


def test_mapping_file_that_does_not_exist(binlake: Binlake, endpoints, tmp_path: Path) -> None:
    result = binlake(
        "create-replication-task", "--replication-task-identifier", "t", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "lake", "--migration-type", "full-load",
        "--table-mappings", f"file://{tmp_path}/missing.json",
    )  # fmt: skip
    assert_one_line_error(result, "cannot read --table-mappings file", "missing.json")


def test_mapping_that_selects_no_table_fails_the_task(binlake: Binlake, endpoints, bucket: Path) -> None:
    create_task(binlake, "empty", mappings("no_such_schema"))
    result = run_task(binlake, "empty")
    assert_one_line_error(result, "the table mappings select no table", "selection rules")
    task = binlake.ok("describe-replication-tasks", "--output", "json").json()["ReplicationTasks"][0]
    assert task["Status"] == "failed"
    assert "select no table" in task["LastFailureMessage"]
    assert list(bucket.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("describe-table-statistics", "--replication-task-arn", "nope"), "replication task nope not found"),
        (("start-replication-task", "--replication-task-arn", "nope"), "replication task nope not found"),
        (("stop-replication-task", "--replication-task-arn", "nope"), "replication task nope not found"),
        (("delete-replication-task", "--replication-task-arn", "nope"), "replication task nope not found"),
        (("test-connection", "--endpoint-arn", "nope"), "endpoint nope not found"),
        (("delete-endpoint", "--endpoint-arn", "nope"), "endpoint nope not found"),
    ],
)
def test_unknown_names(binlake: Binlake, args: tuple[str, ...], message: str) -> None:
    assert_one_line_error(binlake(*args), message)


def test_task_with_unknown_endpoint(binlake: Binlake, endpoints) -> None:
    result = binlake(
        "create-replication-task", "--replication-task-identifier", "t", "--source-endpoint-arn", "ghost",
        "--target-endpoint-arn", "lake", "--migration-type", "full-load", "--table-mappings", mappings("x"),
    )  # fmt: skip
    assert_one_line_error(result, "endpoint ghost not found", "describe-endpoints")


def test_wrong_password(binlake: Binlake, sandbox_info: SandboxInfo, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    assert source_endpoint(binlake, "bad", sandbox_info, **{"--password-file": str(wrong)}).exit_code == 0
    result = binlake("test-connection", "--endpoint-arn", "bad", "--output", "json")
    assert result.exit_code == 1
    connection = result.json()["Connection"]
    assert connection["Status"] == "failed"
    assert "access denied for binlake@127.0.0.1" in connection["LastFailureMessage"]
    assert "wrong user name or password" in connection["LastFailureMessage"]


def test_unreachable_host(binlake: Binlake, sandbox_info: SandboxInfo) -> None:
    source_endpoint(binlake, "nowhere", sandbox_info, **{"--port": str(free_port())})
    result = binlake("test-connection", "--endpoint-arn", "nowhere", "--output", "json")
    assert result.exit_code == 1
    message = result.json()["Connection"]["LastFailureMessage"]
    assert message.startswith("cannot reach MySQL at 127.0.0.1:")
    assert "check --server-name and --port" in message


def test_missing_privilege(binlake: Binlake, sandbox_info: SandboxInfo, admin, database: str, bucket: Path) -> None:
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY, secret VARCHAR(10))")
    cur.execute("CREATE OR REPLACE USER 'narrow'@'127.0.0.1' IDENTIFIED BY 'narrow-pw'")
    # Any privilege makes the table visible in information_schema; reading it needs SELECT.
    cur.execute(f"GRANT INSERT ON `{database}`.t TO 'narrow'@'127.0.0.1'")
    password = bucket.parent / "narrow.pw"
    password.write_text("narrow-pw")
    source_endpoint(binlake, "src", sandbox_info, **{"--username": "narrow", "--password-file": str(password)})
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "lake", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", json.dumps({"BucketName": str(bucket)}),
    )  # fmt: skip
    connection = binlake.ok("test-connection", "--endpoint-arn", "src", "--output", "json").json()["Connection"]
    assert connection["Status"] == "successful"
    assert "narrow lacks REPLICATION SLAVE, REPLICATION CLIENT, which cdc tasks need" in connection["Warnings"][0]

    create_task(binlake, "narrow", mappings(database))
    result = run_task(binlake, "narrow")
    assert_one_line_error(result, "narrow lacks a privilege", "GRANT SELECT")
    stats = binlake.ok("describe-table-statistics", "--replication-task-arn", "narrow", "--output", "json").json()
    assert stats["TableStatistics"][0]["TableState"] == "Table error"
    assert not list((bucket / database / "t").glob("LOAD*")) if (bucket / database / "t").exists() else True
    cur.execute("DROP USER 'narrow'@'127.0.0.1'")


def test_missing_bucket_directory(binlake: Binlake, endpoints, tmp_path: Path, admin, database: str) -> None:
    missing = tmp_path / "no-such-bucket"
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "gone", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", json.dumps({"BucketName": str(missing)}),
    )  # fmt: skip
    connection = binlake("test-connection", "--endpoint-arn", "gone", "--output", "json")
    assert connection.exit_code == 1
    assert connection.json()["Connection"]["LastFailureMessage"] == (
        f"bucket directory {missing} does not exist (fix: mkdir -p {missing})"
    )
    admin.cursor().execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    create_task(binlake, "gone", mappings(database), target="gone")
    assert_one_line_error(run_task(binlake, "gone"), f"bucket directory {missing} does not exist")
    assert not missing.exists()


def test_bucket_that_cannot_be_written(binlake: Binlake, endpoints) -> None:
    # /proc/1 is a directory no user, root included, can create files in.
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "ro", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", json.dumps({"BucketName": "/proc/1"}),
    )  # fmt: skip
    result = binlake("test-connection", "--endpoint-arn", "ro", "--output", "json")
    assert result.exit_code == 1
    assert result.json()["Connection"]["LastFailureMessage"].startswith("cannot write to bucket directory /proc/1")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"BucketNam": "x"}, "unknown S3 setting 'BucketNam' (fix: did you mean BucketName?)"),
        ({"BucketName": "x", "DataFormat": "orc"}, "DataFormat 'orc' is not supported"),
        ({"BucketName": "x", "MaxFileSize": "big"}, "S3 setting MaxFileSize must be a number, not 'big'"),
        ({"BucketName": "x", "IncludeOpForFullLoad": "yes"}, "IncludeOpForFullLoad must be true or false"),
        ({"BucketFolder": "x"}, "S3 settings lack BucketName"),
    ],
)
def test_bad_s3_settings(binlake: Binlake, settings: dict, message: str) -> None:
    result = binlake(
        "create-endpoint", "--endpoint-identifier", "t", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", json.dumps(settings),
    )  # fmt: skip
    assert_one_line_error(result, message)
    assert binlake.ok("describe-endpoints", "--output", "json").json() == {"Endpoints": []}


def test_plain_password_flag_is_refused(binlake: Binlake, sandbox_info: SandboxInfo) -> None:
    result = source_endpoint(binlake, "src", sandbox_info, **{"--password": "hunter2"})
    assert_one_line_error(result, "--password would leave the password", "--password-env")
    assert "hunter2" not in result.stdout + result.stderr


def test_unknown_task_settings(binlake: Binlake, endpoints) -> None:
    result = binlake(
        "create-replication-task", "--replication-task-identifier", "t", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "lake", "--migration-type", "full-load", "--table-mappings", mappings("x"),
        "--replication-task-settings", json.dumps({"FullLoadSettings": {"MaxFullLoadSubTask": 4}}),
    )  # fmt: skip
    assert_one_line_error(result, "unknown FullLoadSettings key 'MaxFullLoadSubTask'")


def test_endpoint_in_use_cannot_be_deleted(binlake: Binlake, endpoints) -> None:
    create_task(binlake, "uses", mappings("x"))
    assert_one_line_error(binlake("delete-endpoint", "--endpoint-arn", "src"), "endpoint src is used by task uses")
    assert len(binlake.ok("describe-endpoints", "--output", "json").json()["Endpoints"]) == 2


def test_state_dir_that_is_not_binlake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    result = Binlake(foreign, capsys)("describe-endpoints")
    assert_one_line_error(result, f"{foreign} is not a binlake state directory")
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("where", ["missing parent", "read-only"])
def test_state_dir_that_cannot_be_created(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    if where == "missing parent":
        state = Path("/proc/no/such/dir")  # /proc takes no new directories, not even from root
        reason = "No such file or directory"
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(locked)]).returncode:
            pytest.skip("mounting a read-only tmpfs is not permitted here")
        state, reason = locked / "state", "Read-only file system"
    try:
        result = Binlake(state, capsys)("describe-endpoints")
    finally:
        if where == "read-only":
            subprocess.run(["umount", str(locked)], check=True)
    assert_one_line_error(
        result,
        f"cannot create the state directory {state} ({reason})",
        "pass --state-dir (or set BINLAKE_STATE_DIR) to a directory you can write",
    )


def test_every_s3_number_error_names_a_fix(binlake: Binlake) -> None:
    for value in (-1, "big", True):
        result = binlake(
            "create-endpoint", "--endpoint-identifier", "t", "--endpoint-type", "target", "--engine-name", "s3",
            "--s3-settings", json.dumps({"BucketName": "x", "MaxFileSize": value}),
        )  # fmt: skip
        assert result.exit_code == 1
        assert "(fix: " in result.stderr, result.stderr
    assert_one_line_error(result, "S3 setting MaxFileSize must be a number, not True", 'e.g. "MaxFileSize": 1048576')
