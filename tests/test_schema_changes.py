"""DDL actions → the engine's steps for the selected tables (engine/schema_changes.py). No server."""

from __future__ import annotations

import pytest

from binlake.capture.binlog.reader import Statement
from binlake.engine.schema_changes import ddl_steps
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition


def test_engine_steps_follow_the_selection() -> None:
    selected = {("db", "keep_a"), ("db", "keep_b"), ("db", "keep_c"), ("x", "keep")}

    def steps(sql: str) -> list[tuple[str, str, str]]:
        return ddl_steps(statement(sql), lambda s, t: (s, t) in selected, lambda schema: ["keep_a", "keep_b"])

    assert steps("RENAME TABLE keep_a TO other") == [("cancel", "db", "keep_a")]
    assert steps("RENAME TABLE other TO keep_a") == [("reload", "db", "keep_a")]
    assert steps("RENAME TABLE keep_a TO keep_b") == [("cancel", "db", "keep_a"), ("reload", "db", "keep_b")]
    assert steps("ALTER TABLE keep_a RENAME TO x.keep") == [("cancel", "db", "keep_a"), ("reload", "x", "keep")]
    assert steps("RENAME TABLE other TO elsewhere") == []
    assert steps("DROP DATABASE db") == [("cancel", "db", "keep_a"), ("cancel", "db", "keep_b")]
    assert steps("ALTER TABLE keep_c EXCHANGE PARTITION p0 WITH TABLE other") == [("reload", "db", "keep_c")]
    assert steps("/* x */ TRUNCATE keep_c") == [("reload", "db", "keep_c")]
    assert steps("CREATE TABLE keep_c LIKE other") == [("reload", "db", "keep_c")]
    assert steps("DROP TABLE IF EXISTS keep_a, other, keep_c") == [
        ("cancel", "db", "keep_a"),
        ("cancel", "db", "keep_c"),
    ]
    assert steps("CREATE INDEX i ON keep_b (v)") == [("alter", "db", "keep_b")]
    assert steps("CREATE TEMPORARY TABLE keep_a (id INT)") == []


def statement(sql: str) -> Statement:
    return Statement(schema="db", sql=sql, position=BinlogPosition("mysql-bin.000007", 1234), timestamp=0, gtid=None)


def test_unreadable_statement_stops_the_task_with_its_position() -> None:
    with pytest.raises(BinlakeError) as error:
        ddl_steps(statement("ALTER TABLE t COMMENT 'x\\"), lambda s, t: True, lambda schema: [])
    assert str(error.value) == (
        "cannot read the DDL statement \"ALTER TABLE t COMMENT 'x\\\\\": unterminated ' quote at offset 22 at binlog "
        "position mysql-bin.000007:1234 (fix: report the statement; to go on, start the task with "
        "--start-replication-task-type reload-target)"
    )
