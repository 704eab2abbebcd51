"""``binlake api``: an AWS API endpoint (DMS, CloudWatch, CloudWatch Logs) for ``aws --endpoint-url`` and boto3."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from binlake.api import keys
from binlake.api.arns import DEFAULT_ACCOUNT
from binlake.api.server import DEFAULT_HOST, DEFAULT_PORT, ApiServer
from binlake.cli.main import context
from binlake.cli.render import Output, console, print_json, render

REGION_HELP = "Accepted for AWS CLI compatibility; ignored (ARNs take the region each request is signed for)."

api_app = typer.Typer(help="An AWS API endpoint: aws dms / logs / cloudwatch --endpoint-url.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(api_app, name="api")


def _print_key(key: keys.AccessKey, output: Output) -> None:
    if output == Output.json:
        print_json(key.created_shape())
        return
    shape = key.created_shape()["AccessKey"]
    render({"AccessKey": [shape]}, output, "Access key (the secret is shown this once)", list(shape))
    console.print(
        f"export AWS_ACCESS_KEY_ID={key.access_key_id} AWS_SECRET_ACCESS_KEY={key.secret.reveal()}", markup=False
    )


@api_app.command("create-access-key")
def create_access_key(
    ctx: typer.Context,
    secret_file: Path = typer.Option(
        None, "--secret-file", help="Where to keep the secret (a new file, mode 0600) [default: <state>/api/]."
    ),
    region: str = typer.Option("", "--region", help=REGION_HELP),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Create an access key pair for the API and print it (the secret only this once).

    Example: binlake api create-access-key --output json | jq -r .AccessKey.SecretAccessKey"""
    cli = context(ctx)
    cli.store  # noqa: B018 - opens (and checks) the state directory before the key goes into it
    _print_key(keys.create(cli.state_dir, secret_file), output)


@api_app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option(DEFAULT_HOST, "--host", help="The address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="The port (0 picks a free one)."),
    account_id: str = typer.Option(DEFAULT_ACCOUNT, "--account-id", help="The account in the ARNs binlake returns."),
    region: str = typer.Option("", "--region", help=REGION_HELP),
) -> None:
    """Serve the DMS, CloudWatch and CloudWatch Logs APIs over this state directory, SigV4-signed.

    Example: binlake api serve --port 4566, then aws dms describe-replication-tasks --endpoint-url
    http://127.0.0.1:4566"""
    cli = context(ctx)
    store = cli.store
    if not keys.access_key_ids(cli.state_dir):
        _print_key(keys.create(cli.state_dir), Output.table)
    server = ApiServer(store, host, port, account_id)
    console.print(f"Access keys: {', '.join(keys.access_key_ids(cli.state_dir))}", markup=False)
    console.print(f"AWS API endpoint: {server.url} (Ctrl-C to stop)", markup=False)
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
