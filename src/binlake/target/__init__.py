"""The lake side: buckets (local directory or S3), DMS file naming, Parquet and CSV writers."""
