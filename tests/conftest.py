"""Fixtures: one private MariaDB for the whole run, a fresh state directory and bucket per test, and a
way to run the ``binlake`` command in-process or as a real subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import MySQLdb
import pytest

from binlake.cli.main import main
from binlake.sandbox import Sandbox, SandboxInfo, free_port
from binlake.state.store import STATE_FILE

# The S3 server fixtures (moto, s3_env, s3, s3_bucket): a moto server per test module that asks for one.
pytest_plugins = ["tests.s3server"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the private MariaDB (directly or through another fixture) is marked ``sandbox``, so
    ``pytest -m "not sandbox"`` runs without starting MariaDB; tests that start a local S3 server are marked
    ``s3server`` too (``-m "not sandbox and not s3server"`` starts no server at all)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if any("sandbox" in name for name in names):  # sandbox, own_sandbox, tls_sandbox
            item.add_marker(pytest.mark.sandbox)
        if any(name.startswith("moto") for name in names):  # moto, moto_auth: a local S3 server process
            item.add_marker(pytest.mark.s3server)


@pytest.fixture(autouse=True)
def table_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read binlake's tables; off a terminal its default would be JSON (tests/test_cli_conventions.py)."""
    monkeypatch.setenv("BINLAKE_DEFAULT_OUTPUT", "table")


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path_factory.mktemp("sandbox") / "mariadb", port=free_port())
    box.start()
    yield box
    box.destroy()


@pytest.fixture(scope="session")
def sandbox_info(sandbox: Sandbox) -> SandboxInfo:
    return sandbox.info()


@pytest.fixture
def admin(sandbox: Sandbox) -> Iterator[MySQLdb.connections.Connection]:
    conn = sandbox.root_connection()
    yield conn
    conn.close()


@pytest.fixture
def database(admin: MySQLdb.connections.Connection) -> Iterator[str]:
    """A fresh, uniquely named schema, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    yield name
    cur = admin.cursor()
    # A prepared XA transaction outlives its connection and would hold the schema's locks forever.
    cur.execute("XA RECOVER FORMAT='SQL'")
    for row in cur.fetchall():
        with contextlib.suppress(MySQLdb.Error):  # one whose connection is still open is not ours to end
            cur.execute(f"XA ROLLBACK {row[3]}")
    cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


class Binlake:
    """Runs binlake commands against one state directory, in-process (fast) or as a subprocess."""

    def __init__(self, state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.state_dir = state_dir
        self.capsys = capsys

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main(["--state-dir", str(self.state_dir), *args])
        out, err = self.capsys.readouterr()
        return Result(code, out, err)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, result.stderr + result.stdout
        return result

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "binlake", "--state-dir", str(self.state_dir), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run_process(self, *args: str, env: dict[str, str] | None = None) -> Result:
        done = subprocess.run(
            [sys.executable, "-m", "binlake", "--state-dir", str(self.state_dir), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=300,
        )
        return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def binlake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Binlake]:
    instance = Binlake(tmp_path / "state", capsys)
    yield instance
    stop_leftover_tasks(instance.state_dir)


def stop_leftover_tasks(state_dir: Path) -> None:
    """A test that failed before stopping its detached tasks would leave them running after the run."""
    database = state_dir / STATE_FILE
    if not database.exists():
        return
    with contextlib.closing(sqlite3.connect(database)) as db:
        pids = [pid for (pid,) in db.execute("SELECT pid FROM tasks WHERE pid IS NOT NULL")]
    for pid in pids:
        with contextlib.suppress(OSError):
            # Only a process of this state directory: a recorded pid may since belong to another process.
            if pid != os.getpid() and str(state_dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    path = tmp_path / "bucket"
    path.mkdir()
    return path


def mappings(schema: str, table: str = "%", extra_rules: list[dict] | None = None) -> str:
    rules: list[dict] = [
        {
            "rule-type": "selection",
            "rule-id": "1",
            "rule-name": "include",
            "object-locator": {"schema-name": schema, "table-name": table},
            "rule-action": "include",
        }
    ]
    return json.dumps({"rules": rules + (extra_rules or [])})


@pytest.fixture
def endpoints(binlake: Binlake, sandbox_info: SandboxInfo, bucket: Path) -> tuple[str, str]:
    """A source endpoint on the sandbox and a local-directory target; returns their identifiers."""
    binlake.ok(
        "create-endpoint",
        "--endpoint-identifier",
        "src",
        "--endpoint-type",
        "source",
        "--engine-name",
        "mariadb",
        "--server-name",
        sandbox_info.host,
        "--port",
        str(sandbox_info.port),
        "--username",
        sandbox_info.user,
        "--password-file",
        sandbox_info.password_file,
    )
    binlake.ok(
        "create-endpoint",
        "--endpoint-identifier",
        "lake",
        "--endpoint-type",
        "target",
        "--engine-name",
        "s3",
        "--s3-settings",
        json.dumps({"BucketName": str(bucket), "BucketFolder": "hub"}),
    )
    return "src", "lake"


def create_task(binlake: Binlake, name: str, table_mappings: str, *extra: str, target: str = "lake") -> Result:
    return binlake.ok(
        "create-replication-task",
        "--replication-task-identifier",
        name,
        "--source-endpoint-arn",
        "src",
        "--target-endpoint-arn",
        target,
        "--migration-type",
        "full-load",
        "--table-mappings",
        table_mappings,
        *extra,
    )


def run_task(binlake: Binlake, name: str, start_type: str = "start-replication") -> Result:
    return binlake(
        "start-replication-task",
        "--replication-task-arn",
        name,
        "--start-replication-task-type",
        start_type,
        "--quiet",
    )


@pytest.fixture
def cdc_target(binlake: Binlake, endpoints, bucket: Path) -> str:
    """A local-directory target that writes CDC files every 0.2 s."""
    from tests.lake import target_settings

    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "lake-cdc", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, CdcMaxBatchInterval=0.2),
    )  # fmt: skip
    return "lake-cdc"


from tests.awsapi import api  # noqa: E402, F401 - the AWS API server fixture (tests/test_api_*.py)


@pytest.fixture(params=["compiled", "pure-python"])
def decoder_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a CDC test once with each row decoder: compiled (binlake.native._rows) and pure Python
    (BINLAKE_PURE_PYTHON=1, which in-process tasks and spawned ones both see)."""
    from binlake.native import extension

    if request.param == "pure-python":
        monkeypatch.setenv("BINLAKE_PURE_PYTHON", "1")
    else:
        monkeypatch.delenv("BINLAKE_PURE_PYTHON", raising=False)
        assert extension("_rows") is not None, "binlake.native._rows is not built: run bash scripts/install.sh"
    return request.param
