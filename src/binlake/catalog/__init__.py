"""The catalog (the guide's Glue crawler + Athena): DuckDB views over a task's target files."""
