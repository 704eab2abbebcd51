#!/usr/bin/env bash
# Installs everything binlake needs on a Debian machine (run as root): MariaDB server and client
# libraries from Debian, then binlake and its Python dependencies into ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
[ -x /usr/sbin/mariadbd ] || command -v mariadbd >/dev/null 2>&1 || packages+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || packages+=(mariadb-client)
dpkg -s libmariadb-dev >/dev/null 2>&1 || packages+=(libmariadb-dev)
command -v pkg-config >/dev/null 2>&1 || packages+=(pkg-config)
command -v gcc >/dev/null 2>&1 || packages+=(build-essential)
# A headless browser for the dashboard's end-to-end test (tests/test_dashboard.py).
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
# A certificate for the TLS test, and a loop-mounted ext4 image for the power-loss test.
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
command -v mkfs.ext4 >/dev/null 2>&1 || packages+=(e2fsprogs)
command -v losetup >/dev/null 2>&1 || packages+=(mount)
# jq for the guide's `aws dms ... | jq` recipes (tests/test_api_guide.py).
command -v jq >/dev/null 2>&1 || packages+=(jq)
# Java for the Spark tests (pyspark runs Spark in a JVM; tests/test_engines.py).
command -v java >/dev/null 2>&1 || packages+=(openjdk-17-jre-headless)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || packages+=(python3-venv)
[ -e "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ] || packages+=(python3-dev)
if [ ${#packages[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
log=.venv/install.log
if ! { .venv/bin/python -m pip install -q --upgrade pip &&
       .venv/bin/python -m pip install -q -e ".[dev${BINLAKE_EXTRAS:+,$BINLAKE_EXTRAS}]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "pip install failed (log above, also in $log)" >&2
    exit 1
fi
# A plain DuckDB for the test that runs a `crawl --dialect duckdb` script over S3 with no binlake code: the httpfs
# and aws extensions download themselves at first use (impossible offline), and PyPI carries them for DuckDB 1.4.4.
# Optional: without it that test checks the script's text only.
[ -x .venv-duckdb-cli/bin/python ] || python3 -m venv .venv-duckdb-cli
.venv-duckdb-cli/bin/python -m pip install -q "duckdb==1.4.4" "duckdb-ext-httpfs==1.4.4.*" "duckdb-ext-aws==1.4.4.*" \
    >.venv-duckdb-cli/install.log 2>&1 || echo "note: no plain DuckDB with httpfs (see .venv-duckdb-cli/install.log)" >&2
# Bytecode for binlake's own modules, as a non-editable install has it: without it (PYTHONDONTWRITEBYTECODE set)
# every binlake process compiled them again, a third of a second of its start-up.
.venv/bin/python -m compileall -q src/binlake >/dev/null || true
echo "binlake installed: $(.venv/bin/binlake --version 2>/dev/null || .venv/bin/python -c 'import binlake; print(binlake.__version__)')"
