"""Zero and invalid dates are counted per table, by the full load and by CDC, into the table's statistics
(``ZeroDates`` in describe-table-statistics; ``zero_dates`` and ``cdc_zero_dates`` in TableStatistics). Before,
CDC only kept one process-wide counter, logged without a table and never stored.

The oracle is the source: every temporal value of the rows written, read as the server's text, that is no
valid calendar date for Python counts once."""

from __future__ import annotations

from datetime import date, datetime

from binlake.state import statistics
from binlake.state.store import StateStore
from tests.conftest import Binlake
from tests.helpers import create_cdc_task, execute, start_detached, stop, wait_caught_up, wait_streaming

TASK = "zero-dates"
COLUMNS = "id INT PRIMARY KEY, d DATE, dt DATETIME(3), ts TIMESTAMP(6) NULL DEFAULT NULL"
LOAD_ROWS = (
    "(1, '0000-00-00', '2024-02-30 10:00:00', '0000-00-00 00:00:00'), "
    "(2, '2024-02-29', '2023-04-30 00:00:00.5', '2024-01-16 12:00:00'), "
    "(3, '2020-00-15', NULL, NULL), "
    "(4, '2021-06-00', '0000-00-00 00:00:00', '2024-01-16 12:00:00.25')"
)
CDC_ROWS = (
    "(11, '2023-11-31', '0000-01-01 00:00:00', '0000-00-00 00:00:00'), "
    "(12, '2024-02-29', '2024-02-29 23:59:59.999', NULL), "
    "(13, '0000-00-00', '2020-05-00 10:00:00', '2038-01-19 03:14:07')"
)


def is_date(text: str) -> bool:
    try:
        (datetime.fromisoformat if " " in text else date.fromisoformat)(text)
    except ValueError:
        return False
    return True


def source_zero_dates(admin, database: str, table: str, where: str) -> int:
    """Temporal values of the matching rows that are no date, read through the server's text."""
    cur = admin.cursor()
    cur.execute(f"SELECT CAST(d AS CHAR), CAST(dt AS CHAR), CAST(ts AS CHAR) FROM `{database}`.`{table}` WHERE {where}")
    return sum(1 for row in cur.fetchall() for value in row if value is not None and not is_date(value))


def test_zero_dates_are_counted_per_table_in_full_load_and_cdc(
    admin, binlake: Binlake, database: str, cdc_target: str, decoder_path: str
) -> None:
    execute(
        admin,
        f"CREATE TABLE `{database}`.dates ({COLUMNS})",
        f"CREATE TABLE `{database}`.clean ({COLUMNS})",
        "SET SESSION sql_mode = ''",
        f"INSERT INTO `{database}`.dates VALUES {LOAD_ROWS}",
        f"INSERT INTO `{database}`.clean VALUES (1, '2024-02-29', '2024-02-29 10:00:00', '2024-01-16 12:00:00')",
    )
    loaded = source_zero_dates(admin, database, "dates", "TRUE")
    assert loaded == 6, "the load rows must hold zero dates of each kind"
    create_cdc_task(binlake, TASK, database, target=cdc_target)
    start_detached(binlake, TASK)
    try:
        wait_streaming(binlake, TASK)
        execute(admin, "SET SESSION sql_mode = ''", f"INSERT INTO `{database}`.dates VALUES {CDC_ROWS}")
        deleted = source_zero_dates(admin, database, "dates", "id = 1")  # a delete writes its row's image
        execute(
            admin,
            f"DELETE FROM `{database}`.dates WHERE id = 1",
            f"INSERT INTO `{database}`.clean VALUES (2, '2000-01-01', NULL, '2024-01-16 12:00:00')",
        )
        captured = source_zero_dates(admin, database, "dates", "id > 10") + deleted
        wait_caught_up(binlake, TASK, admin)
    finally:
        stop(binlake, TASK)
    assert captured == 8

    store = StateStore(binlake.state_dir, create=False)
    try:
        dates = statistics.get(store, TASK, database, "dates")
        clean = statistics.get(store, TASK, database, "clean")
    finally:
        store.close()
    assert dates is not None and clean is not None
    assert (dates.inserts, dates.deletes) == (3, 1)
    assert (dates.zero_dates, dates.cdc_zero_dates) == (loaded, captured)
    assert (clean.zero_dates, clean.cdc_zero_dates) == (0, 0)

    shown = binlake.ok("describe-table-statistics", "--replication-task-arn", TASK, "--output", "json").json()
    zero_dates = {row["TableName"]: row["ZeroDates"] for row in shown["TableStatistics"]}
    assert zero_dates == {"clean": 0, "dates": loaded + captured}
