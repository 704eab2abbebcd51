"""Random schemas and transactional workloads on the sandbox, reproducible from a seed.

Tables: ``id BIGINT`` primary key and random columns (tests/oracle/columns.py), mostly InnoDB, some Aria and
MyISAM; in a second schema, tables created while the global mysql56_temporal_format=OFF (old-format temporal
columns). Transactions: single statements, BEGIN…COMMIT/ROLLBACK over several tables, savepoints with
ROLLBACK TO / RELEASE, XA (PREPARE + COMMIT, COMMIT ONE PHASE); multi-row statements, primary-key changes,
NULLs and extremes; between them binlog rotations and, optionally, binlog_checksum switched NONE↔CRC32.

Every transaction leaves the binlog equal to what the source committed (rolled-back rows of InnoDB-only
transactions are not in the binlog), so applying the logged images gives the source's tables.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import MySQLdb

from tests.oracle.columns import Column, generated_column, random_column, random_literal
from tests.oracle.source import global_setting

ER_TOO_BIG_ROWSIZE = 1118


@dataclass
class Table:
    schema: str
    name: str
    engine: str
    columns: list[Column]  # the primary key ``id`` first
    ids: set[int] = field(default_factory=set)
    history: dict[str, Column] = field(default_factory=dict)  # every column it ever had, by (unique) name

    def __post_init__(self) -> None:
        self.history.update((c.name, c) for c in self.columns)

    @property
    def transactional(self) -> bool:
        return self.engine == "InnoDB"

    @property
    def qualified(self) -> str:
        return f"`{self.schema}`.`{self.name}`"


@dataclass
class Options:
    tables: int = 4
    old_temporal_tables: int = 1
    columns: tuple[int, int] = (3, 12)
    rotate: float = 0.03  # probability of FLUSH BINARY LOGS after a transaction
    switch_checksum: float = 0.0  # probability of switching binlog_checksum NONE↔CRC32 after a transaction
    wide_table: bool = True  # one table of 260 small columns: multi-byte column counts and bitmaps
    generated: bool = True  # generated (VIRTUAL / PERSISTENT) and INVISIBLE columns now and then
    alter: float = 0.01  # probability of an ALTER TABLE ADD or DROP COLUMN after a transaction
    savepoints: bool = True
    xa: bool = True
    non_transactional: bool = True


class Workload:
    def __init__(self, conn: MySQLdb.connections.Connection, seed: int, schema: str, options: Options) -> None:
        self.conn = conn
        self.rng = random.Random(seed)
        self.schema = schema
        self.old_schema = f"{schema}_old"
        self.options = options
        self.tables: list[Table] = []
        self.next_id = 1
        self.xa_count = 0
        self.altered = 0
        self.statements = 0

    # -- schema -------------------------------------------------------------------------------------------
    def create_schema(self) -> None:
        cur = self.conn.cursor()
        cur.execute("SET SESSION time_zone = '+00:00'")
        # Strict, but zero dates and days past the month's end ('2023-02-30') are let in: NULL for binlake.
        cur.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ALLOW_INVALID_DATES')")
        for schema in (self.schema, self.old_schema):
            cur.execute(f"CREATE DATABASE `{schema}` CHARACTER SET utf8mb4")
        for i in range(self.options.tables):
            engine = "InnoDB"
            if self.options.non_transactional and i > 0 and self.rng.random() < 0.25:
                engine = self.rng.choice(["Aria", "MyISAM"])
            self.tables.append(self._create(self.schema, f"t{i}", engine, old_temporal=False))
        if self.options.wide_table:
            self.tables.append(self._create(self.schema, "wide", "InnoDB", old_temporal=False, width=260))
        if self.options.old_temporal_tables:
            with global_setting(self.conn, "mysql56_temporal_format", "OFF"):
                for i in range(self.options.old_temporal_tables):
                    self.tables.append(self._create(self.old_schema, f"old{i}", "InnoDB", old_temporal=True))

    def _create(self, schema: str, name: str, engine: str, old_temporal: bool, width: int = 0) -> Table:
        low, high = self.options.columns
        count = width or self.rng.randint(low, high)
        columns = [Column("id", "int", "BIGINT", nullable=False, bits=64)]
        columns += [random_column(self.rng, f"c{i}", old_temporal, small=bool(width)) for i in range(count)]
        if self.options.generated and not old_temporal and self.rng.random() < 0.3:
            columns.insert(self.rng.randint(1, len(columns)), generated_column(self.rng, "gen"))
        if self.options.generated and self.rng.random() < 0.2:
            hidden = random_column(self.rng, "hidden", old_temporal)
            hidden.ddl += " INVISIBLE"
            hidden.nullable = True  # an INVISIBLE column needs a default: NULL
            columns.insert(self.rng.randint(1, len(columns)), hidden)
        while True:
            table = Table(schema, name, engine, columns)
            ddl = ", ".join(c.definition() for c in columns)
            try:
                self.conn.cursor().execute(f"CREATE TABLE {table.qualified} ({ddl}, PRIMARY KEY (id)) ENGINE={engine}")
                return table
            except MySQLdb.OperationalError as exc:
                if exc.args[0] != ER_TOO_BIG_ROWSIZE or len(columns) <= 2:
                    raise
                columns = columns[:-1]  # a row too wide for the engine: fewer columns

    # -- workload -----------------------------------------------------------------------------------------
    def run(self, transactions: int) -> None:
        for _ in range(transactions):
            self.transaction()
            if self.rng.random() < self.options.rotate:
                self.execute("FLUSH BINARY LOGS")
            if self.rng.random() < self.options.alter:
                self.alter()
            if self.rng.random() < self.options.switch_checksum:
                cur = self.conn.cursor()
                cur.execute("SELECT @@global.binlog_checksum")
                current = cur.fetchone()[0]
                cur.execute(f"SET GLOBAL binlog_checksum = {'NONE' if current.upper() != 'NONE' else 'CRC32'}")

    def alter(self) -> None:
        """ADD COLUMN (nullable, no default: rows untouched since read NULL) or DROP COLUMN on a new-format table;
        the rows before and after it are decoded with their own table maps."""
        candidates = [t for t in self.tables if t.schema == self.schema and t.name != "wide"]
        if not candidates:
            return
        table = self.rng.choice(candidates)
        droppable = [c for c in table.columns[1:] if not c.generated]
        if len(droppable) > 2 and self.rng.random() < 0.4:
            column = self.rng.choice(droppable)
            self.execute(f"ALTER TABLE {table.qualified} DROP COLUMN `{column.name}`")
            table.columns.remove(column)
            return
        self.altered += 1
        column = random_column(self.rng, f"a{self.altered}")
        column.nullable = True
        try:
            self.execute(f"ALTER TABLE {table.qualified} ADD COLUMN {column.definition()}")
        except RuntimeError as exc:
            if "Row size too large" in str(exc):
                return
            raise
        table.columns.append(column)
        table.history[column.name] = column

    def execute(self, sql: str) -> None:
        self.statements += 1
        try:
            self.conn.cursor().execute(sql)
        except MySQLdb.Error as exc:
            raise RuntimeError(f"{exc} in: {sql[:500]}") from exc

    def transaction(self) -> None:
        rng = self.rng
        shape = rng.choice(["single"] * 2 + ["commit"] * 4 + ["rollback"] + ["savepoint"] * 2 + ["xa"] * 2)
        if shape == "savepoint" and not self.options.savepoints:
            shape = "commit"
        if shape == "xa" and not self.options.xa:
            shape = "commit"
        if shape == "single":
            self.statement(rng.choice(self.tables))
            return
        if shape == "xa":
            self._xa()
            return
        involved = rng.sample(self.tables, rng.randint(1, min(3, len(self.tables))))
        saved = self._snapshot()
        self.execute("BEGIN")
        for _ in range(rng.randint(1, 3)):
            self.statement(rng.choice(involved))
        if shape == "savepoint" and not any(t.engine == "Aria" for t in involved):  # Aria has no savepoints
            self._savepoints(involved)
        if shape == "rollback":
            self.execute("ROLLBACK")
            self._restore(saved)
        else:
            self.execute("COMMIT")

    def _savepoints(self, involved: list[Table]) -> None:
        """ORM-style nesting: savepoints inside savepoints, each released or rolled back to. ROLLBACK TO is only
        used while every table touched is InnoDB: after a non-transactional change MariaDB logs the rows and a
        ROLLBACK TO event instead of dropping them (the CDC engine's business, not the decoder's)."""
        rng = self.rng
        transactional = [t for t in involved if t.transactional] or [t for t in self.tables if t.transactional]
        involved = [t for t in involved if t.engine != "Aria"]
        clean = all(t.transactional for t in involved)
        for depth in range(rng.randint(1, 3)):
            name = f"sp{depth}"
            saved = self._snapshot()
            self.execute(f"SAVEPOINT {name}")
            for _ in range(rng.randint(1, 2)):
                self.statement(rng.choice(transactional if clean else involved))
            if clean and rng.random() < 0.5:
                self.execute(f"ROLLBACK TO SAVEPOINT {name}")
                self._restore(saved)
            elif rng.random() < 0.5:
                self.execute(f"RELEASE SAVEPOINT {name}")
        if rng.random() < 0.5:
            self.statement(rng.choice(transactional if clean else involved))

    def _xa(self) -> None:
        rng = self.rng
        self.xa_count += 1
        xid = f"'oracle{self.xa_count}', 'b{self.xa_count}', {self.xa_count}"
        transactional = [t for t in self.tables if t.transactional]
        self.execute(f"XA START {xid}")
        for _ in range(rng.randint(1, 3)):
            self.statement(rng.choice(transactional))
        self.execute(f"XA END {xid}")
        if rng.random() < 0.5:
            self.execute(f"XA COMMIT {xid} ONE PHASE")
        else:
            self.execute(f"XA PREPARE {xid}")
            self.execute(f"XA COMMIT {xid}")

    def _snapshot(self) -> dict[str, set[int]]:
        return {t.qualified: set(t.ids) for t in self.tables if t.transactional}

    def _restore(self, saved: dict[str, set[int]]) -> None:
        for table in self.tables:
            if table.qualified in saved:
                table.ids = saved[table.qualified]

    def statement(self, table: Table) -> None:
        rng = self.rng
        action = rng.choice(["insert"] * 5 + ["update"] * 4 + ["delete"] + ["rekey"])
        if not table.ids:
            action = "insert"
        if action == "insert":
            rows = rng.choice([1, 1, 1, 2, 5])
            ids = list(range(self.next_id, self.next_id + rows))
            self.next_id += rows
            values = ", ".join(self._row(table, i) for i in ids)
            names = ", ".join(f"`{c.name}`" for c in table.columns if not c.generated)
            self.execute(f"INSERT INTO {table.qualified} ({names}) VALUES {values}")
            table.ids.update(ids)
        elif action == "update":
            chosen = rng.sample(sorted(table.ids), min(len(table.ids), rng.choice([1, 1, 2, 4])))
            writable = [c for c in table.columns[1:] if not c.generated]
            columns = rng.sample(writable, rng.randint(1, min(len(writable), 12)))
            assignments = ", ".join(f"`{c.name}` = {random_literal(rng, c)}" for c in columns)
            self.execute(f"UPDATE {table.qualified} SET {assignments} WHERE id IN ({', '.join(map(str, chosen))})")
        elif action == "delete":
            chosen = rng.sample(sorted(table.ids), min(len(table.ids), rng.choice([1, 1, 3])))
            self.execute(f"DELETE FROM {table.qualified} WHERE id IN ({', '.join(map(str, chosen))})")
            table.ids.difference_update(chosen)
        else:  # a primary-key change, with other columns changed in the same update or not
            old = rng.choice(sorted(table.ids))
            new = self.next_id
            self.next_id += 1
            extra = ""
            if rng.random() < 0.5:
                column = rng.choice([c for c in table.columns[1:] if not c.generated])
                extra = f", `{column.name}` = {random_literal(rng, column)}"
            self.execute(f"UPDATE {table.qualified} SET id = {new}{extra} WHERE id = {old}")
            table.ids.discard(old)
            table.ids.add(new)

    def _row(self, table: Table, key: int) -> str:
        values = [random_literal(self.rng, c) for c in table.columns[1:] if not c.generated]
        return "(" + ", ".join([str(key), *values]) + ")"
