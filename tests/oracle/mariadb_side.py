"""MariaDB's own decoder as the oracle: ``mariadb-binlog -vv --base64-output=DECODE-ROWS`` over the binlog files
of the sandbox's data directory, parsed into rows events with their row images (value texts per column)."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from binlake.position import BinlogPosition

_HEADER = re.compile(r"^#\d{6} +\d+:\d\d:\d\d server id \d+ +end_log_pos (\d+) .*\t(Write|Update|Delete)_rows")
_STATEMENT = re.compile(r"^### (INSERT INTO|UPDATE|DELETE FROM) `((?:[^`]|``)+)`\.`((?:[^`]|``)+)`$")
_VALUE = re.compile(r"^###   @(\d+)=(.*) /\* (.+?) meta=(\d+) nullable=(\d) is_null=(\d) \*/$")
_OPS = {"INSERT INTO": "I", "UPDATE": "U", "DELETE FROM": "D"}


@dataclass
class OracleEvent:
    """The rows of one statement as mariadb-binlog prints them: for updates, before and after images alternate.
    A statement whose rows exceed binlog_row_event_max_size is several rows events; mariadb-binlog prints their
    rows together after the last one (flag STMT_END_F), so ``positions`` lists the end of each."""

    positions: list[BinlogPosition]
    schema: str
    table: str
    op: str
    images: list[list[str]] = field(default_factory=list)  # value texts, column 1..n

    @property
    def position(self) -> BinlogPosition:
        return self.positions[-1]


def mariadb_binlog() -> str:
    found = shutil.which("mariadb-binlog") or shutil.which("mysqlbinlog")
    if not found:
        raise RuntimeError("mariadb-binlog not found: apt-get install mariadb-client")
    return found


def read_oracle(data_dir: Path, files: list[str], start: BinlogPosition, schema: str) -> list[OracleEvent]:
    """The rows events of ``schema`` in ``files`` (the first read from ``start``), in binlog order."""
    events: list[OracleEvent] = []
    for name in files:
        command = [mariadb_binlog(), "-vv", "--base64-output=DECODE-ROWS", f"--database={schema}"]
        if name == start.binlog_file:
            command.append(f"--start-position={start.log_pos}")
        done = subprocess.run([*command, str(data_dir / name)], capture_output=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} {name} failed: {done.stderr.decode(errors='replace')[-500:]}")
        events += parse(done.stdout, name)
    return events


def parse(output: bytes, binlog_file: str) -> list[OracleEvent]:
    events: list[OracleEvent] = []
    pending: list[BinlogPosition] = []  # rows events whose rows have not been printed yet
    printed = False
    current: OracleEvent | None = None
    image: list[str] | None = None
    for raw in output.split(b"\n"):
        line = raw.decode("latin-1")  # values are raw bytes of any character set: keep every byte
        header = _HEADER.match(line)
        if header:
            if printed:
                pending, printed, current = [], False, None
            pending.append(BinlogPosition(binlog_file, int(header.group(1))))
            continue
        if not line.startswith("###"):
            continue
        statement = _STATEMENT.match(line)
        if statement:
            op = _OPS[statement.group(1)]
            schema, table = statement.group(2).replace("``", "`"), statement.group(3).replace("``", "`")
            if current is None or (current.schema, current.table, current.op) != (schema, table, op):
                assert pending, line
                current = OracleEvent(list(pending), schema, table, op)
                events.append(current)
            printed = True
            continue
        if line in ("### SET", "### WHERE"):
            assert current is not None, line
            image = []
            current.images.append(image)
            continue
        value = _VALUE.match(line)
        if value is None:
            raise AssertionError(f"unparsed mariadb-binlog line in {binlog_file}: {line[:200]!r}")
        assert image is not None and int(value.group(1)) == len(image) + 1, line[:200]
        image.append(value.group(2))
    return events
