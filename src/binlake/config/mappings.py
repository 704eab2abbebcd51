"""DMS table mappings: selection rules pick tables, transformation rules rename and drop.

The JSON is DMS's (``{"rules": [{"rule-type": "selection", ...}]}``); ``%`` is the wildcard.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from binlake.errors import BinlakeError

SELECTION_ACTIONS = ("include", "exclude", "explicit")
TRANSFORMATION_TARGETS = ("schema", "table", "column")
TRANSFORMATION_ACTIONS = (
    "rename",
    "remove-column",
    "convert-lowercase",
    "convert-uppercase",
    "add-prefix",
    "remove-prefix",
    "replace-prefix",
    "add-suffix",
    "remove-suffix",
    "replace-suffix",
)


@lru_cache(maxsize=256)
def _pattern(wildcard: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in wildcard.split("%")) + "$", re.DOTALL)


def matches(wildcard: str, name: str) -> bool:
    return _pattern(wildcard).match(name) is not None


@dataclass(frozen=True)
class Rule:
    rule_type: str
    rule_id: str
    rule_name: str
    action: str
    schema: str
    table: str
    column: str = "%"
    target: str = ""
    value: str = ""
    old_value: str = ""


# verify's CDC probe lives in a schema of its own, out of the user's data: no wildcard selects it.
PROBE_SCHEMA = "binlake_probe"


@dataclass(frozen=True)
class TableMappings:
    rules: tuple[Rule, ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> TableMappings:
        if not text.strip():
            raise BinlakeError("table mappings are empty", fix='pass a JSON document like {"rules": [...]}')
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BinlakeError(
                f"table mappings are not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                fix="fix the JSON in the --table-mappings file",
            ) from None
        if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
            raise BinlakeError('table mappings need a top-level "rules" list', fix='use {"rules": [...]}')
        rules = tuple(_parse_rule(i, rule) for i, rule in enumerate(raw["rules"], start=1))
        if not any(rule.rule_type == "selection" and rule.action != "exclude" for rule in rules):
            raise BinlakeError(
                "table mappings have no selection rule that includes tables",
                fix='add {"rule-type": "selection", "rule-action": "include", "object-locator": {...}}',
            )
        return cls(rules, text)

    def selects(self, schema: str, table: str) -> bool:
        """DMS's rule: a table is in when an include (or explicit) rule matches and no exclude rule does."""
        selection = [r for r in self.rules if r.rule_type == "selection"]
        included = any(
            r.action in ("include", "explicit")
            and _match_object(r, schema, table)
            and (schema != PROBE_SCHEMA or r.schema == PROBE_SCHEMA)  # a wildcard never selects the probe
            for r in selection
        )
        excluded = any(r.action == "exclude" and _match_object(r, schema, table) for r in selection)
        return included and not excluded

    def _transformations(self, target: str, schema: str, table: str, column: str | None = None) -> list[Rule]:
        return [
            r
            for r in self.rules
            if r.rule_type == "transformation"
            and r.target == target
            and matches(r.schema, schema)
            and (target == "schema" or matches(r.table, table))
            and (column is None or matches(r.column, column))
        ]

    def target_schema(self, schema: str) -> str:
        return _apply(self._transformations("schema", schema, ""), schema)

    def target_table(self, schema: str, table: str) -> str:
        return _apply(self._transformations("table", schema, table), table)

    def naming_rules(self, schema: str, table: str) -> list[str]:
        """The names of the transformation rules that give the table its target schema and table names."""
        rules = self._transformations("schema", schema, "") + self._transformations("table", schema, table)
        return [rule.rule_name for rule in rules]

    def target_column(self, schema: str, table: str, column: str) -> str | None:
        """The column's name in the target, or None when a remove-column rule drops it."""
        rules = self._transformations("column", schema, table, column)
        if any(r.action == "remove-column" for r in rules):
            return None
        return _apply(rules, column)


def _match_object(rule: Rule, schema: str, table: str) -> bool:
    return matches(rule.schema, schema) and matches(rule.table, table)


def _apply(rules: list[Rule], name: str) -> str:
    for rule in rules:
        action, value, old = rule.action, rule.value, rule.old_value
        if action == "rename":
            name = value
        elif action == "convert-lowercase":
            name = name.lower()
        elif action == "convert-uppercase":
            name = name.upper()
        elif action == "add-prefix":
            name = value + name
        elif action == "add-suffix":
            name = name + value
        elif action == "remove-prefix" and name.startswith(value):
            name = name[len(value) :]
        elif action == "remove-suffix" and value and name.endswith(value):
            name = name[: -len(value)]
        elif action == "replace-prefix" and name.startswith(old):
            name = value + name[len(old) :]
        elif action == "replace-suffix" and old and name.endswith(old):
            name = name[: -len(old)] + value
    return name


def _parse_rule(index: int, raw: Any) -> Rule:
    where = f"rule {index}"
    if not isinstance(raw, dict):
        raise BinlakeError(f"{where} of the table mappings is not a JSON object")
    rule_type = raw.get("rule-type")
    action = raw.get("rule-action")
    locator = raw.get("object-locator")
    rule_name = str(raw.get("rule-name", raw.get("rule-id", index)))
    where = f"rule {rule_name!r}"
    if rule_type not in ("selection", "transformation"):
        raise BinlakeError(
            f"{where}: rule-type {rule_type!r} is not supported", fix="use 'selection' or 'transformation'"
        )
    if not isinstance(locator, dict) or "schema-name" not in locator:
        raise BinlakeError(f"{where}: object-locator with schema-name is required")
    schema = str(locator["schema-name"])
    table = str(locator.get("table-name", "%"))
    if rule_type == "selection":
        if action not in SELECTION_ACTIONS:
            raise BinlakeError(
                f"{where}: rule-action {action!r} is not a selection action", fix=f"use {SELECTION_ACTIONS}"
            )
        if "table-name" not in locator:
            raise BinlakeError(f"{where}: object-locator needs table-name", fix='use "table-name": "%" for all tables')
        return Rule(rule_type, str(raw.get("rule-id", index)), rule_name, action, schema, table)
    target = raw.get("rule-target")
    if target not in TRANSFORMATION_TARGETS:
        raise BinlakeError(
            f"{where}: rule-target {target!r} is not supported", fix=f"use one of {TRANSFORMATION_TARGETS}"
        )
    if action not in TRANSFORMATION_ACTIONS:
        raise BinlakeError(
            f"{where}: rule-action {action!r} is not supported", fix=f"use one of {', '.join(TRANSFORMATION_ACTIONS)}"
        )
    value = raw.get("value", "")
    if action in ("rename", "add-prefix", "add-suffix", "replace-prefix", "replace-suffix") and not value:
        raise BinlakeError(f"{where}: {action} needs a value")
    if target in ("table", "column") and "table-name" not in locator:
        raise BinlakeError(f"{where}: object-locator needs table-name for a {target} rule")
    if target == "column" and "column-name" not in locator:
        raise BinlakeError(f"{where}: object-locator needs column-name for a column rule")
    return Rule(
        rule_type,
        str(raw.get("rule-id", index)),
        rule_name,
        action,
        schema,
        table,
        column=str(locator.get("column-name", "%")),
        target=target,
        value=str(value or ""),
        old_value=str(raw.get("old-value", "") or ""),
    )
