"""create-endpoint, describe-endpoints, delete-endpoint, test-connection."""

from __future__ import annotations

from pathlib import Path

import typer

from binlake.cli.main import context
from binlake.cli.render import Output, render
from binlake.config.endpoint import new_endpoint
from binlake.config.filters import keep, parse_filters
from binlake.engine.connectivity import test_endpoint
from binlake.errors import BinlakeError
from binlake.source.connection import endpoint_address
from binlake.state import endpoints as endpoints_api

ENDPOINT_FILTERS = ("endpoint-arn", "endpoint-id", "endpoint-type", "engine-name")
REGION_HELP = "Accepted for AWS CLI compatibility; ignored."


def register(app: typer.Typer) -> None:
    app.command("create-endpoint")(create_endpoint)
    app.command("describe-endpoints")(describe_endpoints)
    app.command("delete-endpoint")(delete_endpoint)
    app.command("test-connection")(test_connection)


def create_endpoint(
    ctx: typer.Context,
    endpoint_identifier: str = typer.Option(..., "--endpoint-identifier"),
    endpoint_type: str = typer.Option(..., "--endpoint-type", help="source or target"),
    engine_name: str = typer.Option(..., "--engine-name", help="mysql, mariadb, aurora (source); s3 (target)"),
    server_name: str = typer.Option("", "--server-name"),
    port: int = typer.Option(3306, "--port"),
    username: str = typer.Option("", "--username"),
    password: str = typer.Option(None, "--password", hidden=True),
    password_env: str = typer.Option("", "--password-env", help="Environment variable holding the password."),
    password_file: Path = typer.Option(None, "--password-file", help="File holding the password."),
    database_name: str = typer.Option("", "--database-name"),
    ssl_mode: str = typer.Option("none", "--ssl-mode", help="none, require, verify-ca, verify-full"),
    certificate: str = typer.Option("", "--certificate-arn", "--certificate", help="CA certificate file for TLS."),
    s3_settings: str = typer.Option("", "--s3-settings", help="DMS S3Settings JSON, or file://settings.json"),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Create a source (MySQL/MariaDB) or target (S3 or local directory) endpoint.

    Example: binlake create-endpoint --endpoint-identifier src --endpoint-type source --engine-name mysql
    --server-name 127.0.0.1 --port 3306 --username binlake --password-env MYSQL_PASSWORD"""
    if password is not None:
        raise BinlakeError(
            "--password would leave the password in your shell history and process list",
            fix="pass --password-env VARIABLE or --password-file PATH",
        )
    if password_env and password_file:
        raise BinlakeError("--password-env and --password-file both given", fix="pass one of them")
    password_ref = (
        f"env:{password_env}" if password_env else f"file:{password_file.absolute()}" if password_file else ""
    )
    endpoint = new_endpoint(
        endpoint_identifier,
        endpoint_type,
        engine_name,
        server_name=server_name,
        port=port,
        username=username,
        database_name=database_name,
        ssl_mode=ssl_mode,
        certificate=certificate,
        password_ref=password_ref,
        s3_settings=s3_settings,
    )
    endpoints_api.create(context(ctx).store, endpoint)
    render({"Endpoint": endpoint.describe()}, output, "Endpoint created")


def describe_endpoints(
    ctx: typer.Context,
    filters: list[str] = typer.Option(None, "--filters", help='e.g. "Name=endpoint-type,Values=target"'),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """List endpoints, optionally filtered.

    Example: binlake describe-endpoints --filters "Name=endpoint-type,Values=target" --output json"""
    wanted = parse_filters(filters, ENDPOINT_FILTERS)
    shapes = [
        e.describe()
        for e in endpoints_api.list_all(context(ctx).store)
        if keep(
            wanted,
            {
                "endpoint-arn": e.EndpointIdentifier,
                "endpoint-id": e.EndpointIdentifier,
                "endpoint-type": e.EndpointType,
                "engine-name": e.EngineName,
            },
        )
    ]
    if output != Output.json:
        for shape in shapes:
            settings = shape.pop("S3Settings", None)
            if settings:
                shape["Bucket"] = "/".join(p for p in (settings["BucketName"], settings["BucketFolder"]) if p)
                shape["DataFormat"] = settings["DataFormat"]
    render({"Endpoints": shapes}, output, "Endpoints")


def delete_endpoint(
    ctx: typer.Context,
    endpoint_arn: str = typer.Option(..., "--endpoint-arn", "--endpoint-identifier"),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Delete an endpoint that no task uses.

    Example: binlake delete-endpoint --endpoint-arn src"""
    endpoint = endpoints_api.delete(context(ctx).store, endpoint_arn)
    shape = endpoint.describe()
    shape["Status"] = "deleting"
    render({"Endpoint": shape}, output, "Endpoint deleted")


def test_connection(
    ctx: typer.Context,
    endpoint_arn: str = typer.Option(..., "--endpoint-arn", "--endpoint-identifier"),
    replication_instance_arn: str = typer.Option("", "--replication-instance-arn", help=REGION_HELP),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Test that an endpoint is reachable, the login works and the needed privileges are there.

    Example: binlake test-connection --endpoint-arn src (exit 1 when the connection fails)"""
    endpoint = endpoints_api.get(context(ctx).store, endpoint_arn)
    address = endpoint_address(endpoint) if endpoint.is_source else None
    result = test_endpoint(endpoint, address)
    render(result.describe(), output, "Connection")
    if result.status != "successful":
        raise typer.Exit(1)
