"""Compiled parts of binlake and the choice between them and the pure-Python paths.

``BINLAKE_PURE_PYTHON=1`` forces the pure-Python paths (the fallback, and the oracle the compiled ones are tested
against). An extension that is missing or fails to import falls back too, with one log line, never a crash.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType

log = logging.getLogger(__name__)
_loaded: dict[str, ModuleType | None] = {}
_why: dict[str, str] = {}


def pure_python() -> bool:
    """True when BINLAKE_PURE_PYTHON asks for the pure-Python paths."""
    return os.environ.get("BINLAKE_PURE_PYTHON", "").strip().lower() not in ("", "0", "false", "no")


def extension(name: str) -> ModuleType | None:
    """``binlake.native.<name>``, or None when forced off or not importable (logged once per process)."""
    if pure_python():
        return None
    if name not in _loaded:
        try:
            _loaded[name] = importlib.import_module(f"binlake.native.{name}")
        except ImportError as exc:
            _loaded[name] = None
            _why[name] = str(exc)
            log.warning("binlake.native.%s is not available (%s); using the pure-Python path", name, exc)
    return _loaded[name]


def cdc_decoder_path() -> str:
    """Which CDC row decoder runs: 'compiled' or 'pure Python' (with the reason)."""
    if pure_python():
        return "pure Python (BINLAKE_PURE_PYTHON)"
    return "compiled" if extension("_rows") is not None else "pure Python (extension not built)"
