"""What tables and columns the source has, read from information_schema."""

from __future__ import annotations

from dataclasses import dataclass, field

import MySQLdb

from binlake.source.types import Column

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")


@dataclass(frozen=True)
class SourceTable:
    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = field(default=())
    estimated_rows: int = 0

    @property
    def qualified(self) -> str:
        return f"{quote(self.schema)}.{quote(self.name)}"

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"


def quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def list_tables(conn: MySQLdb.connections.Connection) -> list[tuple[str, str]]:
    """Every base table outside the system schemas, as (schema, table)."""
    cur = conn.cursor()
    cur.execute(
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
        "WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (%s, %s, %s, %s) "
        "ORDER BY TABLE_SCHEMA, TABLE_NAME",
        SYSTEM_SCHEMAS,
    )
    return [(schema, name) for schema, name in cur.fetchall()]


def describe_table(conn: MySQLdb.connections.Connection, schema: str, name: str) -> SourceTable:
    cur = conn.cursor()
    cur.execute(
        "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE, "
        "CHARACTER_SET_NAME, COLUMN_KEY FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (schema, name),
    )
    columns = [
        Column(
            name=row[0],
            data_type=row[1].lower(),
            column_type=row[2],
            nullable=row[3] == "YES",
            numeric_precision=row[4],
            numeric_scale=row[5],
            character_set=row[6],
        )
        for row in cur.fetchall()
    ]
    cur.execute(
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
        (schema, name),
    )
    primary_key = tuple(row[0] for row in cur.fetchall())
    cur.execute(
        "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (schema, name),
    )
    row = cur.fetchone()
    return SourceTable(schema, name, tuple(columns), primary_key, int(row[0] or 0) if row else 0)
