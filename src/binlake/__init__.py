"""binlake: change data capture from MySQL-family databases into a DMS-layout data lake."""

from importlib.metadata import PackageNotFoundError, version

# One version source: pyproject.toml's [project] version, as the installed package's metadata reports it.
try:
    __version__ = version("binlake")
except PackageNotFoundError:  # run from a source tree that was never installed (pip install -e . fixes it)
    __version__ = "0.0.0+unknown"
