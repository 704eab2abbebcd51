"""What a task's target holds: its tables' folders, their LOAD and CDC files, and their schemas."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from binlake.config.endpoint import S3Settings
from binlake.errors import BinlakeError
from binlake.state import endpoints as endpoints_api
from binlake.state import tasks as tasks_api
from binlake.state.store import StateStore
from binlake.target import naming
from binlake.target.store import Bucket, ObjectInfo


@dataclass
class LakeTable:
    """One replicated table in the target."""

    source_schema: str
    source_table: str
    schema: str  # target folder names
    table: str
    prefix: str  # <BucketFolder>/<schema>/<table>
    key: list[str]
    load_files: list[ObjectInfo] = field(default_factory=list)
    cdc_files: list[ObjectInfo] = field(default_factory=list)

    @property
    def files(self) -> list[ObjectInfo]:
        return self.load_files + self.cdc_files

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass
class Lake:
    task: str
    endpoint: str  # the target endpoint's identifier
    bucket: Bucket
    settings: S3Settings
    tables: list[LakeTable]

    def path(self, info: ObjectInfo) -> str:
        """A path DuckDB and pyarrow can open: absolute for a local bucket."""
        return self.bucket.full(info.path)

    def duckdb_path(self, path: str) -> str:
        return self.bucket.duckdb_path(path)

    def schema(self, table: LakeTable) -> pa.Schema:
        """The union of the table's file schemas by column name, in first-seen order (schema changes included)."""
        fields: dict[str, pa.Field] = {}
        for info in table.files:
            with self.bucket.fs.open_input_file(self.path(info)) as handle:
                for f in pq.read_schema(handle):
                    fields.setdefault(f.name, f)
        return pa.schema(list(fields.values()))


def list_files(bucket: Bucket, table: LakeTable) -> None:
    """(Re)read the table's LOAD and CDC files; CDC files in name order, which is commit order."""
    table.load_files, table.cdc_files = [], []
    for info in bucket.list(table.prefix):
        name = info.path.rpartition("/")[2]
        if naming.LOAD_FILE.match(name):
            table.load_files.append(info)
        elif naming.CDC_FILE.match(name):
            table.cdc_files.append(info)
    table.cdc_files.sort(key=lambda info: info.path.rpartition("/")[2])


def open_lake(store: StateStore, task_id: str) -> Lake:
    task = tasks_api.get(store, task_id)
    target = endpoints_api.get(store, task.target_endpoint)
    assert target.S3Settings is not None
    settings = target.S3Settings
    bucket = Bucket.open(settings)
    tables = []
    for row in tasks_api.table_statistics(store, task_id):
        prefix = naming.table_prefix(settings.BucketFolder, row.target_schema, row.target_table)
        table = LakeTable(
            row.schema_name, row.table_name, row.target_schema, row.target_table, prefix, list(row.primary_key or [])
        )
        list_files(bucket, table)
        tables.append(table)
    if not tables:
        raise BinlakeError(
            f"replication task {task_id} has not replicated any table yet",
            fix=f"start-replication-task --replication-task-arn {task_id} first",
        )
    if settings.DataFormat != "parquet":
        raise BinlakeError(
            f"the target of {task_id} writes {settings.DataFormat}; the catalog reads Parquet targets",
            fix='use "DataFormat": "parquet" on the target endpoint',
        )
    return Lake(task_id, task.target_endpoint, bucket, settings, tables)
