"""An AWS API endpoint over binlake: DMS and CloudWatch Logs (JSON 1.1) and CloudWatch (query and JSON), SigV4-signed,
so ``aws --endpoint-url`` and boto3 drive binlake unchanged. See docs/api.md."""
