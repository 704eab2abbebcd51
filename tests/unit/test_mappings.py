"""DMS table mappings (config/mappings.py): the selection and transformation rules as DMS documents them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from binlake.config.mappings import PROBE_SCHEMA, TableMappings, matches
from binlake.errors import BinlakeError


def selection(schema: str, table: str = "%", action: str = "include", name: str = "s") -> dict[str, Any]:
    return {
        "rule-type": "selection",
        "rule-id": name,
        "rule-name": name,
        "object-locator": {"schema-name": schema, "table-name": table},
        "rule-action": action,
    }


def transformation(target: str, action: str, locator: dict[str, str], **extra: str) -> dict[str, Any]:
    return {
        "rule-type": "transformation",
        "rule-id": f"{target}-{action}",
        "rule-name": f"{target}-{action}",
        "rule-target": target,
        "object-locator": locator,
        "rule-action": action,
        **extra,
    }


def parse(*rules: dict[str, Any]) -> TableMappings:
    return TableMappings.parse(json.dumps({"rules": list(rules)}))


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("%", "anything", True),
        ("order%", "orders", True),
        ("order%", "Orders", False),  # DMS matches names case-sensitively
        ("o%s", "os", True),
        ("a.b", "axb", False),  # only % is special; a dot is a dot
        ("a_b", "axb", False),  # and so is an underscore
        ("%[x]%", "a[x]b", True),
        ("%", "line\nbreak", True),
    ],
)
def test_wildcards(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


def test_exclude_wins_over_include() -> None:
    mappings = parse(selection("shop"), selection("shop", "audit%", "exclude", "x"))
    assert mappings.selects("shop", "orders")
    assert not mappings.selects("shop", "audit_log")
    assert not mappings.selects("other", "orders")


def test_a_wildcard_never_selects_the_verify_probe() -> None:
    assert not parse(selection("%")).selects(PROBE_SCHEMA, "probe")
    assert parse(selection(PROBE_SCHEMA)).selects(PROBE_SCHEMA, "probe")


@pytest.mark.parametrize(
    ("action", "extra", "before", "after"),
    [
        ("rename", {"value": "sales"}, "orders", "sales"),
        ("convert-lowercase", {}, "OrDers", "orders"),
        ("convert-uppercase", {}, "orders", "ORDERS"),
        ("add-prefix", {"value": "raw_"}, "orders", "raw_orders"),
        ("add-suffix", {"value": "_v1"}, "orders", "orders_v1"),
        ("remove-prefix", {"value": "tmp_"}, "tmp_orders", "orders"),
        ("remove-prefix", {"value": "tmp_"}, "orders", "orders"),  # no prefix: unchanged
        ("remove-suffix", {"value": "_old"}, "orders_old", "orders"),
        ("replace-prefix", {"value": "new_", "old-value": "old_"}, "old_orders", "new_orders"),
        ("replace-suffix", {"value": "_b", "old-value": "_a"}, "orders_a", "orders_b"),
    ],
)
def test_table_transformations(action: str, extra: dict[str, str], before: str, after: str) -> None:
    mappings = parse(
        selection("shop"), transformation("table", action, {"schema-name": "shop", "table-name": "%"}, **extra)
    )
    assert mappings.target_table("shop", before) == after
    assert mappings.target_table("elsewhere", before) == before


def test_schema_and_column_rules() -> None:
    mappings = parse(
        selection("shop"),
        transformation("schema", "rename", {"schema-name": "shop"}, value="lake"),
        transformation("column", "remove-column", {"schema-name": "shop", "table-name": "users", "column-name": "pw%"}),
        transformation("column", "convert-uppercase", {"schema-name": "shop", "table-name": "%", "column-name": "id"}),
    )
    assert mappings.target_schema("shop") == "lake"
    assert mappings.target_column("shop", "users", "pw_hash") is None
    assert mappings.target_column("shop", "orders", "pw_hash") == "pw_hash"
    assert mappings.target_column("shop", "users", "id") == "ID"
    assert mappings.naming_rules("shop", "users") == ["schema-rename"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "table mappings are empty"),
        (
            "{",
            "table mappings are not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        ),
        ('{"rule": []}', 'table mappings need a top-level "rules" list'),
        (json.dumps({"rules": [selection("s", action="exclude")]}), "no selection rule that includes tables"),
        (json.dumps({"rules": [{**selection("s"), "rule-type": "filter"}]}), "rule-type 'filter' is not supported"),
        (json.dumps({"rules": [{**selection("s"), "rule-action": "keep"}]}), "rule-action 'keep' is not a selection"),
        (
            json.dumps(
                {"rules": [selection("s"), transformation("table", "rename", {"schema-name": "s", "table-name": "t"})]}
            ),
            "rename needs a value",
        ),
        (
            json.dumps(
                {
                    "rules": [
                        selection("s"),
                        transformation("column", "remove-column", {"schema-name": "s", "table-name": "t"}),
                    ]
                }
            ),
            "needs column-name for a column rule",
        ),
    ],
)
def test_bad_mappings_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(BinlakeError) as caught:
        TableMappings.parse(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
