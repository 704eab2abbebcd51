"""Each source table writes its own target folder, and nothing else (invariant 7).

Transformation rules can send two source tables to one folder (``Orders`` and ``orders`` with
``convert-lowercase``, two ``rename`` rules with one value): both would delete the folder at their full
load and write the same ``LOAD00000001.parquet``, and one table's data would silently disappear. Such a
task is refused when it is created, when it starts, and when a new table appears during CDC.

Folders that differ only by case count as one: a case-insensitive filesystem stores them in one
directory, and DuckDB, Glue and Athena name tables case-insensitively, so their catalog views would
replace each other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from binlake.config.endpoint import S3Settings
from binlake.config.mappings import TableMappings
from binlake.errors import BinlakeError
from binlake.state import statistics
from binlake.state.store import StateStore
from binlake.target import naming
from binlake.target.store import Bucket

log = logging.getLogger(__name__)


def target_names(mappings: TableMappings, schema: str, table: str) -> tuple[str, str]:
    """The table's target schema and table names, refused when a rule makes one empty."""
    target_schema, target_table = mappings.target_schema(schema), mappings.target_table(schema, table)
    if not target_schema or not target_table:
        rules = _rules(mappings, schema, table) or "the source name"
        raise BinlakeError(
            f"source table {schema}.{table} maps to an empty target name ({rules})",
            fix="change the transformation rule so that the schema and table names keep at least one character",
        )
    return target_schema, target_table


def folder(mappings: TableMappings, s3: S3Settings, schema: str, table: str) -> str:
    """The table's target folder, ``<BucketFolder>/<schema>/<table>`` with every name one key segment."""
    return naming.table_prefix(s3.BucketFolder, *target_names(mappings, schema, table))


def check_target_folders(tables: Iterable[tuple[str, str]], mappings: TableMappings, s3: S3Settings) -> None:
    """Refuse two source tables that would write one target folder: a one-line error naming both."""
    seen: dict[str, tuple[str, str]] = {}
    for schema, table in tables:
        path = folder(mappings, s3, schema, table)
        other = seen.setdefault(path.casefold(), (schema, table))
        if other != (schema, table):
            raise _collision(mappings, s3, other, (schema, table))


def check_new_table(
    store: StateStore, task: str, mappings: TableMappings, s3: S3Settings, schema: str, table: str
) -> None:
    """A table that appears during CDC (CREATE TABLE, RENAME TABLE) against the task's other tables."""
    path = folder(mappings, s3, schema, table)
    for other in statistics.live_tables(store, task):
        if other != (schema, table) and folder(mappings, s3, *other).casefold() == path.casefold():
            raise _collision(mappings, s3, other, (schema, table))


def remove_stale_temp_files(
    store: StateStore,
    task: str,
    bucket: Bucket,
    mappings: TableMappings,
    s3: S3Settings,
    tables: Iterable[tuple[str, str]],
) -> int:
    """Delete the unpublished files a killed run of this task left in its tables' folders."""
    removed = 0
    for schema, table in tables:
        removed += bucket.remove_temp_files(folder(mappings, s3, schema, table))
    if removed:
        log.info("Removed %d unpublished files left by an earlier run", removed)
        store.add_event(task, "recovery", f"Removed {removed} unpublished files left by an earlier run")
    return removed


def _collision(
    mappings: TableMappings, s3: S3Settings, first: tuple[str, str], second: tuple[str, str]
) -> BinlakeError:
    first, second = sorted([first, second])
    paths = folder(mappings, s3, *first), folder(mappings, s3, *second)
    if paths[0] == paths[1]:
        where = f"both map to target folder {paths[0]}"
    else:
        where = f"map to target folders {paths[0]} and {paths[1]}, which differ only by case"
    rules = [r for r in (_rules(mappings, *first), _rules(mappings, *second)) if r]
    how = f" ({' and '.join(dict.fromkeys(rules))})" if rules else ""
    return BinlakeError(
        f"source tables {first[0]}.{first[1]} and {second[0]}.{second[1]} {where}{how}",
        fix="add a rename rule for one of them or exclude one with a selection rule",
    )


def _rules(mappings: TableMappings, schema: str, table: str) -> str:
    """The transformation rules that name the table's target schema or table, as ``rule 'name'``."""
    return ", ".join(f"rule {name!r}" for name in mappings.naming_rules(schema, table))
