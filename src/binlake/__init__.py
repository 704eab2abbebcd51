"""binlake: change data capture from MySQL-family databases into a DMS-layout data lake."""

from __future__ import annotations

from functools import cache


def __getattr__(name: str) -> str:
    # ``__version__`` is looked up when asked for: importing importlib.metadata costs every binlake process
    # (a task's included) tens of milliseconds that only ``--version`` needs.
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    # One version source: pyproject.toml's [project] version, as the installed package's metadata reports it.
    try:
        return version("binlake")
    except PackageNotFoundError:  # run from a source tree that was never installed (pip install -e . fixes it)
        return "0.0.0+unknown"
