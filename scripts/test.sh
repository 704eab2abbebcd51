#!/usr/bin/env bash
# Installs what the tests need, then runs lint, mypy on src/ and the whole test suite (tests start their own MariaDB
# and S3 servers on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ruff format --check src tests bench
.venv/bin/ruff check src tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
