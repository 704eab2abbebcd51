"""How the reader classifies QUERY events (no server): transaction control is never taken for a statement."""

from __future__ import annotations

import struct

import pytest

from binlake.capture.binlog import reader as rd
from binlake.capture.ddl import tokenize
from binlake.errors import BinlakeError
from binlake.position import BinlogPosition

AT = BinlogPosition("mysql-bin.000001", 100)
START = BinlogPosition("mysql-bin.000001", 50)


def classify(sql: str) -> object:
    reader = rd.BinlogReader.__new__(rd.BinlogReader)
    reader._gtid = "0-1-5"
    return reader._query("db", sql, AT, 0, START)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("BEGIN", rd.Begin(START, None)),
        ("/* app */ START TRANSACTION", rd.Begin(START, None)),
        ("SAVEPOINT `Outer SP`", rd.Savepoint("outer sp")),
        ("SAVEPOINT sp1", rd.Savepoint("sp1")),
        ("ROLLBACK TO `s1`", rd.RollbackToSavepoint("s1")),
        ("ROLLBACK WORK TO SAVEPOINT S1", rd.RollbackToSavepoint("s1")),
        ("RELEASE SAVEPOINT s1", None),
        ("XA END X'7831',X'',1", None),
        ("COMMIT", rd.Commit(AT, 0, "0-1-5")),
        ("# note\nROLLBACK", rd.Rollback(AT)),
        ("XA COMMIT X'7831',X'',1", rd.XaOutcome("x'7831',x'',1", True, AT, 0, "0-1-5")),
        ("XA ROLLBACK X'7836',X'6236',7", rd.XaOutcome("x'7836',x'6236',7", False, AT, 0, "0-1-5")),
        ("XA COMMIT X'33' ONE PHASE", rd.Commit(AT, 0, "0-1-5")),
        (
            "/* SAVEPOINT x */ ALTER TABLE t ADD c INT",
            rd.Statement("db", "/* SAVEPOINT x */ ALTER TABLE t ADD c INT", AT, 0, "0-1-5"),
        ),
    ],
)
def test_query_events(sql: str, expected: object) -> None:
    assert classify(sql) == expected


@pytest.mark.parametrize(
    "sql", ["INSERT INTO t VALUES (1)", "/* x */ update t set a = 1", "LOAD DATA INFILE 'f' INTO TABLE t"]
)
def test_statement_based_changes_are_refused(sql: str) -> None:
    with pytest.raises(BinlakeError, match="statement-based change"):
        classify(sql)


def test_the_xid_of_xa_prepare_and_of_xa_commit_are_spelt_alike() -> None:
    gtrid, bqual = b"order-17", b"b1"
    body = struct.pack("<QIB", 9, 0, 64) + struct.pack("<iBB", 7, len(gtrid), len(bqual)) + gtrid + bqual
    logged = f"X'{gtrid.hex().upper()}',X'{bqual.hex()}',7"
    assert rd._prepared_xid(body) == rd._xid(list(tokenize(logged)))
