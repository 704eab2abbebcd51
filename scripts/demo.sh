#!/usr/bin/env bash
# Installs binlake, then runs the seed guide's pipeline end to end on this machine: a private MariaDB
# with the guide's sample data, endpoints, a full-load-and-cdc task, its table statistics and the files it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh

export BINLAKE_STATE_DIR="${BINLAKE_STATE_DIR:-$PWD/.binlake}"
export BINLAKE_DEFAULT_OUTPUT="${BINLAKE_DEFAULT_OUTPUT:-table}"  # tables for a reader, even when piped (CI)
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
    --s3-settings "{\"BucketName\": \"$BUCKET\", \"BucketFolder\": \"market-intelligence-hub\", \"DataFormat\": \"parquet\", \"CdcMaxBatchInterval\": 1}" >/dev/null
binlake describe-endpoints
binlake test-connection --endpoint-arn mariadb-source
binlake test-connection --endpoint-arn s3-raw-bucket

step "Create and start the replication task (full load + CDC), in the background"
binlake create-replication-task --replication-task-identifier "$TASK" \
    --source-endpoint-arn mariadb-source --target-endpoint-arn s3-raw-bucket \
    --migration-type full-load-and-cdc --table-mappings file://examples/table-mappings.json \
    --replication-task-settings file://examples/task-settings.json >/dev/null
binlake start-replication-task --replication-task-arn "$TASK" --start-replication-task-type start-replication --detach
json() { .venv/bin/python -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
until [ "$(binlake describe-replication-tasks --output json | json "d['ReplicationTasks'][0].get('CdcState') is not None")" = True ]; do
    state=$(binlake describe-replication-tasks --output json | json "d['ReplicationTasks'][0]['Status']")
    [ "$state" = failed ] && { binlake describe-replication-tasks; exit 1; }
    sleep 0.5
done

step "Table statistics after the full load (the guide's Step 3)"
binlake describe-table-statistics --replication-task-arn "$TASK"

step "The guide's Step 6: insert a customer in MariaDB; CDC writes it within CdcMaxBatchInterval"
mariadb --socket "$BINLAKE_STATE_DIR/sandbox/mariadb.sock" -u root ecommerce_platform -e "
    INSERT INTO customers (customer_id, email, first_name, last_name, phone, city, state, country, customer_segment)
    VALUES (UUID(), 'test@example.com', 'Test', 'User', '555-0100', 'Seattle', 'WA', 'US', 'New');"
until [ "$(binlake describe-table-statistics --replication-task-arn "$TASK" --output json | json "sum(t['Inserts'] for t in d['TableStatistics'])")" -ge 1 ]; do sleep 0.5; done
binlake describe-table-statistics --replication-task-arn "$TASK" --output json

step "Files in the bucket (the guide's Step 4): LOAD files and the CDC file"
find "$BUCKET" -type f -printf '%TY-%Tm-%Td %TH:%TM %10s %P\n' | sort -k4
.venv/bin/python -c "
import glob, pyarrow.parquet as pq
path = sorted(glob.glob('$BUCKET/market-intelligence-hub/ecommerce_platform/customers/2*.parquet'))[-1]
print(path); print(pq.read_table(path).select(['Op', 'email', 'first_name', 'city']).to_pylist())"

step "The guide's Glue crawler and Athena queries (Steps 6 and 7): binlake crawl and binlake query"
binlake crawl --replication-task-arn "$TASK"
binlake query "SELECT * FROM ecommerce_db.customers WHERE email = 'test@example.com'"
binlake query "SELECT 'customers' AS table_name, COUNT(*) AS athena_count FROM ecommerce_db.customers
    UNION ALL SELECT 'products', COUNT(*) FROM ecommerce_db.products
    UNION ALL SELECT 'orders', COUNT(*) FROM ecommerce_db.orders"

step "The guide's automated verification script: binlake verify (8 success criteria, exact comparison)"
binlake delete-endpoint --endpoint-arn mariadb-admin >/dev/null 2>&1 || true
binlake create-endpoint --endpoint-identifier mariadb-admin --endpoint-type source --engine-name mariadb \
    --server-name 127.0.0.1 --port "$(binlake sandbox status --output json | json "d['Sandbox']['port']")" \
    --username binlake_admin --password-file "$BINLAKE_STATE_DIR/sandbox/admin.password" >/dev/null
binlake verify --replication-task-arn "$TASK" --probe-endpoint-arn mariadb-admin --cdc-deadline 60

step "Stop the task (resume later with --start-replication-task-type resume-processing)"
binlake stop-replication-task --replication-task-arn "$TASK" --output json | json "d['ReplicationTask']['Status'], d['ReplicationTask']['StopReason']"
