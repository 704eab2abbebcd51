"""sandbox start|stop|status, and sample create: a private MariaDB and the guide's sample data."""

from __future__ import annotations

import typer

from binlake.cli.main import context
from binlake.cli.render import Output, console, render
from binlake.errors import BinlakeError
from binlake.sandbox import Sandbox

sandbox_app = typer.Typer(help="A private MariaDB (binlog on) for the demo and the tests.", no_args_is_help=True)
sample_app = typer.Typer(help="The guide's sample data: ecommerce_platform.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
    app.add_typer(sample_app, name="sample")


def _sandbox(ctx: typer.Context, port: int | None = None) -> Sandbox:
    cli = context(ctx)
    cli.store  # noqa: B018 - marks the state directory as binlake's before the sandbox writes into it
    return Sandbox(cli.sandbox_dir, port=port)


def _show(sandbox: Sandbox, output: Output, title: str) -> None:
    info = sandbox.info().as_dict()
    render({"Sandbox": info}, output, title)
    if output != Output.json and info["running"]:
        console.print(
            f"Source endpoint: binlake create-endpoint --endpoint-identifier mariadb-source --endpoint-type source "
            f"--engine-name mariadb --server-name {info['host']} --port {info['port']} --username {info['user']} "
            f"--password-file {info['password_file']}"
        )


@sandbox_app.command("start")
def start(
    ctx: typer.Context,
    port: int = typer.Option(None, "--port", help="TCP port on 127.0.0.1 [default: 33306, or a free one]."),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Start (creating on first use) the private MariaDB under the state directory."""
    sandbox = _sandbox(ctx, port)
    sandbox.start()
    _show(sandbox, output, "Sandbox MariaDB running")


@sandbox_app.command("stop")
def stop(ctx: typer.Context, destroy: bool = typer.Option(False, "--destroy", help="Also delete its data.")) -> None:
    """Stop the sandbox MariaDB."""
    sandbox = _sandbox(ctx)
    stopped = sandbox.destroy() if destroy else sandbox.stop()
    console.print("Sandbox MariaDB stopped." if stopped or destroy else "Sandbox MariaDB was not running.")


@sandbox_app.command("status")
def status(ctx: typer.Context, output: Output = typer.Option(Output.table, "--output")) -> None:
    """Show whether the sandbox runs and how to connect to it."""
    sandbox = _sandbox(ctx)
    _show(sandbox, output, "Sandbox MariaDB")
    if not sandbox.is_running():
        raise typer.Exit(3)


@sample_app.command("create")
def create(
    ctx: typer.Context,
    customers: int = typer.Option(10_000, "--customers", min=0),
    products: int = typer.Option(5_000, "--products", min=1),
    orders: int = typer.Option(20_000, "--orders", min=0),
    database: str = typer.Option("ecommerce_platform", "--database"),
    seed: int = typer.Option(42, "--seed"),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Create the guide's ecommerce_platform database (customers, products, orders) in the sandbox."""
    from binlake.sample import create_sample

    sandbox = _sandbox(ctx)
    if not sandbox.is_running():
        raise BinlakeError("the sandbox MariaDB is not running", fix="run binlake sandbox start")
    if orders and not customers:
        raise BinlakeError("orders need customers", fix="pass --customers 1 or more")
    conn = sandbox.root_connection()
    try:
        counts = create_sample(
            conn, database=database, customers=customers, products=products, orders=orders, seed=seed
        )
    finally:
        conn.close()
    render({"Sample": {"Database": database, **{k.capitalize(): v for k, v in counts.items()}}}, output, "Sample data")
