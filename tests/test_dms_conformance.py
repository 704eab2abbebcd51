"""binlake's Parquet files against one AWS DMS itself wrote (../shared/fixtures/dms, read in place): for an
equivalent MariaDB table, the schema is compared column by column (order, physical and logical types,
required/optional, decimal width) and the footer's format version, in the LOAD file and a CDC file."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import Binlake, mappings
from tests.helpers import execute, start_detached, stop, wait_caught_up, wait_streaming
from tests.lake import cdc_files, load_files, table_dir, target_settings

FIXTURE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "dms" / "dms_test_table_LOAD00000001.parquet"
)
# The fixture's PostgreSQL table, in MariaDB's types.
TABLE = """CREATE TABLE `{db}`.dms_test_table (
    id BIGINT PRIMARY KEY, my_int INT, my_smallint SMALLINT, my_numeric DECIMAL(15,2), my_real FLOAT,
    my_double DOUBLE, my_money DECIMAL(38,4), my_varchar VARCHAR(50), my_text TEXT, my_bytea BLOB,
    my_timestamp TIMESTAMP(6) NULL, my_uuid UUID, my_json JSON, my_jsonb JSON, my_bool BOOLEAN)"""
ROW = """INSERT INTO `{db}`.dms_test_table VALUES ({id}, 1298498081, 15887, 1427131847.59, 0.42, 0.68,
    47632969758.54, '', 'mraj', 'whthctcu', '2021-10-31 15:34:12.458', '181e9c5d-9b55-4535-8c6e-6c8c1234b807',
    '{{"key_24":"pldnjobcs"}}', '{{"key_5": "bzrjxawn"}}', FALSE)"""
# MySQL has no boolean: BOOLEAN is TINYINT(1), an int8 (README, "Where binlake differs from DMS").
KNOWN_DIFFERENCES = {"my_bool": ("BOOLEAN", "INT32")}


def columns(path: Path) -> dict[str, tuple]:
    """name -> (physical type, logical type without how it was annotated, required?, fixed length)."""
    schema = pq.ParquetFile(path).schema
    described = {}
    for i in range(len(schema)):
        column = schema.column(i)
        logical = json.loads(column.logical_type.to_json())
        for how in ("is_from_converted_type", "force_set_converted_type"):
            logical.pop(how, None)
        described[column.name] = (column.physical_type, logical, column.max_definition_level == 0, column.length)
    return described


@pytest.fixture
def dms_file() -> Path:
    if not FIXTURE.exists():
        pytest.skip(f"the DMS-written fixture is not at {FIXTURE} (a copy of shared/ beside the clone)")
    return FIXTURE


def test_parquet_schema_matches_a_file_aws_dms_wrote(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, dms_file: Path
) -> None:
    execute(admin, TABLE.format(db=database), ROW.format(db=database, id=1))
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "like-dms", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, TimestampColumnName="DMS_TIMESTAMP",
                                         ParquetTimestampInMillisecond=True, CdcMaxBatchInterval=0.2),
    )  # fmt: skip
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "like-dms", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "like-dms", "--migration-type", "full-load-and-cdc",
        "--table-mappings", mappings(database),
    )  # fmt: skip
    start_detached(binlake, "like-dms")
    wait_streaming(binlake, "like-dms")
    execute(admin, ROW.format(db=database, id=2))
    wait_caught_up(binlake, "like-dms", admin)
    stop(binlake, "like-dms")
    directory = table_dir(bucket, database, "dms_test_table")
    [load], [cdc] = load_files(directory), cdc_files(directory)

    expected, ours = columns(dms_file), columns(load)
    assert list(ours) == list(expected)  # DMS_TIMESTAMP first, then the table's columns in order
    for name, dms in expected.items():
        if name in KNOWN_DIFFERENCES:
            assert (dms[0], ours[name][0]) == KNOWN_DIFFERENCES[name]
            continue
        assert ours[name] == dms, f"column {name}: binlake {ours[name]}, DMS {dms}"
    assert pq.ParquetFile(load).metadata.format_version == pq.ParquetFile(dms_file).metadata.format_version == "2.6"
    stamp = pq.read_table(load).column("DMS_TIMESTAMP")[0].as_py()
    assert len(stamp) == len("2022-07-26 06:46:18.616807") and stamp[10] == " " and stamp[19] == "."

    changes = columns(cdc)
    assert list(changes) == ["Op", *expected]  # CDC files: Op, then the same columns as the LOAD file
    assert {name: changes[name] for name in ours} == ours
    assert pq.read_table(cdc).column("DMS_TIMESTAMP")[0].as_py().endswith(".000000")  # commit time, whole seconds


def test_timestamp_column_type_timestamp_keeps_the_typed_column(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path
) -> None:
    execute(admin, f"CREATE TABLE `{database}`.t (id INT PRIMARY KEY)", f"INSERT INTO `{database}`.t VALUES (1)")
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "typed", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(bucket, TimestampColumnName="ts", TimestampColumnType="timestamp"),
    )  # fmt: skip
    binlake.ok(
        "create-replication-task", "--replication-task-identifier", "typed", "--source-endpoint-arn", "src",
        "--target-endpoint-arn", "typed", "--migration-type", "full-load", "--table-mappings", mappings(database),
    )  # fmt: skip
    binlake.ok("start-replication-task", "--replication-task-arn", "typed", "--quiet")
    [load] = load_files(table_dir(bucket, database, "t"))
    field = pq.read_schema(load).field("ts")
    assert (str(field.type), field.nullable) == ("timestamp[us]", False)
