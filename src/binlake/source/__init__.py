"""The MySQL/MariaDB side: connections, schema, type mapping."""
