"""crawl, query, inspect and verify: the guide's Glue, Athena, parquet-tools and verification steps."""

from __future__ import annotations

import csv
import sys
from enum import StrEnum
from pathlib import Path

import typer

from binlake.catalog.crawler import CATALOG_FILE, crawl
from binlake.catalog.dialects import check_dialect, views_sql
from binlake.catalog.inspect import inspect_file, list_objects
from binlake.catalog.lake import open_lake
from binlake.cli.main import context
from binlake.cli.render import Output, console, print_json, print_records, render
from binlake.errors import BinlakeError
from binlake.query import run_query
from binlake.state import endpoints as endpoints_api
from binlake.target.store import Bucket
from binlake.text import plural
from binlake.verify.checks import Verifier, VerifyOptions


class QueryOutput(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    app.command("crawl")(crawl_command)
    app.command("query")(query_command)
    app.command("inspect")(inspect_command)
    app.command("verify")(verify_command)


def _catalog(ctx: typer.Context, catalog: Path | None) -> Path:
    return catalog or context(ctx).state_dir / CATALOG_FILE


def crawl_command(
    ctx: typer.Context,
    replication_task_arn: str = typer.Option(..., "--replication-task-arn", "--replication-task-identifier"),
    database: str = typer.Option(
        None, "--database", help="Catalog database [default: ecommerce_platform → ecommerce_db]."
    ),
    catalog: Path = typer.Option(None, "--catalog", help="DuckDB catalog file [default: <state dir>/catalog.duckdb]."),
    athena_ddl_only: bool = typer.Option(False, "--athena-ddl", help="The same as --dialect athena."),
    dialect: str = typer.Option(
        None, "--dialect", help="Print the views for duckdb, spark, athena or trino instead of crawling."
    ),
    sql_file: Path = typer.Option(None, "--sql-file", help="With --dialect: write the SQL to this file."),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Catalog a task's replicated tables (the guide's Glue crawler), or print their views for another engine.

    Example: binlake crawl --replication-task-arn ecommerce-replication --dialect spark"""
    if athena_ddl_only or dialect:
        check_dialect(dialect or "athena")
    elif sql_file is not None:
        raise BinlakeError("--sql-file writes the SQL of --dialect", fix="add --dialect duckdb|spark|athena|trino")
    store = context(ctx).store
    lake = open_lake(store, replication_task_arn)
    if athena_ddl_only or dialect:
        sql = views_sql(lake, dialect or "athena", database)
        if sql_file is None:
            sys.stdout.write(sql)
        else:
            sql_file.write_text(sql)
        return
    path = _catalog(ctx, catalog)
    tables = crawl(lake, path, database)
    records = [
        {
            "Database": t.database,
            "Table": t.name,
            "ChangesTable": f"{t.name}__changes",
            "Columns": len(t.columns),
            "PrimaryKey": ",".join(t.key) or "(none: change log only)",
            "Files": t.files,
            "Location": t.location,
        }
        for t in tables
    ]
    render({"Tables": records, "Catalog": str(path)} if output == Output.json else {"Tables": records}, output,
           f"Catalog {path}")  # fmt: skip


def query_command(
    ctx: typer.Context,
    sql: str = typer.Argument(..., help="SQL over the catalog, e.g. SELECT count(*) FROM ecommerce_db.customers"),
    catalog: Path = typer.Option(None, "--catalog", help="DuckDB catalog file [default: <state dir>/catalog.duckdb]."),
    output: QueryOutput = typer.Option(QueryOutput.table, "--output"),
) -> None:
    """Run SQL over the lake (the guide's Athena step).

    Example: binlake query "SELECT * FROM ecommerce_db.customers WHERE email = 'test@example.com'" """
    table = run_query(_catalog(ctx, catalog), sql, context(ctx).store)
    rows = table.to_pylist()
    if output == QueryOutput.json:
        print_json(rows)
    elif output == QueryOutput.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")  # LF, as the AWS CLI's text output
        writer.writerow(table.column_names)
        writer.writerows([["" if v is None else v for v in row.values()] for row in rows])
    else:
        print_records(plural(table.num_rows, "row"), rows, table.column_names, null="NULL")


def inspect_command(
    ctx: typer.Context,
    path: str = typer.Argument(None, help="A Parquet file: a local path, or a key in the target's bucket."),
    replication_task_arn: str = typer.Option(None, "--replication-task-arn", help="List this task's target objects."),
    endpoint_arn: str = typer.Option(None, "--endpoint-arn", help="The target endpoint whose bucket holds PATH."),
    rows: int = typer.Option(5, "--rows", help="How many rows to show."),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Show a file's schema and first rows (parquet-tools schema/head), or list a task's objects (aws s3 ls).

    Example: binlake inspect lake/raw-bucket/hub/ecommerce_platform/customers/LOAD00000001.parquet"""
    store = context(ctx).store
    if replication_task_arn:
        objects = list_objects(open_lake(store, replication_task_arn))
        if output == Output.json:
            print_json({"Contents": objects})
        else:
            for item in objects:
                console.print(f"{item['LastModified']} {item['Size']:>12} {item['Key']}", markup=False)
            console.print(f"Total Objects: {len(objects)}  Total Size: {sum(o['Size'] for o in objects):,}")  # type: ignore[misc]
        return
    if not path:
        raise BinlakeError("nothing to inspect", fix="pass a file path, or --replication-task-arn to list objects")
    bucket = None
    if endpoint_arn:
        endpoint = endpoints_api.get(store, endpoint_arn)
        if endpoint.S3Settings is None:
            raise BinlakeError(f"endpoint {endpoint_arn} is not a target endpoint")
        bucket = Bucket.open(endpoint.S3Settings)
        path = path.removeprefix(bucket.url.rstrip("/") + "/")
    summary = inspect_file(bucket, path, rows)
    fields = [{"Column": f.name, "Type": str(f.type), "Nullable": f.nullable} for f in summary.schema]
    head = [{k: _cell(v) for k, v in row.items()} for row in summary.head.to_pylist()]
    if output == Output.json:
        print_json({"Path": path, "Rows": summary.rows, "RowGroups": summary.row_groups, "Schema": fields,
                    "Head": head, "Metadata": summary.metadata})  # fmt: skip
        return
    console.print(f"{path}: {plural(summary.rows, 'row')} in {plural(summary.row_groups, 'row group')}", markup=False)
    print_records("Schema", fields)
    print_records(f"First {plural(len(head), 'row')}", head, summary.schema.names, null="NULL")


def _cell(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def verify_command(
    ctx: typer.Context,
    replication_task_arn: str = typer.Option(..., "--replication-task-arn", "--replication-task-identifier"),
    catalog: Path = typer.Option(None, "--catalog", help="DuckDB catalog file [default: <state dir>/catalog.duckdb]."),
    probe: bool = typer.Option(True, "--probe/--no-probe", help="Check CDC with a probe row in the source."),
    probe_endpoint_arn: str = typer.Option(
        None, "--probe-endpoint-arn", help="Source endpoint allowed to write the probe."
    ),
    probe_table: str = typer.Option(
        None,
        "--probe-table",
        help="A replicated schema.table for the probe [default: binlake_probe.probe, never replicated].",
    ),
    cdc_deadline: float = typer.Option(300, "--cdc-deadline", help="Seconds the probe row may take (guide: 5 min)."),
    output: Output = typer.Option(Output.table, "--output"),
) -> None:
    """Run the guide's verification script: 8 success criteria, with exact source-to-target comparison.

    Example: binlake verify --replication-task-arn ecommerce-replication --output json"""
    options = VerifyOptions(_catalog(ctx, catalog), probe, probe_endpoint_arn, probe_table, cdc_deadline)
    checks = Verifier(context(ctx).store, replication_task_arn, options).run()
    passed = all(c.passed for c in checks)
    if output == Output.json:
        print_json({"ReplicationTaskArn": replication_task_arn, "Passed": passed,
                    "Checks": [c.describe() for c in checks]})  # fmt: skip
    else:
        for number, check in enumerate(checks, start=1):
            mark = "✓" if check.passed else "✗"
            console.print(f"{mark} {number}. {check.name}: {check.evidence}", markup=False)
            if check.fix and not check.passed:
                console.print(f"    fix: {check.fix}", markup=False)
        console.print("All checks passed." if passed else "Verification failed.", markup=False)
    if not passed:
        raise typer.Exit(1)
