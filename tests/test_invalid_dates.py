"""Days past their month's end ('2024-02-30'), which MariaDB stores under sql_mode ALLOW_INVALID_DATES: no date
either, so NULL and counted, like zero dates, in the full load and in CDC. Both crashed with a traceback before
(pyarrow's cast in the load, ``datetime(...)`` in the binlog decoder)."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow.parquet as pq

from binlake.capture.binlog.reader import RowChanges
from binlake.sandbox import SandboxInfo
from binlake.state.store import StateStore
from tests.conftest import Binlake
from tests.helpers import decoded_rows
from tests.oracle.source import binlog_position, connect, global_setting, read_binlake
from tests.type_cases import TABLE, TASK, load_file, run_full_load

COLUMNS = "id INT PRIMARY KEY, d DATE, dt DATETIME, dt3 DATETIME(3)"
ROWS = (
    "(1, '2024-02-30', '2023-04-31 00:00:00', '2023-02-31 10:00:00.5'), "
    "(2, '2024-02-29', '2023-04-30 00:00:00', '2023-02-28 10:00:00.5'), "
    "(3, '2023-11-31', NULL, '2023-06-31 23:59:59.999')"
)
EXPECTED = [
    {"id": 1, "d": None, "dt": None, "dt3": None},
    {"id": 2, "d": date(2024, 2, 29), "dt": datetime(2023, 4, 30), "dt3": datetime(2023, 2, 28, 10, 0, 0, 500000)},
    {"id": 3, "d": None, "dt": None, "dt3": None},
]
INVALID = 5


def test_invalid_dates_become_null_and_are_counted_in_the_full_load(
    admin, binlake: Binlake, bucket, database: str, endpoints
) -> None:
    cur = admin.cursor()
    cur.execute(f"CREATE TABLE `{database}`.`{TABLE}` ({COLUMNS})")
    cur.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
    cur.execute(f"INSERT INTO `{database}`.`{TABLE}` VALUES {ROWS}")
    cur.execute("SET SESSION sql_mode = DEFAULT")
    run_full_load(binlake, database, 3)
    assert pq.read_table(load_file(bucket, database)).sort_by("id").to_pylist() == EXPECTED
    store = StateStore(binlake.state_dir, create=False)
    try:
        [stats] = store.query("SELECT zero_dates FROM table_statistics WHERE task = ?", (TASK,))
    finally:
        store.close()
    assert stats["zero_dates"] == INVALID


def test_invalid_dates_become_null_and_are_counted_in_cdc(sandbox_info: SandboxInfo, database: str) -> None:
    conn = connect(sandbox_info)
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE `{database}`.t ({COLUMNS})")
    with global_setting(conn, "mysql56_temporal_format", "OFF"):  # and in MariaDB 5.3's layouts
        cur.execute(f"CREATE TABLE `{database}`.old ({COLUMNS})")
    start = binlog_position(conn)
    cur.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
    for table in ("t", "old"):
        cur.execute(f"INSERT INTO `{database}`.{table} VALUES {ROWS}")
    items = read_binlake(sandbox_info, start, {database})
    assert decoded_rows(items, "t") == EXPECTED
    assert decoded_rows(items, "old") == EXPECTED
    # Counted per table, by the decoder of its layout (the engine adds them to its table statistics).
    decoders = {id(item.decoder): item.decoder for item in items if isinstance(item, RowChanges)}.values()
    counted = {decoder.table_map.table: decoder.take_zero_dates() for decoder in decoders}
    assert counted == {"t": INVALID, "old": INVALID}
