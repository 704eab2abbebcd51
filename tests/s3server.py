"""A real S3-compatible server on loopback for tests: moto's ``moto_server`` in its own process.

Each server is a separate process, so enabling authentication on one (``require_auth``) leaves the others
accepting any credentials, as moto does by default.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from binlake.sandbox import SandboxInfo, free_port
from tests.conftest import Binlake

REGION = "us-east-1"
# moto accepts any key pair until require_auth(); these are what the tests hand binlake.
ACCESS_KEY = "binlake-test-key"
SECRET_KEY = "binlake-test-secret"


class MotoServer:
    """``moto_server -H 127.0.0.1 -p PORT``, started on a free port and stopped by ``stop``."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        executable = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which("moto_server")
        assert executable, "moto_server not found (pip install 'moto[server]')"
        env = {k: v for k, v in os.environ.items() if k != "INITIAL_NO_AUTH_ACTION_COUNT"}
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                [executable, "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self._process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto_server did not answer on {self.url}; see {self.log_path}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def client(self, service: str = "s3", access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
        )

    def require_auth(self) -> tuple[str, str]:
        """Create an IAM user allowed everything on S3, then make moto check every request's signature
        against its IAM users (moto's ``/moto-api/reset-auth``). Returns the user's key pair."""
        iam = self.client("iam")
        iam.create_user(UserName="binlake")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="binlake", PolicyName="s3-all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="binlake")["AccessKey"]
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(request, timeout=10):
            pass
        return key["AccessKeyId"], key["SecretAccessKey"]


def object_keys(client, bucket: str, prefix: str = "") -> list[str]:
    """Every key in ``bucket`` under ``prefix``, sorted (all pages)."""
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return sorted(keys)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto_server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The credentials binlake reads, and nothing from the developer's own AWS setup."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3(moto: MotoServer):
    return moto.client()


@pytest.fixture
def s3_bucket(s3) -> str:
    name = f"lake-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def create_source(binlake: Binlake, info: SandboxInfo) -> None:
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "src", "--endpoint-type", "source", "--engine-name", "mariadb",
        "--server-name", info.host, "--port", str(info.port), "--username", info.user,
        "--password-file", info.password_file,
    )  # fmt: skip


def data_keys(keys: list[str]) -> list[str]:
    """Objects, without the zero-byte ``folder/`` markers pyarrow leaves when it deletes (see store.py)."""
    return [k for k in keys if not k.endswith("/")]


COLUMNS = ("id", "label", "amount", "taken", "note")


def create_s3_target(binlake: Binlake, moto: MotoServer, bucket_name: str, name: str = "s3lake", **extra) -> str:
    settings = {"BucketName": bucket_name, "BucketFolder": "hub", "EndpointUrl": moto.url, **extra}
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", name, "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", json.dumps(settings),
    )  # fmt: skip
    return name


@pytest.fixture
def s3_endpoints(binlake: Binlake, sandbox_info: SandboxInfo, moto: MotoServer, s3_env, s3_bucket: str) -> str:
    """The sandbox as source ``src`` and ``s3://<s3_bucket>`` (folder hub) as target ``s3lake``."""
    create_source(binlake, sandbox_info)
    return create_s3_target(binlake, moto, f"s3://{s3_bucket}")


def create_readings(admin, database: str, rows: int) -> None:
    """``rows`` rows with NULLs in every nullable column, a DECIMAL, a DATETIME(6) and non-ASCII text."""
    cur = admin.cursor()
    cur.execute(
        f"CREATE TABLE `{database}`.readings (id INT PRIMARY KEY, label VARCHAR(40), amount DECIMAL(12,4), "
        "taken DATETIME(6), note TEXT)"
    )
    cur.execute(
        f"INSERT INTO `{database}`.readings SELECT seq, "
        "IF(seq % 7 = 0, NULL, CONCAT('label-', MD5(seq))), "
        "IF(seq % 11 = 0, NULL, seq * 1.2345 - 100), "
        "IF(seq % 13 = 0, NULL, TIMESTAMPADD(MICROSECOND, seq * 1000037, '2024-02-29 23:59:58')), "
        f"IF(seq % 5 = 0, NULL, CONCAT('grüße ', REPEAT('€', seq % 9))) FROM `{database}`.seq_1_to_{rows}"
    )


def source_rows(admin, database: str) -> list[tuple]:
    cur = admin.cursor()
    cur.execute(f"SELECT {', '.join(COLUMNS)} FROM `{database}`.readings ORDER BY id")
    return [tuple(row) for row in cur.fetchall()]
