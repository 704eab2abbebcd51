"""The differential ("oracle") harness, quick variant (tests/oracle/; bench/binlog_oracle.py runs it long).

Each seed: a random schema (every column type incl. spatial, every character-set family, NULLs, extremes,
old-format temporal tables) and a random workload (multi-table transactions, savepoints, XA, primary-key
changes, rollbacks, binlog rotations) on the sandbox; the binlog range read by binlake's reader and by
``mariadb-binlog -vv``, compared value by value, and binlake's images replayed against the source's tables.
A difference fails with the seed, table, column and binlog position, and the command that reproduces it.
"""

from __future__ import annotations

import pytest

from binlake.sandbox import SandboxInfo
from tests.oracle.harness import run_oracle
from tests.oracle.workload import Options

SEEDS = [11, 12, 13]
TRANSACTIONS = 150


@pytest.mark.parametrize("seed", SEEDS)
def test_binlake_decodes_every_row_image_as_mariadb_does(sandbox_info: SandboxInfo, seed: int) -> None:
    report = run_oracle(sandbox_info, seed, TRANSACTIONS)
    assert report.differences == [], report.summary()
    assert report.images > TRANSACTIONS  # the round really compared something


def test_binlog_checksum_switched_between_files(sandbox_info: SandboxInfo) -> None:
    report = run_oracle(sandbox_info, 21, TRANSACTIONS, Options(switch_checksum=0.1))
    assert report.differences == [], report.summary()
    assert report.images > TRANSACTIONS
