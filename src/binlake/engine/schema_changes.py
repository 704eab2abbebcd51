"""What a DDL statement of the binlog means for the tables a task replicates.

Each selected table a statement touches gets one step, in statement order:

- ``reload``: load the table again from a fresh snapshot. Its rows changed without row events (TRUNCATE, a
  partition truncated, dropped or exchanged) or it appeared under a selected name (CREATE, RENAME into the
  selection), which DMS answers by starting to replicate it;
- ``cancel``: the table is gone from the selection (DROP TABLE, DROP DATABASE, RENAME out of it or to another
  name): its state becomes 'Table cancelled' and its files stay;
- ``alter``: its layout may have changed; pending changes are written first, so no file mixes layouts.

A RENAME inside the selection is both: the old name is cancelled and the new one loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Literal

from binlake.capture.binlog.reader import Statement
from binlake.capture.ddl import DdlAction, DdlSyntaxError, parse_ddl
from binlake.dms import TableState
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.state import statistics
from binlake.state.store import StateStore

log = logging.getLogger(__name__)
Step = Literal["reload", "cancel", "alter"]
_STEPS: dict[str, Step] = {"create": "reload", "truncate": "reload", "drop": "cancel", "alter": "alter"}


def ddl_steps(
    statement: Statement,
    selects: Callable[[str, str], bool],
    tables_of: Callable[[str], Iterable[str]],
) -> list[tuple[Step, str, str]]:
    """(step, schema, table) for each selected table the statement touches; ``tables_of(schema)`` lists the
    task's live tables of a schema (for DROP DATABASE)."""
    try:
        actions = parse_ddl(statement.sql, statement.schema)
    except DdlSyntaxError as exc:
        # Unknown means stop (invariant 8): guessing which tables it touched could lose their changes.
        raise BinlakeError(f"{exc.message} at binlog position {statement.position}", fix=exc.fix) from None
    steps: list[tuple[Step, str, str]] = []
    for action in actions:
        steps.extend(_steps(action, tables_of))
    return [(step, schema, table) for step, schema, table in steps if selects(schema, table)]


def _steps(action: DdlAction, tables_of: Callable[[str], Iterable[str]]) -> list[tuple[Step, str, str]]:
    if action.kind == "drop_database":
        return [("cancel", action.schema, table) for table in tables_of(action.schema)]
    assert action.table is not None
    if action.kind == "rename":
        assert action.new_schema is not None and action.new_table is not None
        return [("cancel", action.schema, action.table), ("reload", action.new_schema, action.new_table)]
    return [(_STEPS[action.kind], action.schema, action.table)]


def live_tables(store: StateStore, task_id: str, schema: str) -> list[str]:
    """The task's tables of ``schema`` that are not cancelled yet, as its table statistics know them."""
    return [table for _, table in statistics.live_tables(store, task_id, schema)]


def apply_ddl_steps(
    store: StateStore,
    task_id: str,
    statement: Statement,
    steps: list[tuple[Step, str, str]],
    reload_table: Callable[[str, str], BinlogPosition | None],
) -> dict[tuple[str, str], BinlogPosition]:
    """Carry out ``ddl_steps``' steps: record each DDL, reload tables (``reload_table`` loads one from a fresh
    snapshot) and mark dropped ones cancelled. Returns the reloaded tables' snapshot positions: their LOAD
    files hold the table as of a position after this statement, and CDC skips their transactions up to it."""
    snapshots: dict[tuple[str, str], BinlogPosition] = {}
    for kind, schema, table in steps:
        store.add_event(task_id, "ddl", f"DDL on {schema}.{table}: {statement.sql.strip()[:200]}")
        log.info("DDL on %s.%s at %s: %s", schema, table, statement.position, kind)
        if kind == "reload":
            snapshot = reload_table(schema, table)
            if snapshot is not None:
                snapshots[(schema, table)] = snapshot
        elif kind == "cancel":
            statistics.set_state(store, task_id, schema, table, TableState.TABLE_CANCELLED)
    return snapshots
