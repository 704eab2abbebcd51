"""Durable state: endpoints, tasks, table statistics, events (SQLite, WAL)."""
