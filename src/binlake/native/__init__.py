"""Compiled parts of binlake, each with a pure-Python fallback.

An extension that is missing or fails to import (a build without gcc, a mismatched client library) means the
pure-Python path, with one log line, never a crash. ``BINLAKE_PURE_PYTHON=1`` forces the pure-Python paths
everywhere: they are the fallback and the oracle the compiled paths are tested against.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType

log = logging.getLogger(__name__)

# part of binlake → its extension module in this package; `binlake --version` reports them in this order.
PARTS = {
    "full load": "_fetch",
    "cdc decoder": "_rows",
}

_loaded: dict[str, ModuleType | None] = {}


def pure_python() -> bool:
    """True when BINLAKE_PURE_PYTHON asks for the pure-Python paths."""
    return os.environ.get("BINLAKE_PURE_PYTHON", "").strip().lower() not in ("", "0", "false", "no")


def extension(name: str) -> ModuleType | None:
    """The compiled module ``binlake.native.<name>``, or None for the pure-Python path."""
    if pure_python():
        return None
    if name not in _loaded:
        try:
            _loaded[name] = importlib.import_module(f"{__name__}.{name}")
        except ImportError as exc:
            log.info("compiled %s unavailable, using the pure-Python path: %s", name, exc)
            _loaded[name] = None
    return _loaded[name]


def paths() -> dict[str, str]:
    """Which path each part uses: 'compiled' or 'python'."""
    return {part: "compiled" if extension(name) is not None else "python" for part, name in PARTS.items()}


def describe() -> str:
    """'full load: compiled, cdc decoder: python', as ``binlake --version`` prints it."""
    return ", ".join(f"{part}: {path}" for part, path in paths().items())
