"""Server flavors (source/flavor.py): MariaDB is the one supported family; MySQL is refused with the reason."""

from __future__ import annotations

import pytest

from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.source.flavor import MARIADB, detect


@pytest.mark.parametrize("version", ["10.11.6-MariaDB-0+deb12u1-log", "11.4.2-MariaDB", "5.5.5-10.6.12-MariaDB"])
def test_mariadb_versions_are_mariadb(version: str) -> None:
    assert detect(version, "db", 3306) is MARIADB


@pytest.mark.parametrize("version", ["8.0.36", "8.4.0", "5.7.44-log", "8.0.36-28 Percona Server"])
def test_mysql_is_refused_with_the_reason(version: str) -> None:
    with pytest.raises(BinlakeError) as caught:
        detect(version, "db", 3306)
    assert str(caught.value) == (
        f"db:3306 runs MySQL {version}, not MariaDB; binlake supports MariaDB sources only for now (MySQL's snapshot "
        "position, GTIDs and binary JSON are not built and tested yet) (fix: replicate from a MariaDB server (10.5 "
        "or later))"
    )


@pytest.mark.parametrize(
    ("text", "is_gtid"),
    [
        ("0-1-100", True),
        ("0-1-100,1-2-7", True),
        ("mysql-bin.000003:1234", False),
        ("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5", False),  # a MySQL GTID set is not a MariaDB one
        ("0-1", False),
        ("0-1-100,", False),
    ],
)
def test_mariadb_gtid_positions(text: str, is_gtid: bool) -> None:
    assert MARIADB.is_gtid_set(text) is is_gtid


@pytest.mark.parametrize(
    ("grants", "missing"),
    [
        (["GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `u`@`%`"], []),
        (["GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'u'@'%'"], []),
        (["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost`"], []),
        (["GRANT SELECT ON *.* TO `u`@`%`"], ["REPLICATION SLAVE", "REPLICATION CLIENT"]),
        (["GRANT SELECT, BINLOG MONITOR ON *.* TO `u`@`%`"], ["REPLICATION SLAVE"]),
    ],
)
def test_cdc_privileges_in_mariadb_spellings(grants: list[str], missing: list[str]) -> None:
    assert MARIADB.missing_cdc_privileges(grants) == missing


def test_mariadb_dump_command_follows_the_protocol_layout() -> None:
    """COM_BINLOG_DUMP (https://mariadb.com/kb/en/com_binlog_dump/): 0x12, log_pos (4 bytes), flags (2), server_id
    (4), the file name to the end of the packet, integers little-endian; with a GTID start, position 4 and no
    name (the server finds the file from @slave_connect_state)."""
    start = BinlogPosition("mysql-bin.000003", 0x01020304)
    assert MARIADB.dump_command(start, 0x0A0B0C0D, False, None) == (
        bytes.fromhex("120403020100000d0c0b0a") + b"mysql-bin.000003"
    )
    assert MARIADB.dump_command(start, 7, True, None) == bytes.fromhex("1204030201010007000000") + (b"mysql-bin.000003")
    assert MARIADB.dump_command(start, 7, False, "0-1-100") == bytes.fromhex("1204000000000007000000")
