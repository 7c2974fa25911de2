"""A dump cut short (SIGTERM, a lost Galera node) must not hang the row counter: its parser fails only at
the end, after it has already taken finish()'s end marker (seen as a hung SIGTERM of tar.gz backups)."""

from __future__ import annotations

import threading

from agent.dump_evidence import RowCounter

TRUNCATED = (b"-- MariaDB dump 10.19\n--\n-- Current Database: `shop`\n--\n\n"
             b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`;\nUSE `shop`;\nLOCK TABLES `t` WRITE;\n"
             b"INSERT INTO `t` VALUES (1,'a")


def test_finish_returns_on_a_dump_that_ends_inside_a_statement():
    counter = RowCounter()
    counter.feed(TRUNCATED)
    result: list[object] = []
    finishing = threading.Thread(target=lambda: result.append(counter.finish()), daemon=True)

    finishing.start()
    finishing.join(timeout=10)

    assert not finishing.is_alive(), "RowCounter.finish() hung on a truncated dump"
    assert result == [None]  # rows not counted, reported as a warning; the backup itself is not failed
