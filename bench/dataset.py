"""A deterministic, realistic benchmark dataset of a requested dump size, generated inside MariaDB.

Rows come from the SEQUENCE engine (``seq_1_to_N``) with every value a pure function of the row
number (CRC32 of it picks words, sentences, enum values, timestamps), so the same scale always gives
byte-identical tables and the load runs at server speed, with no client round trips per row.

Three databases, like a small web shop: ``shop`` (customers, products with JSON attributes and image
BLOBs, orders, order lines), ``crm`` (support tickets with prose bodies, attachments as BLOBs) and
``analytics`` (page events with JSON payloads, user agents, millisecond timestamps). BLOB content is
AES output: incompressible, like the JPEGs and PDFs real BLOB columns hold. The mix compresses ~4.5x
with gzip, like real application data (see docs/PERFORMANCE.md for the measured ratios).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from bench.vocabulary import (
    CHUNK_COUNT,
    CITIES,
    FIRST_NAMES,
    LAST_NAMES,
    PATHS,
    POOL_SIZE,
    STREETS,
    USER_AGENTS,
    random_chunks,
    sentence_pool,
    sql_list,
    sql_literal,
)

# Rows per table for one unit of scale; a unit dumps to ~DUMP_BYTES_PER_UNIT bytes (measured below).
ROWS_PER_UNIT = {
    "shop.customers": 20,
    "shop.products": 1,
    "shop.orders": 100,
    "shop.order_items": 300,
    "crm.tickets": 40,
    "crm.attachments": 1,
    "analytics.page_events": 100,
}
# Measured: the dump of scale 10,000 is 291 MB (see bench/README.md); used to pick the scale for a size.
DUMP_BYTES_PER_UNIT = 88_000
# Rows per INSERT ... SELECT: keeps each transaction (and its undo log) small while the load runs.
BATCH_ROWS = 100_000
HELPER_DB = "benchgen"


def scale_for(dump_bytes: int) -> int:
    return max(1, round(dump_bytes / DUMP_BYTES_PER_UNIT))


def _h(key: str) -> str:
    """A pseudo-random unsigned 32-bit number derived from the row number and ``key``."""
    return f"CRC32(CONCAT(seq, '{key}'))"


def _pick(key: str, values: tuple[str, ...] | list[str]) -> str:
    return f"ELT(1 + {_h(key)} % {len(values)}, {sql_list(values)})"


def _sentence(key: str) -> str:
    return f"(SELECT s FROM {HELPER_DB}.sentences WHERE id = {_h(key)} % {POOL_SIZE})"  # noqa: S608  # our constants


def _prose(key: str, *, at_least: int, at_most: int) -> str:
    """Between ``at_least`` and ``at_most`` sentences; IF() evaluates only the branch it takes."""
    count = f"({at_least} + {_h(key + 'n')} % {at_most - at_least + 1})"
    parts = [_sentence(f"{key}{i}") if i < at_least else f"IF({count} > {i}, {_sentence(f'{key}{i}')}, NULL)"
             for i in range(at_most)]
    return f"CONCAT_WS(' ', {', '.join(parts)})"


def _blob(key: str, *, kib_min: int, kib_max: int) -> str:
    """Incompressible bytes, like the JPEGs and PDFs real BLOB columns hold: 1 KiB chunks of a
    pool of random bytes, picked by hash (MariaDB 10.11 has no CBC mode to make AES output do)."""
    count = f"({kib_min} + {_h(key + 'n')} % {kib_max - kib_min + 1})"
    parts = [_chunk(f"{key}{i}") if i < kib_min else f"IF({count} > {i}, {_chunk(f'{key}{i}')}, '')"
             for i in range(kib_max)]
    return f"CONCAT({', '.join(parts)})"


def _chunk(key: str) -> str:
    return f"(SELECT b FROM {HELPER_DB}.chunks WHERE id = {_h(key)} % {CHUNK_COUNT})"  # noqa: S608  # our constants


# Timestamps advance with the row number and wrap within two years, so they stay below MariaDB
# 10.11's TIMESTAMP limit (2038-01-19) at any scale.
_TIME_SPAN_S = 2 * 365 * 86400


def _time(key: str, *, base: int, step: int) -> str:
    return f"FROM_UNIXTIME({base} + (seq * {step}) % {_TIME_SPAN_S} + {_h(key)} % {step * 3})"


SCHEMA = """
CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE crm CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE analytics CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE TABLE shop.customers (
  id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(200) NOT NULL, country CHAR(2) NOT NULL,
  tier VARCHAR(12) NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, last_login DATETIME NULL,
  preferences JSON NULL);
CREATE TABLE shop.products (
  sku CHAR(10) PRIMARY KEY, title VARCHAR(200) NOT NULL, description TEXT NOT NULL, price_cents INT NOT NULL,
  attributes JSON NOT NULL, image MEDIUMBLOB NULL);
CREATE TABLE shop.orders (
  id BIGINT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(16) NOT NULL, currency CHAR(3) NOT NULL,
  total_cents INT NOT NULL, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL,
  shipping_address VARCHAR(255) NOT NULL, note TEXT NULL, KEY customer (customer_id));
CREATE TABLE shop.order_items (
  order_id BIGINT NOT NULL, line_no SMALLINT NOT NULL, sku CHAR(10) NOT NULL, quantity SMALLINT NOT NULL,
  unit_price_cents INT NOT NULL, discount DECIMAL(4,2) NOT NULL, PRIMARY KEY (order_id, line_no));
CREATE TABLE crm.tickets (
  id INT PRIMARY KEY, customer_id INT NOT NULL, subject VARCHAR(255) NOT NULL, body TEXT NOT NULL,
  priority VARCHAR(8) NOT NULL, state VARCHAR(12) NOT NULL, channel VARCHAR(8) NOT NULL,
  created_at DATETIME NOT NULL, closed_at DATETIME NULL, KEY customer (customer_id));
CREATE TABLE crm.attachments (
  id INT PRIMARY KEY, ticket_id INT NOT NULL, filename VARCHAR(200) NOT NULL, mime VARCHAR(64) NOT NULL,
  content MEDIUMBLOB NOT NULL);
CREATE TABLE analytics.page_events (
  id BIGINT PRIMARY KEY, session_id CHAR(32) NOT NULL, user_id INT NULL, event_type VARCHAR(24) NOT NULL,
  url VARCHAR(255) NOT NULL, referrer VARCHAR(255) NULL, user_agent VARCHAR(255) NOT NULL,
  ip VARCHAR(45) NOT NULL, occurred_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), payload JSON NOT NULL,
  KEY user_time (user_id, occurred_at));
CREATE VIEW shop.open_orders AS SELECT id, customer_id, total_cents FROM shop.orders WHERE status = 'pending';
"""


def _shop_customers_columns(units: int) -> list[str]:
    return [
        "seq", f"CONCAT({_pick('f', FIRST_NAMES)}, ' ', {_pick('l', LAST_NAMES)})",
        f"CONCAT(LOWER({_pick('l', LAST_NAMES)}), '.', seq, '@', "
        f"{_pick('d', ['example.com', 'mail.test', 'corp.example', 'post.example'])})",
        _pick("c", ["DE", "FR", "GB", "ES", "IT", "PL", "CH", "SE", "US", "JP", "BR", "CA"]),
        _pick("t", ["free", "free", "free", "basic", "basic", "pro", "enterprise"]),
        _time("cr", base=1_600_000_000, step=900),
        f"IF({_h('ll')} % 5 = 0, NULL, {_time('ll', base=1_700_000_000, step=300)})",
        f"JSON_OBJECT('newsletter', {_h('n')} % 2 = 0, 'language', {_pick('lg', ['en', 'de', 'fr', 'pl', 'ja'])}, "
        f"'theme', {_pick('th', ['light', 'dark', 'system'])}, 'page_size', 10 * (1 + {_h('ps')} % 5))",
    ]


def _shop_products_columns(units: int) -> list[str]:
    return [
        "LPAD(seq, 10, '0')", _sentence("ti"), _prose("de", at_least=2, at_most=6), f"100 + {_h('p')} % 50000",
        f"JSON_OBJECT('colour', {_pick('co', ['red', 'blue', 'black', 'white'])}, "
        f"'size', {_pick('sz', ['S', 'M', 'L', 'XL'])}, 'weight_g', {_h('w')} % 5000, "
        f"'tags', JSON_ARRAY({_pick('t1', ['new', 'sale', 'eco', 'bestseller'])}, "
        f"{_pick('t2', ['gift', 'bulk'])}))",
        f"IF({_h('im')} % 2 = 0, {_blob('im', kib_min=1, kib_max=4)}, NULL)",
    ]


def _shop_orders_columns(units: int) -> list[str]:
    customers = ROWS_PER_UNIT["shop.customers"] * units
    statuses = ["delivered", "delivered", "delivered", "shipped", "paid", "pending", "refunded", "cancelled"]
    return [
        "seq", f"1 + {_h('cu')} % {customers}", _pick("s", statuses),
        _pick("cur", ["EUR", "EUR", "USD", "GBP", "PLN", "CHF"]), f"500 + {_h('tc')} % 40000",
        _time("c", base=1_650_000_000, step=120), _time("u", base=1_650_100_000, step=120),
        f"CONCAT(1 + {_h('hn')} % 300, ' ', {_pick('st', STREETS)}, ', ', {_pick('ci', CITIES)})",
        f"IF({_h('no')} % 5 = 0, {_sentence('no')}, NULL)",
    ]


def _shop_order_items_columns(units: int) -> list[str]:
    products = ROWS_PER_UNIT["shop.products"] * units
    return ["1 + (seq - 1) DIV 3", "1 + (seq - 1) % 3", f"LPAD(1 + {_h('sk')} % {products}, 10, '0')",
            f"1 + {_h('q')} % 4", f"100 + {_h('up')} % 20000", f"({_h('di')} % 4) * 5.00"]


def _crm_tickets_columns(units: int) -> list[str]:
    customers = ROWS_PER_UNIT["shop.customers"] * units
    # Support mail is prose between a greeting and a signature template, as real tickets are.
    body = (f"CONCAT('Hello ', {_pick('f', FIRST_NAMES)}, ',\\n\\n', {_prose('bo', at_least=2, at_most=8)}, "
            f"'\\n\\nKind regards,\\n', {_pick('ag', FIRST_NAMES)}, "
            "'\\nCustomer Support | shop.example.com | Mon-Fri 9:00-18:00 CET')")
    return [
        "seq", f"1 + {_h('cu')} % {customers}", _sentence("su"), body,
        _pick("pr", ["low", "normal", "normal", "high", "urgent"]),
        _pick("sta", ["open", "pending", "solved", "solved", "closed"]),
        _pick("ch", ["email", "chat", "phone", "web"]), _time("c", base=1_650_000_000, step=600),
        f"IF({_h('cl')} % 3 = 0, NULL, {_time('cl', base=1_650_500_000, step=600)})",
    ]


def _crm_attachments_columns(units: int) -> list[str]:
    tickets = ROWS_PER_UNIT["crm.tickets"] * units
    return [
        "seq", f"1 + {_h('ti')} % {tickets}",
        f"CONCAT({_pick('fn', ['scan', 'photo', 'invoice', 'log'])}, '-', seq, "
        f"{_pick('ext', ['.jpg', '.png', '.pdf', '.zip'])})",
        _pick("mi", ["image/jpeg", "image/png", "application/pdf", "application/zip"]),
        _blob("co", kib_min=2, kib_max=6),
    ]


def _analytics_page_events_columns(units: int) -> list[str]:
    customers = ROWS_PER_UNIT["shop.customers"] * units
    orders = ROWS_PER_UNIT["shop.orders"] * units
    kinds = ["page_view", "page_view", "page_view", "click", "add_to_cart", "search", "purchase"]
    referrers = ["www.google.com", "duckduckgo.com", "news.example", "t.co"]
    octets = ", ".join(f"{_h(f'i{i}')} % 256" for i in (2, 3, 4))
    return [
        "seq", "MD5(CONCAT('s', seq DIV 12))", f"IF({_h('u')} % 4 = 0, NULL, 1 + {_h('u')} % {customers})",
        _pick("et", kinds), f"CONCAT('https://shop.example.com', {_pick('pa', PATHS)}, '?ref=', {_h('rf')} % 1000)",
        f"IF({_h('re')} % 3 = 0, NULL, CONCAT('https://', {_pick('rd', referrers)}, '/'))",
        _pick("ua", USER_AGENTS), f"CONCAT_WS('.', 10 + {_h('i1')} % 200, {octets})",
        f"FROM_UNIXTIME(1700000000 + seq DIV 4 + ({_h('ms')} % 1000) / 1000)",
        f"JSON_OBJECT('screen', {_pick('sc', ['1920x1080', '1366x768', '390x844', '2560x1440'])}, "
        f"'duration_ms', {_h('du')} % 30000, 'order_id', IF({_h('o')} % 7 = 0, 1 + {_h('o')} % {orders}, NULL), "
        f"'experiment', {_pick('ex', ['control', 'variant-a', 'variant-b'])})",
    ]


_COLUMNS_OF_TABLE: dict[str, Callable[[int], list[str]]] = {
    "shop.customers": _shop_customers_columns,
    "shop.products": _shop_products_columns,
    "shop.orders": _shop_orders_columns,
    "shop.order_items": _shop_order_items_columns,
    "crm.tickets": _crm_tickets_columns,
    "crm.attachments": _crm_attachments_columns,
    "analytics.page_events": _analytics_page_events_columns,
}


def _columns(table: str, units: int) -> list[str]:
    """One SQL expression (over ``seq``) per column of ``table``."""
    return _COLUMNS_OF_TABLE[table](units)


def statements(units: int) -> Iterator[str]:
    """Every SQL statement that builds the dataset at ``units`` scale, in order.

    Built only from this module's constants, the fixed-seed pools and integers (no outside input),
    hence the S608 waivers below."""
    yield "SET SESSION time_zone = '+00:00', unique_checks = 0, foreign_key_checks = 0;"
    yield f"CREATE DATABASE {HELPER_DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
    yield f"CREATE TABLE {HELPER_DB}.sentences (id INT PRIMARY KEY, s VARCHAR(400) NOT NULL);"
    pool = sentence_pool()
    for start in range(0, len(pool), 2000):
        rows = ",".join(f"({i},{sql_literal(s)})" for i, s in enumerate(pool[start:start + 2000], start))
        yield f"INSERT INTO {HELPER_DB}.sentences VALUES {rows};"  # noqa: S608
    yield f"CREATE TABLE {HELPER_DB}.chunks (id INT PRIMARY KEY, b BLOB NOT NULL);"
    chunks = random_chunks()
    for start in range(0, len(chunks), 512):
        rows = ",".join(f"({i},X'{c.hex()}')" for i, c in enumerate(chunks[start:start + 512], start))
        yield f"INSERT INTO {HELPER_DB}.chunks VALUES {rows};"  # noqa: S608
    yield SCHEMA
    for table, per_unit in ROWS_PER_UNIT.items():
        total = per_unit * units
        select = ", ".join(_columns(table, units))
        for first in range(1, total + 1, BATCH_ROWS):
            last = min(total, first + BATCH_ROWS - 1)
            yield f"INSERT INTO {table} SELECT {select} FROM {HELPER_DB}.seq_{first}_to_{last};"  # noqa: S608
    yield f"DROP DATABASE {HELPER_DB};"
