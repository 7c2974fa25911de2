"""The row counter behind the drill's evidence: exact counts, and never a hang when the dump is cut short."""

from __future__ import annotations

import threading

from agent.backup.evidence import RowCounter

HEADER = b"/*!40101 SET NAMES utf8mb4 */;\n"
TABLE = (
    b"--\n-- Current Database: `shop`\n--\n\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`;\n\nUSE `shop`;\n\n"
    b"--\n-- Table structure for table `t`\n--\n\n"
    b"DROP TABLE IF EXISTS `t`;\nCREATE TABLE `t` (\n  `id` int(11) NOT NULL\n);\n\n"
    b"--\n-- Dumping data for table `t`\n--\n\n"
    b"/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n"
)


def _finish_within(counter: RowCounter, seconds: float) -> dict[str, int] | None:
    result: list[dict[str, int] | None] = []
    worker = threading.Thread(target=lambda: result.append(counter.finish()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "finish() hung"
    return result[0]


def test_rows_of_a_whole_dump_are_counted():
    counter = RowCounter()
    counter.feed(HEADER + TABLE + b"INSERT INTO `t` VALUES (1),\n(2),\n(3);\nINSERT INTO `t` VALUES (4);\n"
                 b"/*!40000 ALTER TABLE `t` ENABLE KEYS */;\n")

    assert _finish_within(counter, 10) == {"shop.t": 4}


def test_a_dump_cut_mid_statement_ends_the_count_instead_of_hanging():
    # A failed or signalled dump stops mid-INSERT: the parser takes the end mark and then fails.
    counter = RowCounter()
    counter.feed(HEADER + TABLE + b"INSERT INTO `t` VALUES (1),\n(2")

    assert _finish_within(counter, 10) is None
