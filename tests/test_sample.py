"""The guide's sample database, generated into a private MariaDB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import MySQLdb
import pytest

from binlake import sample
from binlake.errors import BinlakeError
from binlake.sample import create_sample
from binlake.sandbox import Sandbox, free_port

DB = "ecommerce_platform"
SIZES = {"customers": 300, "products": 80, "orders": 1_500}
GUIDE_INSERT = (
    "INSERT INTO customers (customer_id, email, first_name, last_name, phone, city, state, country, customer_segment) "
    "VALUES (UUID(), 'test@example.com', 'Test', 'User', '555-0100', 'Seattle', 'WA', 'US', 'New');"
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox(Path(tmp_path_factory.mktemp("sample")) / "sb", port=free_port())
    try:
        sb.start()
    except BinlakeError as exc:
        sb.destroy()
        pytest.skip(f"no MariaDB sandbox: {exc}")
    try:
        yield sb
    finally:
        sb.destroy()


@pytest.fixture
def conn(sandbox: Sandbox) -> Iterator[MySQLdb.connections.Connection]:
    connection = sandbox.root_connection()
    try:
        yield connection
    finally:
        connection.close()


def query(conn: MySQLdb.connections.Connection, sql: str) -> list[tuple]:
    cur = conn.cursor()
    cur.execute(sql)
    rows = list(cur.fetchall())
    cur.close()
    return rows


def scalar(conn: MySQLdb.connections.Connection, sql: str) -> object:
    return query(conn, sql)[0][0]


def test_counts_match_requested_sizes(conn: MySQLdb.connections.Connection) -> None:
    assert create_sample(conn, **SIZES) == SIZES
    for table, n in SIZES.items():
        assert scalar(conn, f"SELECT COUNT(*) FROM {DB}.{table}") == n


def test_orders_reference_existing_customers_and_products(conn: MySQLdb.connections.Connection) -> None:
    create_sample(conn, **SIZES)
    orphans = f"""SELECT COUNT(*) FROM {DB}.orders o
        LEFT JOIN {DB}.customers c ON c.customer_id = o.customer_id
        LEFT JOIN {DB}.products p ON p.product_id = o.product_id
        WHERE c.customer_id IS NULL OR p.product_id IS NULL"""
    assert scalar(conn, orphans) == 0
    assert scalar(conn, f"SELECT COUNT(DISTINCT customer_id) FROM {DB}.orders") > SIZES["customers"] // 2
    # unit_price is the product's price and total_amount is exact DECIMAL arithmetic.
    mismatches = f"""SELECT COUNT(*) FROM {DB}.orders o JOIN {DB}.products p ON p.product_id = o.product_id
        WHERE o.unit_price <> p.price OR o.total_amount <> o.quantity * o.unit_price"""
    assert scalar(conn, mismatches) == 0


def test_nullable_columns_hold_nulls_and_values(conn: MySQLdb.connections.Connection) -> None:
    create_sample(conn, **SIZES)
    phone_nulls, phones = query(conn, f"SELECT SUM(phone IS NULL), SUM(phone IS NOT NULL) FROM {DB}.customers")[0]
    assert phone_nulls > 0 and phones > phone_nulls
    note_nulls, notes = query(conn, f"SELECT SUM(notes IS NULL), SUM(notes IS NOT NULL) FROM {DB}.orders")[0]
    assert notes > 0 and note_nulls > notes  # mostly NULL
    assert scalar(conn, f"SELECT SUM(attributes IS NULL) FROM {DB}.products") > 0
    assert scalar(conn, f"SELECT SUM(JSON_VALID(attributes)) FROM {DB}.products") > 0


def test_column_types(conn: MySQLdb.connections.Connection) -> None:
    create_sample(conn, **SIZES)
    rows = query(
        conn,
        f"SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{DB}'",
    )
    types = {(table, column): kind.lower() for table, column, kind in rows}
    for key in (("customers", "customer_id"), ("products", "product_id"), ("orders", "order_id")):
        assert types[key] == "char(36)"
    assert types[("products", "price")] == "decimal(10,2)"
    assert types[("orders", "unit_price")] == "decimal(10,2)"
    assert types[("orders", "total_amount")] == "decimal(12,2)"
    for key in (("customers", "created_at"), ("customers", "updated_at"), ("orders", "order_date")):
        assert types[key] == "datetime(6)"
    assert types[("customers", "customer_segment")] == "enum('new','regular','premium','vip')"
    assert types[("orders", "status")] == "enum('pending','processing','shipped','delivered','cancelled')"
    assert types[("products", "attributes")] in ("json", "longtext")  # MariaDB's JSON is LONGTEXT + check
    assert types[("products", "description")] == types[("orders", "notes")] == "text"
    assert len([key for key in types if key[0] == "orders"]) == 12
    secondary = f"""SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS
        WHERE TABLE_SCHEMA = '{DB}' AND INDEX_NAME <> 'PRIMARY'"""
    assert {("orders", "customer_id"), ("customers", "created_at")} <= set(query(conn, secondary))


def test_guide_insert_works(conn: MySQLdb.connections.Connection) -> None:
    create_sample(conn, **SIZES)
    cur = conn.cursor()
    cur.execute(f"USE {DB}")
    cur.execute(GUIDE_INSERT)
    cur.close()
    columns = "first_name, city, customer_segment, created_at, updated_at"
    (row,) = query(conn, f"SELECT {columns} FROM customers WHERE email = 'test@example.com'")
    assert row[:3] == ("Test", "Seattle", "New")
    assert row[3] is not None and row[3] == row[4]
    assert scalar(conn, "SELECT COUNT(*) FROM customers") == SIZES["customers"] + 1


def test_rerun_recreates_the_database(conn: MySQLdb.connections.Connection) -> None:
    create_sample(conn, **SIZES)
    query(
        conn, f"INSERT INTO {DB}.customers (customer_id, email, first_name, last_name) VALUES (UUID(), 'x', 'X', 'Y')"
    )
    smaller = {"customers": 50, "products": 10, "orders": 120}
    assert create_sample(conn, **smaller) == smaller
    assert scalar(conn, f"SELECT COUNT(*) FROM {DB}.customers WHERE email = 'x'") == 0


def test_same_seed_same_data(conn: MySQLdb.connections.Connection) -> None:
    def checksums(seed: int) -> list[tuple]:
        create_sample(conn, **SIZES, seed=seed)
        return query(conn, f"CHECKSUM TABLE {DB}.customers, {DB}.products, {DB}.orders")

    first = checksums(7)
    assert checksums(7) == first
    assert checksums(8) != first


def test_multibyte_text_round_trips(conn: MySQLdb.connections.Connection) -> None:
    create_sample(conn, **SIZES)
    cities = {row[0] for row in query(conn, f"SELECT DISTINCT city FROM {DB}.customers")}
    assert {"São Paulo", "Zürich", "東京"} <= cities
    notes = {row[0] for row in query(conn, f"SELECT DISTINCT notes FROM {DB}.orders WHERE notes IS NOT NULL")}
    assert "Gift wrap please 🎁" in notes  # 4-byte UTF-8


def test_works_over_a_latin1_connection(sandbox: Sandbox, conn: MySQLdb.connections.Connection) -> None:
    latin1 = MySQLdb.connect(unix_socket=str(sandbox.socket_path), user="root", charset="latin1", autocommit=True)
    try:
        assert create_sample(latin1, **SIZES) == SIZES
        assert scalar(latin1, "SELECT DATABASE()") is None  # the caller's current database is left alone
    finally:
        latin1.close()
    assert scalar(conn, f"SELECT COUNT(*) FROM {DB}.customers WHERE city = '東京'") > 0


def test_without_sequence_engine(conn: MySQLdb.connections.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample, "_has_sequence_engine", lambda cur: False)
    sizes = {"customers": 120, "products": 30, "orders": 400}
    assert create_sample(conn, database="sample_digits", **sizes) == sizes
    assert scalar(conn, "SELECT COUNT(DISTINCT customer_id) FROM sample_digits.customers") == sizes["customers"]
    orphans = "SELECT COUNT(*) FROM sample_digits.orders o LEFT JOIN sample_digits.customers c USING (customer_id) "
    assert scalar(conn, orphans + "WHERE c.customer_id IS NULL") == 0
    query(conn, "DROP DATABASE sample_digits")


def test_rejects_impossible_sizes(conn: MySQLdb.connections.Connection) -> None:
    with pytest.raises(ValueError):
        create_sample(conn, customers=-1)
    with pytest.raises(ValueError):
        create_sample(conn, customers=0, orders=10)
