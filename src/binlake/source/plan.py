"""How a source table lands in the target: kept columns and their target names (from the mappings)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from binlake.config.mappings import TableMappings
from binlake.errors import BinlakeError
from binlake.source.schema import SourceTable
from binlake.source.types import Column, arrow_field


@dataclass
class TablePlan:
    """One source table and how it lands in the target."""

    source: SourceTable
    target_schema: str
    target_table: str
    columns: tuple[Column, ...]
    target_names: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.source.label

    @property
    def target_key(self) -> list[str]:
        """The primary key's columns by their target names (empty: no key, or a key column removed)."""
        names = dict(zip((c.name for c in self.columns), self.target_names, strict=True))
        key = [names.get(column) for column in self.source.primary_key]
        return [k for k in key if k is not None] if all(key) else []

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([arrow_field(c, n) for c, n in zip(self.columns, self.target_names, strict=True)])


def plan_table(source: SourceTable, mappings: TableMappings) -> TablePlan:
    columns: list[Column] = []
    names: list[str] = []
    for column in source.columns:
        name = mappings.target_column(source.schema, source.name, column.name)
        if name is not None:
            columns.append(column)
            names.append(name)
    if not columns:
        raise BinlakeError(
            f"transformation rules remove every column of {source.label}", fix="keep at least one column"
        )
    return TablePlan(
        source,
        mappings.target_schema(source.schema),
        mappings.target_table(source.schema, source.name),
        tuple(columns),
        tuple(names),
    )
