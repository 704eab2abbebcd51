"""Sample data of the AWS DMS verification guide: database ``ecommerce_platform`` with customers, products, orders.

The columns cover the type mapping a replication has to get right: CHAR(36) UUID keys, DECIMAL money,
DATETIME(6), ENUM, JSON, TEXT, TINYINT(1), NULLs and multibyte text (including 4-byte UTF-8).

Rows are generated on the server with INSERT ... SELECT over a run of numbers (MariaDB's SEQUENCE engine,
a cross join of digits elsewhere), CHUNK_ROWS rows per statement, each committed on its own: a million
orders take seconds and no statement builds a huge transaction. Customer and product keys are UUID-shaped
MD5 digests of (seed, table, row number), so an order computes the id of customer n without a lookup;
order keys are UUIDv7 of the order date. Other values come from RAND(n), n derived from the seed, table,
chunk and column; the same seed gives the same data.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from MySQLdb.connections import Connection
    from MySQLdb.cursors import Cursor

DEFAULT_DATABASE = "ecommerce_platform"
_CHUNK_DIGITS = 5
CHUNK_ROWS = 10**_CHUNK_DIGITS  # a power of ten: the digits fallback builds a chunk from _CHUNK_DIGITS digit tables

CUSTOMER_SEGMENTS = ("New", "Regular", "Premium", "VIP")
ORDER_STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled")

# {db} is the backquoted database name.
SAMPLE_SCHEMA_SQL = (
    """CREATE TABLE {db}.customers (
    customer_id CHAR(36) NOT NULL,
    email VARCHAR(255) NOT NULL,
    first_name VARCHAR(100) NOT NULL,
    last_name VARCHAR(100) NOT NULL,
    phone VARCHAR(20) NULL,
    city VARCHAR(100) NULL,
    state VARCHAR(100) NULL,
    country CHAR(2) NOT NULL DEFAULT 'US',
    customer_segment ENUM('New', 'Regular', 'Premium', 'VIP') NOT NULL DEFAULT 'New',
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (customer_id),
    KEY idx_customers_created_at (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    """CREATE TABLE {db}.products (
    product_id CHAR(36) NOT NULL,
    product_name VARCHAR(255) NOT NULL,
    description TEXT NULL,
    category VARCHAR(100) NOT NULL,
    price DECIMAL(10,2) NOT NULL,
    stock_quantity INT NOT NULL DEFAULT 0,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    attributes JSON NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    """CREATE TABLE {db}.orders (
    order_id CHAR(36) NOT NULL,
    customer_id CHAR(36) NOT NULL,
    product_id CHAR(36) NOT NULL,
    quantity INT NOT NULL,
    unit_price DECIMAL(10,2) NOT NULL,
    total_amount DECIMAL(12,2) NOT NULL,
    status ENUM('pending', 'processing', 'shipped', 'delivered', 'cancelled') NOT NULL DEFAULT 'pending',
    order_date DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    shipping_address TEXT NULL,
    payment_method VARCHAR(32) NULL,
    notes TEXT NULL,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (order_id),
    KEY idx_orders_customer_id (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
)

FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Susan", "José", "Zoë", "Søren", "Chloé", "François", "Wei", "Yuki", "Олег",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Taylor",
    "Müller", "Núñez", "O'Brien", "Kowalski", "Tanaka", "Dubois", "Rossi", "Nguyen", "Иванов", "佐藤",
)  # fmt: skip
# (city, state, country); US-heavy like the guide's test row.
CITIES = (
    ("Seattle", "WA", "US"), ("New York", "NY", "US"), ("Austin", "TX", "US"), ("Chicago", "IL", "US"),
    ("San Francisco", "CA", "US"), ("Boston", "MA", "US"), ("Denver", "CO", "US"), ("Portland", "OR", "US"),
    ("Toronto", "ON", "CA"), ("Montréal", "QC", "CA"), ("London", "ENG", "GB"), ("München", "BY", "DE"),
    ("Zürich", "ZH", "CH"), ("São Paulo", "SP", "BR"), ("東京", "東京都", "JP"), ("Kraków", "MA", "PL"),
)  # fmt: skip
STREETS = ("Main St", "Oak Ave", "Pine St", "Maple Dr", "Cedar Ln", "Elm St", "Lake View Rd", "Hauptstraße")
# (noun, category)
PRODUCT_KINDS = (
    ("Laptop Stand", "Electronics"), ("Headphones", "Electronics"), ("Keyboard", "Electronics"),
    ("Desk Lamp", "Home"), ("Coffee Mug", "Kitchen"), ("Chef's Knife", "Kitchen"), ("Backpack", "Accessories"),
    ("Water Bottle", "Sports"), ("Yoga Mat", "Sports"), ("Notebook", "Office"), ("Throw Pillow", "Home"),
    ("Running Shoes", "Apparel"),
)  # fmt: skip
ADJECTIVES = ("Ergonomic", "Compact", "Premium", "Classic", "Eco", "Deluxe", "Smart", "Vintage")
BLURBS = ("Built to last.", "Ships in 24 hours.", "Customer favourite.", "Naïve design, clever use.")
COLORS = ("black", "white", "silver", "navy", "red", "green", "grün", "灰色")
TAGS = ("bestseller", "new", "sale", "eco-friendly", "limited", "gift")
NOTES = (
    "Leave at the front door",
    "Call before delivery",
    "Gift wrap please 🎁",
    "Fragile — handle with care",
    "Bitte beim Nachbarn abgeben",
    "配達前に電話してください",
    'Customer says: "ring twice"',
)
PAYMENT_METHODS = {"credit_card": 5, "debit_card": 2, "paypal": 2, "gift_card": 1, "bank_transfer": 1}
SEGMENT_WEIGHTS = {"New": 8, "Regular": 7, "Premium": 4, "VIP": 1}
STATUS_WEIGHTS = {"pending": 1, "processing": 1, "shipped": 2, "delivered": 5, "cancelled": 1}

_DAY = 86_400
_ORDERS_START_UNIX_MS = 1_704_067_200_000  # 2024-01-01 00:00:00 UTC; order dates are UTC


def create_sample(
    conn: Connection,
    database: str = DEFAULT_DATABASE,
    customers: int = 10_000,
    products: int = 5_000,
    orders: int = 20_000,
    seed: int = 42,
) -> dict[str, int]:
    """(Re)create the database and fill it.

    Returns {"customers": n, "products": n, "orders": n} counted from the server. ``conn`` is a MySQLdb
    connection allowed to drop and create ``database``; its current database is left alone.
    """
    if min(customers, products, orders) < 0:
        raise ValueError("row counts must not be negative")
    if orders and not (customers and products):
        raise ValueError("orders need at least one customer and one product")
    db = _quote_ident(database)
    cur = conn.cursor()
    try:
        cur.execute(f"DROP DATABASE IF EXISTS {db}")
        cur.execute(f"CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        for ddl in SAMPLE_SCHEMA_SQL:
            cur.execute(ddl.format(db=db))
        use_sequence = _has_sequence_engine(cur)
        for table, rows, build in (
            ("customers", customers, _customers_sql),
            ("products", products, _products_sql),
            ("orders", orders, _orders_sql),
        ):
            for lo in range(1, rows + 1, CHUNK_ROWS):
                hi = min(lo + CHUNK_ROWS - 1, rows)
                draws = _Draws(seed, table, lo, _numbers(db, lo, hi, use_sequence), hi - lo + 1)
                cur.execute(build(db, seed, draws, customers, products, orders))
                conn.commit()
        counts = {}
        for table in ("customers", "products", "orders"):
            cur.execute(f"SELECT COUNT(*) FROM {db}.{table}")
            counts[table] = int(cur.fetchone()[0])
        return counts
    finally:
        cur.close()


def _quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _has_sequence_engine(cur: Cursor) -> bool:
    cur.execute("SELECT SUPPORT FROM information_schema.ENGINES WHERE ENGINE = 'SEQUENCE'")
    row = cur.fetchone()
    return row is not None and row[0] in ("YES", "DEFAULT")


def _numbers(db: str, lo: int, hi: int, use_sequence: bool) -> str:
    """A row source with one BIGINT column ``seq`` running lo..hi (at most CHUNK_ROWS numbers)."""
    if use_sequence:
        return f"{db}.seq_{lo}_to_{hi}"
    digits = "(SELECT 0 AS d UNION ALL " + " UNION ALL ".join(f"SELECT {i}" for i in range(1, 10)) + ")"
    value = " + ".join(f"d{i}.d * {10**i}" for i in range(_CHUNK_DIGITS))
    tables = " CROSS JOIN ".join(f"{digits} AS d{i}" for i in range(_CHUNK_DIGITS))
    return f"(SELECT {lo} + {value} AS seq FROM {tables} WHERE {lo} + {value} <= {hi})"


class _Draws:
    """The random integers of one chunk, drawn once per row into a derived table ``r`` next to ``r.seq``.

    ``draw(name, n)`` returns the SQL of a uniform integer in [0, n); the FROM clause is built afterwards.
    """

    def __init__(self, seed: int, table: str, lo: int, numbers: str, rows: int) -> None:
        self._salt = f"{seed}:{table}:{lo}"
        self._numbers = numbers
        self._rows = rows
        self._columns: dict[str, int] = {}

    def draw(self, name: str, n: int) -> str:
        self._columns[name] = n
        return f"r.{name}"

    def from_sql(self) -> str:
        # RAND(n) with a constant n is a seeded stream over the rows, so each column gets a seed of its own.
        columns = ", ".join(
            f"CAST(FLOOR(RAND({zlib.crc32(f'{self._salt}:{name}'.encode())}) * {n}) AS UNSIGNED) AS {name}"
            for name, n in self._columns.items()
        )
        # The LIMIT makes the optimizer materialize the draws instead of merging them into the outer
        # SELECT, where every reference to a column would call RAND again and get another number.
        return f"(SELECT seq, {columns} FROM {self._numbers} AS n LIMIT {self._rows}) AS r"


def _lit(text: str) -> str:
    """A string literal that survives any connection character set.

    ASCII stays a plain literal in the connection's collation; other text is sent as hex and converted, whose
    implicit utf8mb4 collation then wins over the plain literals it meets in CONCAT or ELT.
    """
    if text.isascii() and text.isprintable() and "\\" not in text:
        return "'" + text.replace("'", "''") + "'"
    return f"CONVERT(X'{text.encode().hex()}' USING utf8mb4)"


def _pick(draws: _Draws, name: str, choices: Sequence[str] | Mapping[str, int]) -> str:
    """One of ``choices`` per row; a mapping gives each choice a weight."""
    if isinstance(choices, Mapping):
        choices = [choice for choice, weight in choices.items() for _ in range(weight)]
    return f"ELT(1 + {draws.draw(name, len(choices))}, {', '.join(_lit(c) for c in choices)})"


def _digest_sql(seed: int, kind: str, number_sql: str) -> str:
    """32 hex digits from MD5(seed:kind:number): the same number always gives the same digits."""
    return f"MD5(CONCAT('{seed}:{kind}:', {number_sql}))"


def _uuid_sql(hex32_sql: str, version: int = 4) -> str:
    """A UUID-shaped CHAR(36) from 32 hex digits, with the given version nibble and variant nibble 8."""
    value = hex32_sql
    for pos in (21, 17, 13, 9):
        value = f"INSERT({value}, {pos}, 0, '-')"
    return f"INSERT(INSERT({value}, 15, 1, '{version}'), 20, 1, '8')"


def _timestamp_sql(draws: _Draws, name: str, start: str, days: int) -> str:
    """A DATETIME(6) uniformly in [start, start + days)."""
    seconds = draws.draw(f"{name}_s", days * _DAY)
    micros = draws.draw(f"{name}_us", 1_000_000)
    return f"(TIMESTAMP'{start} 00:00:00' + INTERVAL {seconds} SECOND + INTERVAL {micros} MICROSECOND)"


def _customers_sql(db: str, seed: int, draws: _Draws, customers: int, products: int, orders: int) -> str:
    created = _timestamp_sql(draws, "created", "2022-01-01", 730)
    city = draws.draw("city", len(CITIES))
    phone = f"IF({draws.draw('phone_null', 7)} = 0, NULL, CONCAT('555-', LPAD({draws.draw('phone', 10_000)}, 4, '0')))"
    values = f"""{_uuid_sql(_digest_sql(seed, "customer", "r.seq"))},
    CONCAT('customer', r.seq, '@', {_pick(draws, "domain", ("example.com", "example.org", "example.net"))}),
    {_pick(draws, "first_name", FIRST_NAMES)},
    {_pick(draws, "last_name", LAST_NAMES)},
    {phone},
    ELT(1 + {city}, {", ".join(_lit(c[0]) for c in CITIES)}),
    ELT(1 + {city}, {", ".join(_lit(c[1]) for c in CITIES)}),
    ELT(1 + {city}, {", ".join(_lit(c[2]) for c in CITIES)}),
    {_pick(draws, "segment", SEGMENT_WEIGHTS)},
    {created},
    {created} + INTERVAL {draws.draw("updated_s", 180 * _DAY)} SECOND"""
    return f"""INSERT INTO {db}.customers (customer_id, email, first_name, last_name, phone, city, state, country,
    customer_segment, created_at, updated_at)
SELECT {values}
FROM {draws.from_sql()}"""


def _products_sql(db: str, seed: int, draws: _Draws, customers: int, products: int, orders: int) -> str:
    created = _timestamp_sql(draws, "created", "2022-01-01", 730)
    kind = draws.draw("kind", len(PRODUCT_KINDS))
    noun = f"ELT(1 + {kind}, {', '.join(_lit(k[0]) for k in PRODUCT_KINDS)})"
    category = f"ELT(1 + {kind}, {', '.join(_lit(k[1]) for k in PRODUCT_KINDS)})"
    adjective = _pick(draws, "adjective", ADJECTIVES)
    name = f"CONCAT({adjective}, ' ', {noun}, ' ', r.seq)"
    description = (
        f"IF({draws.draw('no_description', 20)} = 0, NULL, "
        f"CONCAT({name}, {_lit(' — ')}, LOWER({category}), ' essential. ', "
        f"{_pick(draws, 'blurb', BLURBS)}))"
    )
    size = ", ".join(f"'{axis}', 1 + {draws.draw(f'size_{axis}', 100)}" for axis in ("w", "h", "d"))
    attributes = (
        f"IF({draws.draw('no_attributes', 10)} = 0, NULL, JSON_OBJECT("
        f"'color', {_pick(draws, 'color', COLORS)}, "
        f"'weight_kg', ROUND(0.05 + {draws.draw('weight', 2_000)} / 100, 2), "
        f"'tags', JSON_ARRAY({_pick(draws, 'tag1', TAGS)}, {_pick(draws, 'tag2', TAGS)}), "
        f"'dimensions_cm', JSON_OBJECT({size})))"
    )
    values = f"""{_uuid_sql(_digest_sql(seed, "product", "r.seq"))},
    {name},
    {description},
    {category},
    0.99 + {draws.draw("price", 50_000)} / 100,
    {draws.draw("stock", 1_000)},
    {draws.draw("inactive", 20)} <> 0,
    {attributes},
    {created},
    {created} + INTERVAL {draws.draw("updated_s", 180 * _DAY)} SECOND"""
    return f"""INSERT INTO {db}.products (product_id, product_name, description, category, price, stock_quantity,
    is_active, attributes, created_at, updated_at)
SELECT {values}
FROM {draws.from_sql()}"""


def _orders_sql(db: str, seed: int, draws: _Draws, customers: int, products: int, orders: int) -> str:
    # Orders are placed in row-number order over two years, and order_id is a UUIDv7 of order_date: keys
    # arrive ascending, so InnoDB appends to the primary key instead of splitting pages all over a table
    # larger than the buffer pool (1M random v4 keys took 38 s against 17 s in the sandbox).
    step = max(1, 731 * _DAY * 1_000_000 // orders)  # microseconds between consecutive orders
    offset = f"((r.seq - 1) * {step} + {draws.draw('ordered_jitter', step)})"
    ordered = f"(TIMESTAMP'2024-01-01 00:00:00' + INTERVAL {offset} MICROSECOND)"
    unix_ms = f"({_ORDERS_START_UNIX_MS} + {offset} DIV 1000)"
    order_id = _uuid_sql(
        f"CONCAT(LPAD(LOWER(HEX({unix_ms})), 12, '0'), LEFT({_digest_sql(seed, 'order', 'r.seq')}, 20))", 7
    )
    status = _pick(draws, "status", STATUS_WEIGHTS)
    city = draws.draw("city", len(CITIES))
    address = (
        f"CONCAT(1 + {draws.draw('house', 9_999)}, ' ', {_pick(draws, 'street', STREETS)}, ', ', "
        f"ELT(1 + {city}, {', '.join(_lit(c[0]) for c in CITIES)}), ', ', "
        f"ELT(1 + {city}, {', '.join(_lit(c[1]) for c in CITIES)}), ', ', "
        f"ELT(1 + {city}, {', '.join(_lit(c[2]) for c in CITIES)}))"
    )
    quantity = f"(1 + {draws.draw('quantity', 5)})"
    # Pending orders were never touched after they were placed.
    updated = f"{ordered} + INTERVAL IF({status} = 'pending', 0, {draws.draw('updated_s', 30 * _DAY)}) SECOND"
    # unit_price is the product's price, so the product row is looked up by its computed id.
    product_id = _uuid_sql(_digest_sql(seed, "product", f"1 + {draws.draw('product', products)}"))
    values = f"""{order_id},
    {_uuid_sql(_digest_sql(seed, "customer", f"1 + {draws.draw('customer', customers)}"))},
    p.product_id,
    {quantity},
    p.price,
    {quantity} * p.price,
    {status},
    {ordered},
    {address},
    {_pick(draws, "payment", PAYMENT_METHODS)},
    IF({draws.draw("has_note", 10)} = 0, {_pick(draws, "note", NOTES)}, NULL),
    {updated}"""
    return f"""INSERT INTO {db}.orders (order_id, customer_id, product_id, quantity, unit_price, total_amount, status,
    order_date, shipping_address, payment_method, notes, updated_at)
SELECT {values}
FROM {draws.from_sql()}
JOIN {db}.products AS p ON p.product_id = {product_id}"""
