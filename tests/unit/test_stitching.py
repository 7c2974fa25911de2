"""The stitcher on small, hand-written mariadb-dump pieces (the real thing is proven byte for byte against
mariadb-dump in tests/integration/test_parallel_dump.py)."""

from __future__ import annotations

import pytest

from agent.backup.dump_sessions import Table, assign, plan_sessions
from agent.backup.stitching import StitchError, stitch

HEADER = b"-- MariaDB dump 10.19\n/*!40101 SET NAMES utf8mb4 */;\n"
FOOTER = b"/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\n-- Dump completed on 2026-12-05 21:00:00\n"


def table_ddl(name: str) -> bytes:
    return (f"\n--\n-- Table structure for table `{name}`\n--\n\nDROP TABLE IF EXISTS `{name}`;\n"
            "/*!40101 SET @saved_cs_client     = @@character_set_client */;\n"
            "/*!40101 SET character_set_client = utf8mb4 */;\n"
            f"CREATE TABLE `{name}` (\n  `id` int(11) NOT NULL\n) ENGINE=InnoDB;\n"
            "/*!40101 SET character_set_client = @saved_cs_client */;\n").encode()


def table_data(name: str, rows: int, *, first: int = 0, where: str = "") -> bytes:
    values = ",\n".join(f"({i})" for i in range(first, first + rows))
    comment = f"-- WHERE:  {where}\n" if where else ""
    inserts = f"INSERT INTO `{name}` VALUES {values};\n" if rows else ""
    return (f"\n--\n-- Dumping data for table `{name}`\n--\n{comment}\n"
            f"/*!40000 ALTER TABLE `{name}` DISABLE KEYS */;\n"
            f"{inserts}/*!40000 ALTER TABLE `{name}` ENABLE KEYS */;\n").encode()


def database(name: str) -> bytes:
    return (f"\n--\n-- Current Database: `{name}`\n--\n\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `{name}`;\n\n"
            f"USE `{name}`;\n").encode()


TRAILER = b"\n--\n-- Dumping events for database 'shop'\n--\n\n--\n-- Dumping routines for database 'shop'\n--\n"


def test_data_goes_right_after_each_tables_ddl_and_the_rows_are_counted():
    single = HEADER + database("shop") + table_ddl("a") + table_data("a", 3) + table_ddl("b") + table_data("b", 2) \
        + TRAILER + FOOTER
    skeleton = HEADER + database("shop") + table_ddl("a") + table_ddl("b") + TRAILER + FOOTER
    part_a = HEADER + database("shop") + table_data("a", 3) + TRAILER + FOOTER
    part_b = HEADER + database("shop") + table_data("b", 2) + TRAILER + FOOTER
    out: list[bytes] = []
    rows = stitch([skeleton], {("shop", "a"): (1,), ("shop", "b"): (0,)}, [[part_b], [part_a]], write=out.append)
    assert b"".join(out) == single
    assert rows == {"shop.a": 3, "shop.b": 2}


def test_a_table_without_a_data_section_gets_none():
    skeleton = HEADER + database("shop") + table_ddl("log") + table_ddl("b") + FOOTER
    part = HEADER + database("shop") + table_data("b", 1) + FOOTER
    out: list[bytes] = []
    stitch([skeleton], {("shop", "log"): (0,), ("shop", "b"): (0,)}, [[part]], write=out.append)
    assert b"".join(out) == HEADER + database("shop") + table_ddl("log") + table_ddl("b") + table_data("b", 1) + FOOTER


def test_data_the_skeleton_does_not_place_fails_the_stitch():
    skeleton = HEADER + database("shop") + table_ddl("a") + FOOTER
    part = HEADER + database("shop") + table_data("a", 1) + table_data("new", 1) + FOOTER
    with pytest.raises(StitchError, match=r"shop\.new"):
        stitch([skeleton], {("shop", "a"): (0,)}, [[part]], write=lambda data: None)


def test_a_part_cut_short_fails_instead_of_giving_a_short_dump():
    skeleton = HEADER + database("shop") + table_ddl("a") + FOOTER
    part = HEADER + database("shop") + table_data("a", 5)[:-60]
    with pytest.raises(ValueError, match="truncated"):
        stitch([skeleton], {("shop", "a"): (0,)}, [[part]], write=lambda data: None)


def test_tables_are_shared_largest_first_and_sequences_go_to_no_worker():
    tables = [Table("d", "big", 100, False), Table("d", "mid", 60, False), Table("d", "small", 50, False),
              Table("d", "seq", 0, True)]
    assert assign(tables, 2) == {("d", "big"): 0, ("d", "mid"): 1, ("d", "small"): 1}


def test_a_split_tables_rows_come_from_every_part_under_one_title_without_the_where_comment():
    skeleton = HEADER + database("shop") + table_ddl("a") + table_ddl("b") + TRAILER + FOOTER
    part_0 = HEADER + database("shop") + table_data("a", 2, where="`id` MOD 2 = 0") + TRAILER + FOOTER
    part_1 = HEADER + database("shop") + table_data("a", 3, first=10, where="`id` MOD 2 = 1") + TRAILER + FOOTER
    part_b = HEADER + database("shop") + table_data("b", 1) + TRAILER + FOOTER
    out: list[bytes] = []
    rows = stitch([skeleton], {("shop", "a"): (0, 1), ("shop", "b"): (2,)}, [[part_0], [part_1], [part_b]],
                  write=out.append)
    data_a = (b"\n--\n-- Dumping data for table `a`\n--\n\n/*!40000 ALTER TABLE `a` DISABLE KEYS */;\n"
              b"INSERT INTO `a` VALUES (0),\n(1);\nINSERT INTO `a` VALUES (10),\n(11),\n(12);\n"
              b"/*!40000 ALTER TABLE `a` ENABLE KEYS */;\n")
    assert b"".join(out) == HEADER + database("shop") + table_ddl("a") + data_a + table_ddl("b") \
        + table_data("b", 1) + TRAILER + FOOTER
    assert rows == {"shop.a": 5, "shop.b": 1}


def test_a_split_part_with_no_rows_of_the_table_still_gives_one_whole_section():
    skeleton = HEADER + database("shop") + table_ddl("a") + FOOTER
    part_0 = HEADER + database("shop") + table_data("a", 0, where="x") + FOOTER
    part_1 = HEADER + database("shop") + table_data("a", 2, where="y") + FOOTER
    out: list[bytes] = []
    rows = stitch([skeleton], {("shop", "a"): (0, 1)}, [[part_0], [part_1]], write=out.append)
    assert b"".join(out) == HEADER + database("shop") + table_ddl("a") + table_data("a", 2) + FOOTER
    assert rows == {"shop.a": 2}


def test_large_tables_with_an_integer_key_are_split_by_key_name_and_the_rest_go_whole():
    tables = [Table("d", "big", 500, False, key="id"), Table("d", "big2", 400, False, key="id"),
              Table("d", "wide", 300, False, key="uid"), Table("d", "nokey", 900, False),
              Table("d", "hist", 900, False, key="id", versioned=True), Table("d", "small", 5, False, key="id"),
              Table("d", "seq", 0, True)]
    sessions, placement = plan_sessions(tables, 2, split_bytes=100)
    assert [(s.name, s.where) for s in sessions] == [
        ("split id 0", "ABS((`id` DIV 1024) MOD 2) = 0"), ("split id 1", "ABS((`id` DIV 1024) MOD 2) = 1"),
        ("split uid 0", "ABS((`uid` DIV 1024) MOD 2) = 0"), ("split uid 1", "ABS((`uid` DIV 1024) MOD 2) = 1"),
        ("worker 0", None), ("worker 1", None)]
    assert placement == {("d", "big"): (0, 1), ("d", "big2"): (0, 1), ("d", "wide"): (2, 3),
                         ("d", "nokey"): (4,), ("d", "hist"): (5,), ("d", "small"): (4,)}
    # Each session leaves out every table it does not dump (sequences: the skeleton writes them).
    assert sorted(set(n for t in tables for n in [f"d.{t.name}"]) - set(sessions[0].ignored)) == ["d.big", "d.big2"]
    assert "d.seq" in sessions[4].ignored and "d.nokey" not in sessions[4].ignored
    # A worker with only small tables reads each whole before writing it (--skip-quick): it may wait on the
    # stitcher without the server waiting on it. One with a large table that cannot be split streams it.
    assert [s.buffered for s in sessions] == [False, False, False, False, False, False]
    sessions, _ = plan_sessions([Table("d", "a", 50, False), Table("d", "b", 40, False),
                                 Table("d", "huge", 900, False)], 2, split_bytes=100)
    assert [(s.name, s.buffered) for s in sessions] == [("worker 0", False), ("worker 1", True)]
