"""Reading changes from the source: the snapshot for full load, the binlog for CDC."""
