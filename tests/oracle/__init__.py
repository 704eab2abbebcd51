"""The differential ("oracle") harness: random schemas and workloads against the sandbox MariaDB, the binlog
read by binlake's reader and by MariaDB's own decoder (mariadb-binlog), compared row image by row image and
with the committed state of the source. Used by tests/test_binlog_oracle.py and bench/binlog_oracle.py."""
