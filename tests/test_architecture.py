"""Imports flow one way (docs/architecture.md): nothing imports cli; engine is imported only by cli; catalog, query,
verify and monitor read the state store and the lake and never import engine."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import binlake

PACKAGE = Path(binlake.__file__).parent


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("binlake"):
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("binlake"))
    return names


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


# layer -> layers it may not import
FORBIDDEN = {
    "config": {"source", "capture", "target", "state", "engine", "cli"},
    "source": {"capture", "target", "state", "engine", "cli"},
    "capture": {"target", "state", "engine", "cli"},
    "target": {"source", "capture", "state", "engine", "cli"},
    "state": {"source", "capture", "target", "engine", "cli"},
    "engine": {"cli"},
    "sandbox": {"engine", "cli"},
    "sample": {"engine", "cli"},
    "position": {"config", "source", "capture", "target", "state", "engine", "cli"},
    "changes": {"target", "state", "engine", "cli"},
    "catalog": {"engine", "cli"},
    "query": {"engine", "cli"},
    "verify": {"engine", "cli"},
    "monitor": {"engine", "cli"},
    "api": {"cli"},
}


def test_imports_flow_one_way() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        module = "binlake." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        own = layer(module)
        for imported in imports_of(path):
            if layer(imported) in FORBIDDEN.get(own, set()):
                violations.append(f"{module} imports {imported}")
    assert violations == []


TESTS = PACKAGE.parent.parent / "tests"


def test_test_modules_import_no_other_test_module() -> None:
    """Shared helpers live in helper modules (tests/helpers.py, lake.py, s3server.py, type_cases.py, oracle/), so
    running or changing one test module never depends on another."""
    violations = []
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            violations += [
                f"{path.relative_to(TESTS)} imports {m}"
                for m in modules
                if any(p.startswith("test_") for p in m.split("."))
            ]
    assert violations == []


def test_sql_on_state_tables_lives_in_state() -> None:
    """The state store's tables are read and written through the typed repositories of binlake.state only
    (tasks, statistics, checkpoints, events, metrics, endpoints), never by SQL elsewhere."""
    from binlake.state.store import SCHEMA

    tables = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA)
    assert {"tasks", "table_statistics", "cdc_intents", "events", "metrics", "endpoints"} <= set(tables)
    sql = re.compile(rf"\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+(?:{'|'.join(tables)})\b")
    violations = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "state"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if sql.search(line)
    ]
    assert violations == []
