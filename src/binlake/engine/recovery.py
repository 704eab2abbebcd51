"""Which errors the task recovers from by restarting CDC from its checkpoint (DMS's recoverable errors).

An environmental error ends by itself: the source restarts or fails over, the network comes back, a
connection slot frees up. Anything else (a decoder that meets an unknown event, a purged binlog, a wrong
password) stops the task at once, so nobody waits an hour for a retry that cannot help.
"""

from __future__ import annotations

import sys

import MySQLdb

from binlake.errors import TransientError
from binlake.source.connection import RECOVERABLE_CODES


def is_recoverable(exc: BaseException) -> bool:
    """True for a lost or refused source connection, a full or read-only server, or a passing target error."""
    if isinstance(exc, TransientError):
        return True
    # PyMySQL (the binlog stream's client) is looked up, not imported: a process that never imported it cannot
    # have one of its errors, and a full-load task starts sooner without it.
    pymysql = sys.modules.get("pymysql")
    operational = (MySQLdb.OperationalError, pymysql.err.OperationalError) if pymysql else MySQLdb.OperationalError
    if isinstance(exc, operational):
        code = exc.args[0] if exc.args else None
        return code in RECOVERABLE_CODES
    return isinstance(exc, (ConnectionError, TimeoutError))
