#!/usr/bin/env bash
# Installs binlake, then runs the seed guide's pipeline end to end on this machine: a private MariaDB
# with the guide's sample data, endpoints, a full-load task, its table statistics and the files it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh

export BINLAKE_STATE_DIR="${BINLAKE_STATE_DIR:-$PWD/.binlake}"
binlake() { .venv/bin/binlake "$@"; }
step() { printf '\n== %s\n' "$*"; }
TASK=ecommerce-replication
BUCKET="$PWD/lake/raw-bucket"

step "Start a private MariaDB (binlog on) under $BINLAKE_STATE_DIR/sandbox"
binlake sandbox start

step "Create the guide's sample data (ecommerce_platform: customers, products, orders)"
binlake sample create

step "Endpoints: the sandbox as source, a local directory as the S3 bucket"
binlake delete-replication-task --replication-task-arn "$TASK" >/dev/null 2>&1 || true
binlake delete-endpoint --endpoint-arn mariadb-source >/dev/null 2>&1 || true
binlake delete-endpoint --endpoint-arn s3-raw-bucket >/dev/null 2>&1 || true
mkdir -p "$BUCKET"
binlake create-endpoint --endpoint-identifier mariadb-source --endpoint-type source --engine-name mariadb \
    --server-name 127.0.0.1 --port "$(binlake sandbox status --output json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["Sandbox"]["port"])')" \
    --username binlake --password-file "$BINLAKE_STATE_DIR/sandbox/replication.password" >/dev/null
binlake create-endpoint --endpoint-identifier s3-raw-bucket --endpoint-type target --engine-name s3 \
    --s3-settings "{\"BucketName\": \"$BUCKET\", \"BucketFolder\": \"market-intelligence-hub\", \"DataFormat\": \"parquet\"}" >/dev/null
binlake describe-endpoints
binlake test-connection --endpoint-arn mariadb-source
binlake test-connection --endpoint-arn s3-raw-bucket

step "Create and run the replication task (full load)"
binlake create-replication-task --replication-task-identifier "$TASK" \
    --source-endpoint-arn mariadb-source --target-endpoint-arn s3-raw-bucket \
    --migration-type full-load --table-mappings file://examples/table-mappings.json \
    --replication-task-settings file://examples/task-settings.json >/dev/null
binlake start-replication-task --replication-task-arn "$TASK" --start-replication-task-type start-replication

step "Table statistics (the guide's Step 3)"
binlake describe-table-statistics --replication-task-arn "$TASK" --output json

step "Files in the bucket (the guide's Step 4)"
find "$BUCKET" -type f -printf '%TY-%Tm-%Td %TH:%TM %10s %P\n' | sort -k4
