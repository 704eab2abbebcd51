"""The API's protocols and SigV4 checks, driven by botocore itself: CloudWatch in each protocol botocore has
spoken (JSON 1.0 today, CBOR in 2025, query before), and every way a request can fail to authenticate."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.session
import pytest
import requests
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from binlake.api import sigv4
from binlake.api.faults import ApiError
from binlake.config.secret import Secret
from binlake.monitor import metrics
from binlake.state.store import StateStore
from tests.awsapi import REGION, Api
from tests.conftest import Binlake


def error_code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def cloudwatch_client(api: Api, protocol: str, data_dir: Path):
    """A botocore CloudWatch client that speaks ``protocol``: botocore's own model with only that protocol left."""
    loader = botocore.session.get_session().get_component("data_loader")
    model = loader.load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocols"] = [protocol]
    model["metadata"]["protocol"] = protocol
    folder = data_dir / protocol / "cloudwatch" / "2010-08-01"
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(data_dir / protocol))
    return session.create_client(
        "cloudwatch",
        endpoint_url=api.url,
        region_name=REGION,
        aws_access_key_id=api.access_key_id,
        aws_secret_access_key=api.secret,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


PROTOCOLS = ("json", "smithy-rpc-v2-cbor", "query")


def test_cloudwatch_in_every_protocol_botocore_speaks(api: Api, binlake: Binlake, tmp_path: Path) -> None:
    start = float(int(time.time()) // 60 * 60 - 600)
    store = StateStore(binlake.state_dir)
    # 36 samples 5 s apart, value = its index: three 60 s periods of 12 samples each.
    for i in range(36):
        metrics.record(store, "t1", start + 1 + 5 * i, {"CDCLatencySource": float(i), "CPUUtilization": 50.0})
    metrics.record(store, "other", start + 1, {"CDCLatencySource": 1000.0})
    dimensions = [
        {"Name": "ReplicationInstanceIdentifier", "Value": "local"},
        {"Name": "ReplicationTaskIdentifier", "Value": "t1"},
    ]
    expected = [
        {
            "Timestamp": start + 60 * period,
            "Average": sum(range(12 * period, 12 * period + 12)) / 12,
            "Maximum": 12.0 * period + 11,
            "SampleCount": 12.0,
            "p50": 12.0 * period + 5,
        }
        for period in range(3)
    ]
    for protocol in PROTOCOLS:
        client = cloudwatch_client(api, protocol, tmp_path)
        assert client.meta.service_model.resolved_protocol == protocol
        stats = client.get_metric_statistics(
            Namespace="AWS/DMS",
            MetricName="CDCLatencySource",
            Dimensions=dimensions,
            StartTime=datetime.fromtimestamp(start, UTC),
            EndTime=datetime.fromtimestamp(start + 180, UTC),
            Period=60,
            Statistics=["Average", "Maximum", "SampleCount"],
            ExtendedStatistics=["p50"],
        )
        got = [
            {
                "Timestamp": point["Timestamp"].timestamp(),
                "Average": point["Average"],
                "Maximum": point["Maximum"],
                "SampleCount": point["SampleCount"],
                "p50": point["ExtendedStatistics"]["p50"],
            }
            for point in sorted(stats["Datapoints"], key=lambda p: p["Timestamp"])
        ]
        assert got == expected, protocol
        assert {p["Unit"] for p in stats["Datapoints"]} == {"Seconds"}
        assert stats["Label"] == "CDCLatencySource"

        data = client.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "cpu",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/DMS", "MetricName": "CPUUtilization", "Dimensions": dimensions},
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=datetime.fromtimestamp(start, UTC),
            EndTime=datetime.fromtimestamp(start + 180, UTC),
        )
        (result,) = data["MetricDataResults"]
        assert result["Id"] == "cpu" and result["StatusCode"] == "Complete", protocol
        assert [t.timestamp() for t in result["Timestamps"]] == [start + 120, start + 60, start]  # newest first
        assert result["Values"] == [600.0, 600.0, 600.0]

        listed = client.list_metrics(
            Namespace="AWS/DMS", Dimensions=[{"Name": "ReplicationTaskIdentifier", "Value": "t1"}]
        )
        assert sorted(m["MetricName"] for m in listed["Metrics"]) == ["CDCLatencySource", "CPUUtilization"], protocol

        # A task without samples has no datapoints (CloudWatch's answer), and bad input is CloudWatch's error.
        none = client.get_metric_statistics(
            Namespace="AWS/DMS",
            MetricName="CDCLatencySource",
            Dimensions=[{"Name": "ReplicationTaskIdentifier", "Value": "missing"}],
            StartTime=datetime.fromtimestamp(start, UTC),
            EndTime=datetime.fromtimestamp(start + 180, UTC),
            Period=60,
            Statistics=["Average"],
        )
        assert none["Datapoints"] == []
        bad_period = error_code(
            lambda client=client: client.get_metric_statistics(
                Namespace="AWS/DMS",
                MetricName="CDCLatencySource",
                Dimensions=dimensions,
                StartTime=datetime.fromtimestamp(start, UTC),
                EndTime=datetime.fromtimestamp(start + 180, UTC),
                Period=7,
                Statistics=["Average"],
            )
        )
        assert bad_period == "InvalidParameterValue", protocol
        wrong = cloudwatch_client(
            Api(api.url, api.access_key_id, "not-the-secret", api.home), protocol, tmp_path / "wrong"
        )
        assert error_code(lambda wrong=wrong: wrong.list_metrics()) == "SignatureDoesNotMatch", protocol
    store.close()


def test_requests_that_do_not_authenticate_are_refused(api: Api) -> None:
    # The right key works; another secret, an unknown key, or no signature at all is AWS's error.
    assert api.client("dms").describe_replication_tasks()["ReplicationTasks"] == []
    wrong_secret = Api(api.url, api.access_key_id, "x" * 40, api.home)
    unknown_key = Api(api.url, "AKIAIOSFODNN7EXAMPLE", api.secret, api.home)
    for service, call in (
        ("dms", lambda c: c.describe_replication_tasks()),
        ("logs", lambda c: c.describe_log_streams(logGroupName="/aws/dms/tasks/x")),
    ):
        assert error_code(lambda s=service, f=call: f(wrong_secret.client(s))) == "InvalidSignatureException"
        assert error_code(lambda s=service, f=call: f(unknown_key.client(s))) == "UnrecognizedClientException"
        unsigned = api.client(service, signature_version=UNSIGNED)
        with pytest.raises(ClientError) as caught:
            call(unsigned)
        assert caught.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # A body changed after signing (what a proxy or an attacker would do) no longer matches its signature.
    credentials = botocore.credentials.Credentials(api.access_key_id, api.secret)
    request = botocore.awsrequest.AWSRequest(
        method="POST",
        url=api.url + "/",
        data=b'{"Filters": []}',
        headers={"X-Amz-Target": "AmazonDMSv20160101.DescribeReplicationTasks",
                 "Content-Type": "application/x-amz-json-1.1"},
    )  # fmt: skip
    botocore.auth.SigV4Auth(credentials, "dms", REGION).add_auth(request)
    signed = dict(request.headers.items())
    good = requests.post(api.url + "/", data=b'{"Filters": []}', headers=signed, timeout=30)
    assert good.status_code == 200 and good.json() == {"ReplicationTasks": []}
    forged = requests.post(api.url + "/", data=b'{"Filters": [{"Name": "x"}]}', headers=signed, timeout=30)
    assert forged.status_code == 400
    assert forged.json()["__type"] == "InvalidSignatureException"

    # A signed body that is not JSON is the protocol's SerializationException, not a dropped connection.
    garbage = botocore.awsrequest.AWSRequest(
        method="POST", url=api.url + "/", data=b"{not json", headers=request.headers
    )
    del garbage.headers["Authorization"], garbage.headers["X-Amz-Date"]
    botocore.auth.SigV4Auth(credentials, "dms", REGION).add_auth(garbage)
    refused = requests.post(api.url + "/", data=b"{not json", headers=dict(garbage.headers.items()), timeout=30)
    assert (refused.status_code, refused.json()["__type"]) == (400, "SerializationException")


def test_a_signature_expires_after_15_minutes() -> None:
    secret = "s" * 40
    request = botocore.awsrequest.AWSRequest(
        method="POST", url="http://127.0.0.1:4566/", data=b"{}", headers={"X-Amz-Target": "Logs_20140328.X"}
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("K", secret), "logs", "eu-west-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()} | {"host": "127.0.0.1:4566"}  # as sent
    parsed = sigv4.Request("POST", "/", "", lambda name: [headers[name]] if name in headers else [], b"{}")
    signed_at = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    caller = sigv4.verify(parsed, lambda key: Secret(secret), signed_at + timedelta(minutes=14))
    assert (caller.access_key_id, caller.region, caller.service) == ("K", "eu-west-1", "logs")
    with pytest.raises(ApiError) as caught:
        sigv4.verify(parsed, lambda key: Secret(secret), signed_at + timedelta(minutes=16))
    assert caught.value.code == "InvalidSignatureException"
    assert caught.value.message.startswith("Signature expired: ")


def test_api_serve_prints_a_key_once_and_binds_loopback(tmp_path: Path) -> None:
    state = tmp_path / "state"
    server = subprocess.Popen(
        [sys.executable, "-m", "binlake", "--state-dir", str(state), "api", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        assert server.stdout is not None
        while not (lines and lines[-1].startswith("AWS API endpoint: ")):
            line = server.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        exported = re.search(r"AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)", "".join(lines))
        url = re.search(r"(http://\S+) ", lines[-1])
        assert exported and url
        assert url.group(1).startswith("http://127.0.0.1:")
        key_id, secret = exported.groups()
        client = boto3.session.Session().client(
            "dms", endpoint_url=url.group(1), region_name="eu-central-1",
            aws_access_key_id=key_id, aws_secret_access_key=secret,
        )  # fmt: skip
        assert client.describe_replication_tasks()["ReplicationTasks"] == []
    finally:
        server.terminate()
        server.wait(timeout=30)
    # The secret lives in a file only its owner reads; the state directory references it and holds no copy.
    secret_files = list((state / "api").glob("*.secret"))
    assert len(secret_files) == 1 and secret_files[0].read_text().strip() == secret
    assert stat.S_IMODE(os.stat(secret_files[0]).st_mode) == 0o600
    for path in state.rglob("*"):
        if path.is_file() and path not in secret_files:
            assert secret.encode() not in path.read_bytes(), path


def test_create_access_key_prints_iam_shape(binlake: Binlake, tmp_path: Path) -> None:
    created = binlake.ok("api", "create-access-key", "--secret-file", str(tmp_path / "k"), "--output", "json").json()
    key = created["AccessKey"]
    assert key["Status"] == "Active" and len(key["AccessKeyId"]) == 20 and len(key["SecretAccessKey"]) == 40
    assert (tmp_path / "k").read_text().strip() == key["SecretAccessKey"]
    again = binlake("api", "create-access-key", "--secret-file", str(tmp_path / "k"))
    assert again.exit_code == 1
    assert again.stderr.strip().startswith(f"Error: cannot create the secret file {tmp_path / 'k'}: File exists")


def test_aws_cli_creates_a_source_endpoint_from_a_secret_reference(api: Api, binlake: Binlake) -> None:
    created = api.aws(
        "dms", "create-endpoint", "--endpoint-identifier", "mariadb-source", "--endpoint-type", "source",
        "--engine-name", "mariadb", "--server-name", "db.internal", "--port", "3306", "--username", "binlake",
        "--my-sql-settings", "SecretsManagerSecretId=env:MYSQL_PASSWORD",
    )  # fmt: skip
    assert created.exit_code == 0, created.stderr
    assert created.json()["Endpoint"]["EndpointArn"] == "arn:aws:dms:us-east-1:000000000000:endpoint:mariadb-source"
    (own,) = binlake.ok("describe-endpoints", "--output", "json").json()["Endpoints"]
    assert (own["EndpointIdentifier"], own["ServerName"], own["Username"]) == (
        "mariadb-source",
        "db.internal",
        "binlake",
    )
    refused = api.aws(
        "dms", "create-endpoint", "--endpoint-identifier", "other", "--endpoint-type", "source",
        "--engine-name", "mariadb", "--server-name", "db.internal", "--username", "binlake", "--password", "pw",
    )  # fmt: skip
    assert refused.exit_code != 0
    assert (
        "(InvalidParameterValueException) when calling the CreateEndpoint operation: binlake stores no passwords"
        in (refused.stderr)
    )


def test_describe_calls_page_with_marker(api: Api, bucket: Path) -> None:
    dms = api.client("dms")
    for number in range(25):
        dms.create_endpoint(
            EndpointIdentifier=f"lake-{number:02d}", EndpointType="target", EngineName="s3",
            S3Settings={"BucketName": str(bucket), "BucketFolder": f"f{number}"},
        )  # fmt: skip
    first = dms.describe_endpoints(MaxRecords=20)
    assert len(first["Endpoints"]) == 20 and first["Marker"]
    pages = list(dms.get_paginator("describe_endpoints").paginate(PaginationConfig={"PageSize": 20}))
    assert [len(p["Endpoints"]) for p in pages] == [20, 5]
    assert [e["EndpointIdentifier"] for p in pages for e in p["Endpoints"]] == [f"lake-{n:02d}" for n in range(25)]
    assert "Marker" not in dms.describe_endpoints()  # DMS's default page holds 100
