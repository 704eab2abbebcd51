"""The data every benchmark reads: the full load's ``orders`` table and the CDC workloads written into the binlog.

Full load: the guide's ``orders`` table (binlake.sample, 12 columns), and the first rows of it as a table of its
own, for contenders too slow for the whole table in one run; both held whole in the server's buffer pool, so every
contender reads them from memory (``warm``).

CDC: a 12-column table shaped like the guide's ``orders`` (CHAR(36) UUID key, DECIMALs, DATETIME(6), ENUM, TEXT,
VARCHAR, INT), rows computed by the server from MariaDB's SEQUENCE engine, and two ways of changing it:

* ``oltp``: transactions of 100 changes (30 inserts, 50 updates, 20 deletes) in statements of about 4 rows, the
  statement order shuffled, as an OLTP application writes them (about 4 rows per rows event);
* ``bulk``: 60 % inserts, 30 % updates, 10 % deletes in statements (and transactions) of 1,000 rows.

Each writer returns the binlog range it wrote (positions before and after) and the changes it made, counted from
the statements' affected rows (an update's before/after image pair is one change).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from binlake.sample import create_sample
from harness import MIB, SandboxServer

SCHEMA = "bench"  # the CDC workloads' database
Position = tuple[str, int]  # (binlog file, offset): tuples compare like binlog positions

TABLE_SQL = """CREATE TABLE `{schema}`.`{table}` (
    order_id CHAR(36) NOT NULL,
    seq INT NOT NULL,
    customer_id CHAR(36) NOT NULL,
    quantity INT NOT NULL,
    unit_price DECIMAL(10,2) NOT NULL,
    total_amount DECIMAL(12,2) NOT NULL,
    status ENUM('pending', 'processing', 'shipped', 'delivered', 'cancelled') NOT NULL DEFAULT 'pending',
    written_at DATETIME(6) NOT NULL,
    shipping_address TEXT NULL,
    payment_method VARCHAR(32) NULL,
    notes TEXT NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (order_id),
    UNIQUE KEY uk_seq (seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"""

COLUMNS = (
    "order_id, seq, customer_id, quantity, unit_price, total_amount, status, written_at, shipping_address, "
    "payment_method, notes"
)
# Rows seq = base + 1 .. base + count, computed on the server from MariaDB's SEQUENCE engine.
INSERT_SELECT_SQL = f"""INSERT INTO `{{schema}}`.`{{table}}` ({COLUMNS})
SELECT UUID(), n,
    CONCAT_WS('-', SUBSTR(h, 1, 8), SUBSTR(h, 9, 4), SUBSTR(h, 13, 4), SUBSTR(h, 17, 4), SUBSTR(h, 21, 12)),
    1 + n % 5,
    1 + (n * 7919 % 20000) / 100,
    (1 + n % 5) * (1 + (n * 7919 % 20000) / 100),
    ELT(1 + n % 5, 'pending', 'processing', 'shipped', 'delivered', 'cancelled'),
    NOW(6),
    CONCAT(1 + n % 9999, ' Main St, Apt ', n % 97, ', Seattle, WA 98101'),
    ELT(1 + n % 4, 'credit_card', 'paypal', 'debit_card', 'gift_card'),
    ELT(1 + n % 3, NULL, 'Leave at the front door', 'Gift wrap please 🎁')
FROM (SELECT {{base}} + seq AS n, MD5(seq % 50000) AS h FROM `{{schema}}`.seq_1_to_{{count}}) AS s"""
UPDATE_RANGE_SQL = (
    "UPDATE `{schema}`.`{table}` SET status = ELT(1 + (seq + 1) %% 5, 'pending', 'processing', 'shipped', "
    "'delivered', 'cancelled'), total_amount = total_amount + 1, written_at = NOW(6) WHERE seq BETWEEN %s AND %s"
)
DELETE_RANGE_SQL = "DELETE FROM `{schema}`.`{table}` WHERE seq BETWEEN %s AND %s"
OLTP_PREFILL = 20_000  # rows before the range, for the first transactions' updates and deletes


def parse_position(text: str) -> Position:
    """'mysql-bin.000001:1234' → ('mysql-bin.000001', 1234)."""
    name, _, pos = text.rpartition(":")
    return name, int(pos)


def fmt_position(position: Position) -> str:
    return f"{position[0]}:{position[1]}"


@dataclass
class Workload:
    """A range of the binlog and the row changes in it."""

    name: str
    table: str
    before: Position
    after: Position
    inserts: int
    updates: int
    deletes: int
    transactions: int
    binlog_bytes: int
    seconds: float  # writing it

    @property
    def changes(self) -> int:
        return self.inserts + self.updates + self.deletes

    @property
    def counts(self) -> dict[str, int]:
        return {"I": self.inserts, "U": self.updates, "D": self.deletes}

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "before": fmt_position(self.before), "after": fmt_position(self.after)}


# -- full load --------------------------------------------------------------------------------------------------------
def create_orders(server: SandboxServer, database: str, orders: int) -> int:
    """binlake.sample's ``database`` with ``orders`` orders, held whole in the buffer pool (``warm``). Returns its
    rows."""
    conn = server.sandbox.root_connection()
    try:
        counts = create_sample(conn, database=database, customers=10_000, products=1_000, orders=orders)
    finally:
        conn.close()
    warm(server, database, "orders")
    return int(counts["orders"])


def create_head(server: SandboxServer, database: str, table: str, rows: int) -> int:
    """``table``: the first ``rows`` rows of ``orders`` (same definition), for the slow contenders."""
    server.query(f"DROP TABLE IF EXISTS `{database}`.`{table}`")
    server.query(f"CREATE TABLE `{database}`.`{table}` LIKE `{database}`.orders")
    server.query(f"INSERT INTO `{database}`.`{table}` SELECT * FROM `{database}`.orders ORDER BY 1 LIMIT {int(rows)}")
    warm(server, database, table)
    return int(server.query(f"SELECT COUNT(*) FROM `{database}`.`{table}`")[0][0])


def warm(server: SandboxServer, database: str, table: str) -> None:
    """Grow the buffer pool to hold every table and read ``table`` into it (bench/run.py records the pages the
    server still reads from disk in each run).

    The sandbox's 256 MiB pool holds less than the 1M-row orders table with its index (350 MiB), so every SELECT
    re-read part of it from disk (O_DIRECT), and a contender that writes its files to the same disk slowed those
    reads; the full load then measured the disk, not the client."""
    sizes = server.query(
        "SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES WHERE ENGINE = 'InnoDB'"
    )
    needed = int(sizes[0][0]) * 3 // 2 + 256 * MIB
    current = int(server.query("SELECT @@innodb_buffer_pool_size")[0][0])
    if needed > current:
        server.query(f"SET GLOBAL innodb_buffer_pool_size = {-(-needed // (128 * MIB)) * 128 * MIB}")
        deadline = time.monotonic() + 120
        while int(server.query("SELECT @@innodb_buffer_pool_size")[0][0]) < needed:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the buffer pool did not grow to {needed // MIB} MiB")
            time.sleep(0.2)
    server.query(f"SELECT COUNT(*), SUM(LENGTH(updated_at)) FROM `{database}`.`{table}`")  # the clustered index


def disk_reads(server: SandboxServer) -> int:
    """InnoDB's pages read from disk since the server started (Innodb_buffer_pool_reads)."""
    return int(server.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_reads'")[0][1])


# -- CDC ---------------------------------------------------------------------------------------------------------
def master_position(server: SandboxServer) -> Position:
    row = server.query("SHOW MASTER STATUS")[0]
    return str(row[0]), int(row[1])


def binlog_files(server: SandboxServer, before: Position, after: Position) -> list[str]:
    return [str(row[0]) for row in server.query("SHOW BINARY LOGS") if before[0] <= str(row[0]) <= after[0]]


def binlog_bytes(server: SandboxServer, before: Position, after: Position) -> int:
    sizes = {str(name): int(size) for name, size, *_ in server.query("SHOW BINARY LOGS")}
    total = 0
    for name in sorted(sizes):
        if before[0] <= name <= after[0]:
            start = before[1] if name == before[0] else 0
            end = after[1] if name == after[0] else sizes[name]
            total += end - start
    return total


def create_table(server: SandboxServer, table: str, prefill: int = 0) -> None:
    server.query(f"CREATE DATABASE IF NOT EXISTS `{SCHEMA}`")
    server.query(f"DROP TABLE IF EXISTS `{SCHEMA}`.`{table}`")
    server.query(TABLE_SQL.format(schema=SCHEMA, table=table))
    if prefill:
        server.query(INSERT_SELECT_SQL.format(schema=SCHEMA, table=table, base=0, count=prefill))


def oltp_statements(rng: random.Random) -> list[tuple[str, int]]:
    """One transaction's statements: (kind, rows) of 30 inserts, 50 updates, 20 deletes, about 4 rows each,
    in a random order."""
    statements = [("I", k) for k in (4,) * 7 + (2,)]
    statements += [("U", k) for k in (4,) * 12 + (2,)]
    statements += [("D", 4)] * 5
    rng.shuffle(statements)
    return statements


Statement = tuple[str, str, tuple[Any, ...] | None]  # (kind I/U/D, SQL, parameters)


def write(server: SandboxServer, name: str, table: str, transactions: Iterable[list[Statement]]) -> Workload:
    """Run ``transactions`` on one connection after a fresh binlog file; the range they wrote, and their changes
    as the statements' affected rows counted them."""
    counted: Counter[str] = Counter()
    count = 0
    conn = server.sandbox.root_connection()
    try:
        cur = conn.cursor()
        cur.execute("FLUSH BINARY LOGS")
        before = master_position(server)
        started = time.monotonic()
        for statements in transactions:
            cur.execute("START TRANSACTION")
            for kind, sql, params in statements:
                cur.execute(sql, params)
                counted[kind] += cur.rowcount
            conn.commit()
            count += 1
        seconds = time.monotonic() - started
        after = master_position(server)
    finally:
        conn.close()
    return Workload(
        name=name,
        table=table,
        before=before,
        after=after,
        inserts=counted["I"],
        updates=counted["U"],
        deletes=counted["D"],
        transactions=count,
        binlog_bytes=binlog_bytes(server, before, after),
        seconds=seconds,
    )


def oltp_transactions(transactions: int, table: str, seed: int) -> Iterator[list[Statement]]:
    """``transactions`` transactions of :func:`oltp_statements`; updates and deletes touch rows that exist."""
    rng = random.Random(seed)
    low, next_seq = 1, OLTP_PREFILL + 1  # live rows: seq low .. next_seq - 1
    for _ in range(transactions):
        statements: list[Statement] = []
        deleted = 0
        for kind, k in oltp_statements(rng):
            if kind == "I":
                sql = INSERT_SELECT_SQL.format(schema=SCHEMA, table=table, base=next_seq - 1, count=k)
                statements.append((kind, sql, None))
                next_seq += k
            elif kind == "D":
                statements.append((kind, DELETE_RANGE_SQL.format(schema=SCHEMA, table=table), (low, low + k - 1)))
                low += k
                deleted += k
            else:  # rows past this transaction's deletes, inserted before it
                first = rng.randint(low + 20 - deleted, next_seq - 40 - k)
                statements.append((kind, UPDATE_RANGE_SQL.format(schema=SCHEMA, table=table), (first, first + k - 1)))
        yield statements


def write_oltp(server: SandboxServer, transactions: int, table: str = "orders", seed: int = 14) -> Workload:
    create_table(server, table, prefill=OLTP_PREFILL)
    return write(server, "oltp", table, oltp_transactions(transactions, table, seed))


def bulk_transactions(inserts: int, updates: int, deletes: int, table: str, rows: int) -> Iterator[list[Statement]]:
    """Inserts, then updates and deletes of distinct inserted rows, in statements (and transactions) of ``rows``."""
    for base in range(0, inserts, rows):
        count = min(rows, inserts - base)
        yield [("I", INSERT_SELECT_SQL.format(schema=SCHEMA, table=table, base=base, count=count), None)]
    for kind, sql, first, count in (("U", UPDATE_RANGE_SQL, 1, updates), ("D", DELETE_RANGE_SQL, updates + 1, deletes)):
        for low in range(first, first + count, rows):
            yield [(kind, sql.format(schema=SCHEMA, table=table), (low, min(low + rows, first + count) - 1))]


def write_bulk(server: SandboxServer, changes: int, table: str = "orders", txn_rows: int = 1000) -> Workload:
    """``changes`` changes: 60 % inserts, 30 % updates, 10 % deletes in transactions of ``txn_rows`` rows."""
    inserts, updates = round(changes * 0.6), round(changes * 0.3)
    deletes = changes - inserts - updates
    create_table(server, table)
    w = write(server, "bulk", table, bulk_transactions(inserts, updates, deletes, table, txn_rows))
    if (w.inserts, w.updates, w.deletes) != (inserts, updates, deletes):
        raise SystemExit(f"the bulk workload wrote {w.counts}, not {(inserts, updates, deletes)}")
    return w
