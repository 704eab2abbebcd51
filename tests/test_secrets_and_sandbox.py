"""Invariant 6 (secrets stay secret) and the sandbox's promises (private instance, binlog settings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from binlake.sandbox import BINLOG_SETTINGS, Sandbox, SandboxInfo
from tests.conftest import Binlake, create_task, mappings, run_task

PLANTED = "planted-Secret-9f3a"


def test_secrets_stay_secret(
    binlake: Binlake, sandbox_info: SandboxInfo, admin, database: str, bucket: Path, monkeypatch
) -> None:
    cur = admin.cursor()
    cur.execute(f"CREATE OR REPLACE USER 'planted'@'127.0.0.1' IDENTIFIED BY '{PLANTED}'")
    cur.execute("GRANT SELECT, REPLICATION CLIENT ON *.* TO 'planted'@'127.0.0.1'")
    cur.execute(f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)")
    cur.execute(f"INSERT INTO `{database}`.t VALUES (1)")
    monkeypatch.setenv("PLANTED_PASSWORD", PLANTED)
    outputs = [
        binlake.ok(
            "create-endpoint", "--endpoint-identifier", "src", "--endpoint-type", "source", "--engine-name", "mysql",
            "--server-name", sandbox_info.host, "--port", str(sandbox_info.port), "--username", "planted",
            "--password-env", "PLANTED_PASSWORD",
        ),
        binlake.ok(
            "create-endpoint", "--endpoint-identifier", "lake", "--endpoint-type", "target", "--engine-name", "s3",
            "--s3-settings", json.dumps({"BucketName": str(bucket)}),
        ),
        create_task(binlake, "secret", mappings(database)),
        run_task(binlake, "secret"),
    ]  # fmt: skip
    for output in ("table", "json"):
        outputs += [
            binlake.ok("describe-endpoints", "--output", output),
            binlake.ok("test-connection", "--endpoint-arn", "src", "--output", output),
            binlake.ok("describe-replication-tasks", "--output", output),
            binlake.ok("describe-table-statistics", "--replication-task-arn", "secret", "--output", output),
        ]
    monkeypatch.setenv("PLANTED_PASSWORD", "wrong-" + PLANTED)
    outputs.append(binlake("test-connection", "--endpoint-arn", "src"))
    outputs.append(run_task(binlake, "secret"))

    assert outputs[3].exit_code == 0
    assert outputs[-1].exit_code == 1  # wrong password: the error names the user, never the password
    for result in outputs:
        assert PLANTED not in result.stdout + result.stderr
    for path in binlake.state_dir.rglob("*"):
        if path.is_file():
            assert PLANTED.encode() not in path.read_bytes(), path
    cur.execute("DROP USER 'planted'@'127.0.0.1'")


def test_sandbox_has_binlog_for_cdc_and_its_own_files(sandbox: Sandbox, admin) -> None:
    cur = admin.cursor()
    cur.execute("SHOW VARIABLES WHERE Variable_name IN "
                "('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'server_id', 'port', "
                "'socket', 'datadir')")  # fmt: skip
    variables = dict(cur.fetchall())
    assert variables["log_bin"] == "ON"
    assert variables["binlog_format"] == BINLOG_SETTINGS["binlog_format"] == "ROW"
    assert variables["binlog_row_image"] == "FULL"
    assert variables["binlog_row_metadata"] == "FULL"
    assert variables["server_id"] == "1"
    assert int(variables["port"]) == sandbox.port
    assert variables["socket"] == str(sandbox.socket_path)
    assert variables["datadir"].rstrip("/") == str(sandbox.data_dir)
    cur.execute("SHOW GRANTS FOR 'binlake'@'127.0.0.1'")
    grants = " ".join(row[0] for row in cur.fetchall())
    assert "REPLICATION SLAVE" in grants
    assert "BINLOG MONITOR" in grants or "REPLICATION CLIENT" in grants


@pytest.mark.sandbox  # starts a MariaDB of its own through the CLI
def test_sandbox_commands(binlake: Binlake) -> None:
    status = binlake("sandbox", "status", "--output", "json")
    assert status.exit_code == 3
    assert status.json()["Sandbox"]["running"] is False
    started = binlake.ok("sandbox", "start", "--output", "json").json()["Sandbox"]
    try:
        assert started["running"] is True
        assert started["data_dir"].startswith(str(binlake.state_dir))
        assert Path(started["password_file"]).stat().st_mode & 0o077 == 0
        again = binlake.ok("sandbox", "status", "--output", "json").json()["Sandbox"]
        assert again["port"] == started["port"]
    finally:
        assert "stopped" in binlake.ok("sandbox", "stop").stdout
    assert binlake("sandbox", "status").exit_code == 3
