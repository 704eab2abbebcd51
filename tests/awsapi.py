"""The API server for tests: started in this process on a free port over a test's state directory, with an
access key binlake generated; the real AWS CLI (a subprocess) and boto3 talk to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest

from binlake.api import keys
from binlake.api.server import ApiServer
from binlake.state.store import StateStore

REGION = "us-east-1"
ACCOUNT = "000000000000"
AWS = Path(sys.executable).parent / "aws"


def task_arn(name: str) -> str:
    return f"arn:aws:dms:{REGION}:{ACCOUNT}:task:{name}"


def endpoint_arn(name: str) -> str:
    return f"arn:aws:dms:{REGION}:{ACCOUNT}:endpoint:{name}"


@dataclass
class AwsResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Api:
    url: str
    access_key_id: str
    secret: str
    home: Path

    @property
    def env(self) -> dict[str, str]:
        """Credentials and region as the guide's users set them; no file of this machine's AWS set-up is read."""
        return {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(self.home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }

    def aws(self, *args: str) -> AwsResult:
        """``aws <args> --endpoint-url <url>``: the guide's command with only the endpoint added."""
        done = subprocess.run(
            [str(AWS), *args, "--endpoint-url", self.url], capture_output=True, text=True, env=self.env, timeout=120
        )
        return AwsResult(done.returncode, done.stdout, done.stderr)

    def shell(self, command: str) -> AwsResult:
        """A guide recipe with a pipe (``aws ... | jq ...``); ``aws`` is the CLI with ``--endpoint-url`` added."""
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", f'aws() {{ "{AWS}" "$@" --endpoint-url {self.url}; }}; {command}'],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
        )
        return AwsResult(done.returncode, done.stdout, done.stderr)

    def client(self, service: str, **config: Any) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret,
            config=botocore.config.Config(retries={"max_attempts": 1}, **config),
        )


@pytest.fixture
def api(tmp_path: Path, binlake) -> Iterator[Api]:
    store = StateStore(binlake.state_dir)
    key = keys.create(binlake.state_dir)
    server = ApiServer(store, "127.0.0.1", 0)
    server.start()
    home = tmp_path / "aws-home"
    home.mkdir()
    try:
        yield Api(server.url, key.access_key_id, key.secret.reveal(), home)
    finally:
        server.close()
        store.close()
