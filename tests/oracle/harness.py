"""Runs one seeded oracle round: schema and workload on the sandbox, then the binlog range read by binlake and by
mariadb-binlog, compared rows event by rows event and value by value, and the images replayed against the
source's committed tables. Returns the differences, each naming the seed, table, column and binlog position."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import MySQLdb

from binlake.capture.binlog.reader import RowChanges
from binlake.capture.binlog.rows import build_arrays
from binlake.position import BinlogPosition
from binlake.sandbox import SandboxInfo
from tests.oracle.canonical import EXACT, describe, from_binlake, from_oracle, from_source, source_expression
from tests.oracle.columns import Column
from tests.oracle.mariadb_side import OracleEvent, read_oracle
from tests.oracle.source import binlog_position, connect, global_setting, read_binlake
from tests.oracle.workload import Options, Table, Workload

MAX_DIFFERENCES = 20
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Report:
    seed: int
    transactions: int
    reproduce: str
    differences: list[str] = field(default_factory=list)
    rows_events: int = 0
    images: int = 0
    values: int = 0
    binlog_files: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, text: str) -> None:
        if len(self.differences) < MAX_DIFFERENCES:
            self.differences.append(f"seed {self.seed}: {text}")

    def summary(self) -> str:
        lines = [
            f"seed {self.seed}: {self.transactions} transactions, {self.rows_events} rows events, {self.images} "
            f"images, {self.values} values over {self.binlog_files} binlog files; "
            + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items()),
        ]
        if self.differences:
            lines += [f"{len(self.differences)} difference(s) (first {MAX_DIFFERENCES} shown):", *self.differences]
            lines.append(f"reproduce: {self.reproduce}")
        return "\n".join(lines)


def run_oracle(
    info: SandboxInfo, seed: int, transactions: int, options: Options | None = None, reproduce: str = ""
) -> Report:
    options = options or Options()
    report = Report(seed, transactions, reproduce or reproduce_command(seed, transactions, options))
    conn = connect(info)
    schema = f"oracle_{seed}_{int(time.time() * 1000) % 100_000_000}"
    workload = Workload(conn, seed, schema, options)
    try:
        cur = conn.cursor()
        cur.execute("SELECT @@global.binlog_checksum")
        checksum = cur.fetchone()[0]
        with global_setting(conn, "binlog_checksum", checksum):  # restored whatever the workload switched
            workload.create_schema()
            start = binlog_position(conn)
            clock = time.monotonic()
            workload.run(transactions)
        report.seconds["workload"] = time.monotonic() - clock
        files = binlog_files(conn, start)
        report.binlog_files = len(files)
        clock = time.monotonic()
        items: list[Any] = []
        try:
            read_binlake(info, start, {workload.schema, workload.old_schema}, items)
        except Exception as exc:
            after = f"after {items[-1].position}" if items else f"from {start}"
            report.add(f"binlake's reader failed {after}: {type(exc).__name__}: {exc}")
            return report
        report.seconds["binlake"] = time.monotonic() - clock
        clock = time.monotonic()
        oracle = read_oracle(Path(info.data_dir), files, start, workload.schema)
        report.seconds["mariadb-binlog"] = time.monotonic() - clock
        clock = time.monotonic()
        changes = [item for item in items if isinstance(item, RowChanges)]
        tables = {(t.schema, t.name): t for t in workload.tables}
        compare_events([c for c in changes if c.decoder.table_map.schema == workload.schema], oracle, tables, report)
        compare_state(info, changes, workload.tables, report)
        report.seconds["compare"] = time.monotonic() - clock
        return report
    finally:
        with contextlib.suppress(MySQLdb.Error):  # a server gone away must not hide why
            for name in (workload.schema, workload.old_schema):
                conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
            conn.close()


def reproduce_command(seed: int, transactions: int, options: Options) -> str:
    switch = f" --switch-checksum {options.switch_checksum}" if options.switch_checksum else ""
    tables = f" --tables {options.tables}" if options.tables != Options().tables else ""
    return f".venv/bin/python bench/binlog_oracle.py --round-seed {seed} --transactions {transactions}{switch}{tables}"


def binlog_files(conn: MySQLdb.connections.Connection, start: BinlogPosition) -> list[str]:
    cur = conn.cursor()
    cur.execute("SHOW BINARY LOGS")
    names = [row[0] for row in cur.fetchall()]
    return names[names.index(start.binlog_file) :]


def compare_events(
    changes: list[RowChanges], oracle: list[OracleEvent], tables: dict[tuple[str, str], Table], report: Report
) -> None:
    """Statement by statement (binlake's rows events grouped as mariadb-binlog prints them), image by image,
    value by value; the first divergence in the sequence of events ends the comparison."""
    index = 0
    for number, theirs in enumerate(oracle):
        rows: list[tuple[Any, ...]] = []
        first = index
        while index < len(changes) and changes[index].position in theirs.positions:
            rows += changes[index].rows
            index += 1
        if first == index:
            ours = f"{_where(changes[index])}" if index < len(changes) else "nothing more"
            report.add(
                f"statement #{number}: mariadb-binlog has {theirs.schema}.{theirs.table} {theirs.op} at "
                f"{theirs.position}, binlake {ours}"
            )
            return
        ours = changes[first]
        table_map = ours.decoder.table_map
        where = _where(ours)
        if (table_map.schema, table_map.table, ours.kind) != (theirs.schema, theirs.table, theirs.op):
            report.add(
                f"statement #{number}: binlake {where}, mariadb-binlog {theirs.schema}.{theirs.table} "
                f"{theirs.op} at {theirs.position}"
            )
            return
        report.rows_events += index - first
        if len(rows) != len(theirs.images):
            report.add(f"{where}: binlake has {len(rows)} images, mariadb-binlog {len(theirs.images)}")
            continue
        history = tables[(table_map.schema, table_map.table)].history
        columns = [history[name] for name in table_map.column_names]  # as the event's table map has them
        for image_number, (image, texts) in enumerate(zip(rows, theirs.images, strict=True)):
            report.images += 1
            if len(image) != len(columns) or len(texts) != len(columns):
                report.add(
                    f"{where} image {image_number}: {len(image)} values, {len(texts)} printed, {len(columns)} columns"
                )
                continue
            for column, value, text in zip(columns, image, texts, strict=True):
                report.values += 1
                try:
                    mine, expected = from_binlake(column, value, oracle=True), from_oracle(column, text)
                except Exception as exc:
                    report.add(
                        f"{where} image {image_number} column {column.name} ({column.ddl[:60]}): cannot compare "
                        f"{describe(value)} with {text[:100]!r}: {exc}"
                    )
                    continue
                if mine != expected:
                    report.add(
                        f"{where} image {image_number} column {column.name} ({column.ddl[:60]}): binlake "
                        f"{describe(mine)}, mariadb-binlog {describe(expected)}"
                    )
    if index < len(changes):
        report.add(f"only binlake has {_where(changes[index])} and {len(changes) - index - 1} more rows events")


def _where(change: RowChanges) -> str:
    return f"{change.decoder.table_map.schema}.{change.decoder.table_map.table} {change.kind} at {change.position}"


def arrow_images(change: RowChanges, columns: list[Column]) -> list[tuple[Any, ...]]:
    """The event's images as the Arrow arrays binlake writes hold them (build_arrays), back in the decoder's
    raw forms (unscaled DECIMAL, microseconds for TIME and TIMESTAMP) for ``from_binlake``."""
    specs = change.decoder.specs
    arrays = build_arrays(specs, list(zip(*change.rows, strict=True)))
    values = [[_raw(c, v) for v in a.to_pylist()] for c, a in zip(columns, arrays, strict=True)]
    return list(zip(*values, strict=True))


def _raw(column: Column, value: Any) -> Any:
    if isinstance(value, Decimal):
        unscaled = value.scaleb(column.scale, EXACT)
        assert unscaled == unscaled.to_integral_value(), (column.name, value)
        return int(unscaled)
    if isinstance(value, timedelta):
        return value // timedelta(microseconds=1)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return (value - EPOCH) // timedelta(microseconds=1)
    return value


def compare_state(info: SandboxInfo, changes: list[RowChanges], tables: list[Table], report: Report) -> None:
    """binlake's images, through the Arrow arrays it writes, applied in binlog order by primary key, must give
    each source table exactly (a column added since an image was written reads NULL there)."""
    by_name = {(t.schema, t.name): t for t in tables}
    state: dict[tuple[str, str], dict[Any, dict[str, Any]]] = {key: {} for key in by_name}
    for change in changes:
        key = (change.decoder.table_map.schema, change.decoder.table_map.table)
        table = by_name.get(key)
        if table is None or not change.rows:
            continue
        rows = state[key]
        columns = [table.history[name] for name in change.decoder.table_map.column_names]
        images = [
            {c.name: from_binlake(c, v, oracle=False) for c, v in zip(columns, image, strict=True)}
            for image in arrow_images(change, columns)
        ]
        if change.kind == "I":
            rows.update((image["id"], image) for image in images)
        elif change.kind == "D":
            for image in images:
                rows.pop(image["id"], None)
        else:
            for before, after in zip(images[::2], images[1::2], strict=True):
                rows.pop(before["id"], None)
                rows[after["id"]] = after
    raw = MySQLdb.connect(unix_socket=info.socket, user="root", conv={})
    try:
        for key, table in by_name.items():
            cur = raw.cursor()
            cur.execute("SET time_zone = '+00:00'")
            cur.execute(f"SELECT {', '.join(source_expression(c) for c in table.columns)} FROM {table.qualified}")
            source = {}
            for row in cur.fetchall():
                image = {c.name: from_source(c, v) for c, v in zip(table.columns, row, strict=True)}
                source[image["id"]] = image
            mine = state[key]
            for pk in sorted(set(source) | set(mine)):
                if pk not in mine or pk not in source:
                    side = "the source" if pk not in mine else "binlake's images"
                    report.add(f"{table.qualified} id={pk}: only in {side}")
                    continue
                for column in table.columns:
                    a, b = mine[pk].get(column.name), source[pk][column.name]
                    if a != b:
                        report.add(
                            f"{table.qualified} id={pk} column {column.name} ({column.ddl[:60]}): binlake "
                            f"{describe(a)}, source {describe(b)}"
                        )
    finally:
        raw.close()
