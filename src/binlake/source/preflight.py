"""DMS's premigration assessment for CDC: is the source's binlog what binlake needs, from where it starts?"""

from __future__ import annotations

from binlake.errors import BinlakeError
from binlake.position import BinlogPosition
from binlake.source.connection import SourceAddress
from binlake.source.server import Source

REQUIRED = {
    "log_bin": ("ON", "log_bin=ON (in my.cnf: log_bin=mysql-bin, then restart)"),
    "binlog_format": ("ROW", "SET GLOBAL binlog_format = 'ROW' (and binlog_format=ROW in my.cnf)"),
    "binlog_row_image": ("FULL", "SET GLOBAL binlog_row_image = 'FULL' (and binlog_row_image=FULL in my.cnf)"),
    "binlog_row_metadata": ("FULL", "SET GLOBAL binlog_row_metadata = 'FULL' (and binlog_row_metadata=FULL in my.cnf)"),
}


def check_cdc_source(address: SourceAddress, start: BinlogPosition | None) -> None:
    """Raise a one-line error naming the setting to change, or return when CDC can run from ``start``."""
    source = Source(address)
    conn = source.connect()
    try:
        cur = conn.cursor()
        cur.execute(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', 'binlog_row_image', "
            "'binlog_row_metadata', 'log_bin_compress')"
        )
        variables = {name: str(value).upper() for name, value in cur.fetchall()}
        for name, (wanted, fix) in REQUIRED.items():
            actual = variables.get(name)
            if actual is None and name == "binlog_row_metadata":
                actual = "MISSING"
            if actual != wanted:
                raise BinlakeError(
                    f"{name} is {actual or 'not set'} on {address.host}:{address.port}; CDC needs {wanted}", fix=fix
                )
        if variables.get("log_bin_compress") == "ON":
            raise BinlakeError(
                f"log_bin_compress is ON on {address.host}:{address.port}; binlake cannot read compressed events",
                fix="SET GLOBAL log_bin_compress = OFF",
            )
        cur.execute("SHOW GRANTS")
        missing = source.flavor.missing_cdc_privileges([row[0] for row in cur.fetchall()])
        if missing:
            raise BinlakeError(
                f"{address.user} lacks {', '.join(missing)} on {address.host}:{address.port}, which CDC needs",
                fix=f"GRANT {', '.join(missing)} ON *.* TO '{address.user}'@'%'",
            )
        if start is not None:
            files = source.flavor.binary_logs(cur)
            if start.binlog_file not in files:
                oldest = files[0] if files else "none"
                raise BinlakeError(
                    f"binlog {start.binlog_file} (checkpoint {start}) is no longer on {address.host}:{address.port}; "
                    f"the oldest binlog there is {oldest}",
                    fix="start the task with --start-replication-task-type reload-target, and keep binlogs longer "
                    "(binlog_expire_logs_seconds)",
                )
    finally:
        conn.close()
