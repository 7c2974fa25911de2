"""Deterministic building blocks for the benchmark dataset: words, names and a pool of sentences.

The pool is generated in Python from a fixed seed (``random.Random`` is stable across Python versions
for ``random()``/``choice``/``randint``) and loaded into a helper table; the SQL generator then picks
sentences by a hash of the row number. The pool is larger (~5 MB) than zstd's level-3 window (2 MB)
and gzip's (32 KB), so neither compressor can "learn" the whole text and ratios stay realistic.
"""

from __future__ import annotations

import random

SEED = 20240601
POOL_SIZE = 65536
# 8 MiB of random 1 KiB chunks for BLOB columns: larger than any compressor window we use.
CHUNK_COUNT = 8192


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


WORDS = _words(
    "the of and to in is was for on that with as by at from it an be this are or which have has not "
    "order customer payment invoice shipment delivery account refund request update status error "
    "please thanks hello team issue problem resolved pending escalated warehouse product package "
    "address billing subscription renewal plan upgrade downgrade discount coupon price total tax "
    "received sent tracking number carrier express standard return exchange damaged missing item "
    "quantity size colour color blue red green black white large small medium extra premium basic "
    "monday tuesday wednesday thursday friday weekend morning afternoon evening today tomorrow week "
    "month year since until after before during between about again already also always never often "
    "could would should will can may might must need want like know think see look find give take "
    "make get go come use work call try ask feel leave put mean keep let begin seem help talk turn "
    "start show hear play run move live believe bring happen write provide sit stand lose pay meet "
    "include continue set learn change lead understand watch follow stop create speak read allow add "
    "spend grow open walk win offer remember love consider appear buy wait serve die send expect build "
    "stay fall cut reach kill remain suggest raise pass sell require report decide pull café naïve "
    "Zürich Kraków São Paulo München Ørsted façade déjà vu résumé jalapeño smörgåsbord 東京 大阪 Москва "
    "server database backup restore cluster node replica latency timeout retry connection query index "
    "login password reset email notification mobile app browser desktop checkout cart wishlist review "
    "rating stars excellent good average poor terrible fast slow friendly helpful rude late early"
)

FIRST_NAMES = _words(
    "Anna Ben Chloé David Emma Felix Grace Hugo Iris Jonas Kira Liam Maja Noah Olga Paul Quinn Rosa "
    "Sven Tara Uma Viktor Wen Xavier Yuki Zoë Łukasz Søren José Ana María Jörg Åsa Björn Amélie Taro"
)
LAST_NAMES = _words(
    "Müller Schmidt Smith Johnson Nowak Kowalski Rossi Bianchi García Martínez Dubois Laurent Jensen "
    "Hansen Novák Horváth Yamada Tanaka Chen Wang Kim Park Silva Santos Ivanova Petrov O'Brien Murphy"
)
STREETS = _words(
    "Main Street|Oak Avenue|Bahnhofstraße|Rue de la Paix|Via Roma|Calle Mayor|Kungsgatan|Nowy Świat|"
    "High Street|Elm Road|Hauptstraße|Maple Drive|Baker Street|Park Lane|Station Road|Church Lane",
    sep="|",
)
CITIES = _words(
    "Berlin|Paris|London|Madrid|Rome|Warsaw|Zürich|Kraków|Stockholm|Oslo|Vienna|Prague|Lisbon|Dublin|"
    "Amsterdam|Brussels|Copenhagen|Helsinki|Tokyo|Osaka|New York|Chicago|Toronto|São Paulo",
    sep="|",
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
    "curl/8.5.0",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
)
PATHS = _words(
    "/|/search|/cart|/checkout|/account|/account/orders|/help|/help/returns|/products|/products/new|"
    "/blog|/login|/logout|/wishlist|/compare|/offers",
    sep="|",
)


def sentence_pool(size: int = POOL_SIZE, seed: int = SEED) -> list[str]:
    """``size`` sentences of 5-18 words, capitalised and punctuated like prose."""
    rng = random.Random(seed)
    # Zipf-like word frequencies, as in real prose: a few words are very common, most are rare.
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    sentences = []
    for _ in range(size):
        words = rng.choices(WORDS, weights, k=rng.randint(5, 18))
        if rng.random() < 0.15:
            words.insert(rng.randint(0, len(words)), f"#{rng.randint(10000, 999999)}")
        text = " ".join(words)
        sentences.append(text[0].upper() + text[1:] + rng.choice(".....?!"))
    return sentences


def random_chunks(count: int = CHUNK_COUNT, seed: int = SEED) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(1024) for _ in range(count)]


def sql_literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sql_list(values: tuple[str, ...] | list[str]) -> str:
    """Comma-separated SQL string literals, for ``ELT(n, ...)``."""
    return ", ".join(sql_literal(v) for v in values)
