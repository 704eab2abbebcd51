"""CdcMinFileSize is the size of the output file, as DMS means it (docs/cdc.md, Files): with a long
CdcMaxBatchInterval, a steady stream of small transactions is written in files of about CdcMinFileSize bytes
on disk, not one per transaction and not a fraction of the setting.

The table's Parquet files take about 0.55 bytes per byte of binlog row image and its CSV files about 1.6, so
counting row images (the rule before) misses the setting both ways: 36 KB Parquet files, 107 KB CSV files."""

from __future__ import annotations

from pathlib import Path

import pytest

from binlake.position import BinlogPosition
from tests.conftest import Binlake
from tests.helpers import create_cdc_task, execute, master_position, start_detached, stop, wait_streaming
from tests.lake import cdc_files, cdc_rows, merged, source_state, table_dir, target_settings, task_row, wait_for

MIN_FILE_KB = 64
# A file is cut at the first COMMIT after its estimated size reaches the setting; the estimate follows the
# table's ratio of file bytes to row-image bytes, learned from its earlier files. Once learned, a file is within
# this fraction of CdcMinFileSize.
TOLERANCE = 0.10
TRANSACTIONS = 1_200


@pytest.mark.parametrize("data_format", ["parquet", "csv"])
def test_cdc_files_follow_cdc_min_file_size_in_output_bytes(
    binlake: Binlake, endpoints, admin, database: str, bucket: Path, decoder_path: str, data_format: str
) -> None:
    db = database
    binlake.ok(
        "create-endpoint", "--endpoint-identifier", "sized", "--endpoint-type", "target", "--engine-name", "s3",
        "--s3-settings", target_settings(
            bucket, CdcMaxBatchInterval=3600, CdcMinFileSize=MIN_FILE_KB, DataFormat=data_format
        ),
    )  # fmt: skip
    execute(
        admin,
        f"CREATE TABLE `{db}`.orders (id INT PRIMARY KEY, qty INT, price DECIMAL(10,2), status VARCHAR(16), "
        "placed DATETIME(3), paid DATETIME(6) NULL)",
    )
    create_cdc_task(binlake, "sized", db, migration="cdc", target="sized")
    start_detached(binlake, "sized")
    wait_streaming(binlake, "sized")
    cur = admin.cursor()
    for n in range(TRANSACTIONS):  # OLTP-sized transactions: 8 inserts, then 4 updates and 1 delete
        base = n * 8
        cur.execute("BEGIN")
        cur.execute(
            f"INSERT INTO `{db}`.orders SELECT seq, seq % 97, seq / 7, ELT(seq % 3 + 1, 'open', 'paid', 'shipped'), "
            f"'2026-01-16 12:00:00' + INTERVAL seq SECOND, NULL FROM `{db}`.seq_{base + 1}_to_{base + 8}"
        )
        cur.execute(
            f"UPDATE `{db}`.orders SET qty = qty + 1, status = 'paid', paid = '2026-01-17 08:00:00.123456' "
            f"WHERE id BETWEEN {base + 1} AND {base + 4}"
        )
        cur.execute(f"DELETE FROM `{db}`.orders WHERE id = {base + 8}")
        cur.execute("COMMIT")
    end = master_position(admin)
    # Read, not checkpointed: the last batch waits for the stop (CdcMaxBatchInterval is an hour).
    wait_for(lambda: BinlogPosition.parse(task_row(binlake.state_dir, "sized")["cdc_read_position"]) >= end,
             timeout=300, what=f"read position {end}")  # fmt: skip
    stop(binlake, "sized")  # the stop writes the last, partial batch

    directory = table_dir(bucket, db, "orders")
    if data_format == "parquet":
        assert merged(directory, ("id",)) == source_state(admin, db, "orders", ("id",))
        assert len(cdc_rows(directory)) == TRANSACTIONS * 13
    files = cdc_files(directory)
    sizes = [path.stat().st_size for path in files]
    limit = MIN_FILE_KB * 1024
    # Far fewer files than transactions, and every file but the first (the table's ratio is not known yet) and
    # the last (written by the stop) within TOLERANCE of CdcMinFileSize on disk.
    assert 4 <= len(files) <= TRANSACTIONS // 50, sizes
    assert limit / 4 <= sizes[0] <= limit * (1 + TOLERANCE), sizes  # the first guess is on the safe side
    steady = sizes[1:-1]
    assert all(abs(size - limit) <= limit * TOLERANCE for size in steady), (limit, sizes)
    assert sizes[-1] <= limit * (1 + TOLERANCE), sizes
