"""The row counter never hangs ``finish()``: a dump cut short (SIGTERM mid-dump) ends the count at once."""

from __future__ import annotations

import threading

from agent.dump_evidence import RowCounter

TRUNCATED = (b"-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;\n\nCREATE DATABASE `shop`;\nUSE `shop`;\n"
             b"INSERT INTO `t` VALUES (1,'a'),\n(2,'b")


def test_finish_returns_when_the_dump_ends_inside_a_statement() -> None:
    counter = RowCounter()
    counter.feed(TRUNCATED)
    result: list[dict[str, int] | None] = []
    finisher = threading.Thread(target=lambda: result.append(counter.finish()), daemon=True)
    finisher.start()
    finisher.join(timeout=5)
    assert not finisher.is_alive(), "finish() hangs on a truncated dump"
    assert result == [None]  # not parseable: no evidence, and no hang
