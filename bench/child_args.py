"""The command line every contender child of bench/run.py takes: where the server is and who to log in as.

Kept apart from bench/harness.py so that a timed child imports nothing but argparse for it."""

from __future__ import annotations

import argparse
from pathlib import Path


def parser(description: str, full_load: bool = True) -> argparse.ArgumentParser:
    """``--host --port --user --password-file``, and for a full load ``--database --out`` and the tables."""
    result = argparse.ArgumentParser(description=description.splitlines()[0])
    result.add_argument("--host", default="127.0.0.1")
    result.add_argument("--port", type=int, required=True)
    result.add_argument("--user", required=True)
    result.add_argument("--password-file", required=True)
    if full_load:
        result.add_argument("--database", required=True)
        result.add_argument("--out", required=True, type=Path)
        result.add_argument("tables", nargs="+")
    return result


def password(args: argparse.Namespace) -> str:
    return Path(args.password_file).read_text().strip()
