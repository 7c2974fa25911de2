"""The dump parser on hand-written mariadb-dump shapes: exact bytes, kinds, names, chunk boundaries."""

from __future__ import annotations

import io

import pytest

from agent.common.dumpfile import DumpSyntaxError, Kind, read_units

HEADER = (
    b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n\n"
    b"/*!40101 SET NAMES utf8mb4 */;\n/*!40103 SET TIME_ZONE='+00:00' */;\n"
)
DB_A = (
    b"\n--\n-- Current Database: `a``b`\n--\n\n"
    b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `a``b` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n\nUSE `a``b`;\n"
)
TABLE = (
    b"\n--\n-- Table structure for table `t;1`\n--\n\nDROP TABLE IF EXISTS `t;1`;\n"
    b"/*!40101 SET @saved_cs_client     = @@character_set_client */;\n"
    b"CREATE TABLE `t;1` (\n  `id` int(11) NOT NULL,\n  `v` text DEFAULT 'x;'\n) ENGINE=InnoDB;\n"
    b"/*!40101 SET character_set_client = @saved_cs_client */;\n"
)
DATA_BEGIN = b"\n--\n-- Dumping data for table `t;1`\n--\n\n/*!40000 ALTER TABLE `t;1` DISABLE KEYS */;\n"
# Marker text, a fake USE and DELETE inside values: escaped newlines keep them inside one line.
ROW_1 = b"INSERT INTO `t;1` VALUES (1,'\\n-- Current Database: `b`\\nUSE `b`;\\nDELETE FROM x;'),\n(2,'a;');\n"
ROW_2 = b"INSERT INTO `t;1` VALUES (3,'\\0\\r\\n;');\n"
DATA_END = b"/*!40000 ALTER TABLE `t;1` ENABLE KEYS */;\n"
TRIGGER = (
    b"/*!50003 SET @saved_cs_client      = @@character_set_client */ ;\n"
    b"DELIMITER ;;\n/*!50003 CREATE*/ /*!50017 DEFINER=`u`@`h`*/ /*!50003 TRIGGER `tr 1` AFTER INSERT ON `t;1`"
    b" FOR EACH ROW\nBEGIN\n-- Current Database: `b`\n  SET @x = 1;\nEND */;;\nDELIMITER ;\n"
    b"/*!50003 SET character_set_client  = @saved_cs_client */ ;\n"
)
ROUTINES = (
    b"\n--\n-- Dumping routines for database 'a`b'\n--\n"
    b"/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;\n/*!50003 DROP PROCEDURE IF EXISTS `p1` */;\n"
    b"DELIMITER ;;\nCREATE PROCEDURE `p1`()\nBEGIN\n  SELECT '\n-- Current Database: `b`\nDELIMITER ;\n';\nEND\n;;\n"
    b"DELIMITER ;\n/*!50003 SET sql_mode              = @saved_sql_mode */ ;\n"
    b"/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;\n/*!50003 DROP FUNCTION IF EXISTS `f2` */;\n"
    b"DELIMITER ;;\nCREATE FUNCTION `f2`() RETURNS int\nRETURN 1 ;;\nDELIMITER ;\n"
    b"/*!50003 SET sql_mode              = @saved_sql_mode */ ;\n"
)
VIEWS_PASS = (
    b"\n--\n-- Current Database: `a``b`\n--\n\nUSE `a``b`;\n"
    b"\n--\n-- Final view structure for view `v`\n--\n\n/*!50001 DROP VIEW IF EXISTS `v`*/;\n"
    b"/*!50001 VIEW `v` AS select 1 AS `1` */;\n"
)
FOOTER = b"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n-- Dump completed on 2026-01-01\n"
DUMP = HEADER + DB_A + TABLE + DATA_BEGIN + ROW_1 + ROW_2 + DATA_END + TRIGGER + ROUTINES + VIEWS_PASS + FOOTER


def summary(units):
    return [(u.kind, u.database, u.name) for u in units]


def test_units_in_order_with_kinds_databases_and_names():
    units = list(read_units(io.BytesIO(DUMP)))

    assert b"".join(u.data for u in units) == DUMP
    assert summary(units) == [
        (Kind.HEADER, None, None),
        (Kind.DATABASE, "a`b", "a`b"),
        (Kind.TABLE, "a`b", "t;1"),
        (Kind.DATA_BEGIN, "a`b", "t;1"),
        (Kind.ROWS, "a`b", "t;1"),
        (Kind.DATA_END, "a`b", "t;1"),
        (Kind.TRIGGER, "a`b", "tr 1"),
        (Kind.ROUTINE, "a`b", "p1"),
        (Kind.ROUTINE, "a`b", "f2"),
        (Kind.USE, "a`b", "a`b"),
        (Kind.VIEW, "a`b", "v"),
        (Kind.FOOTER, None, None),
    ]
    assert units[4].data == ROW_1 + ROW_2
    assert units[6].data == TRIGGER


def test_rows_are_cut_into_batches_of_whole_statements():
    units = [u for u in read_units(io.BytesIO(DUMP), batch_bytes=1) if u.kind is Kind.ROWS]

    assert [u.data for u in units] == [ROW_1, ROW_2]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64])
def test_any_chunking_of_the_input_gives_the_same_units(chunk_size):
    chunks = [DUMP[i : i + chunk_size] for i in range(0, len(DUMP), chunk_size)]

    assert list(read_units(iter(chunks))) == list(read_units(io.BytesIO(DUMP)))


def test_a_long_row_line_passes_whole():
    big = b"INSERT INTO `t;1` VALUES (9,'" + b"x;\\n" * (1 << 19) + b"');\n"
    dump = HEADER + DB_A + TABLE + DATA_BEGIN + big + DATA_END + FOOTER

    rows = [u for u in read_units(io.BytesIO(dump)) if u.kind is Kind.ROWS]

    assert [u.data for u in rows] == [big]


@pytest.mark.parametrize("cut", [len(HEADER + DB_A) + 40, len(DUMP) - len(VIEWS_PASS + FOOTER) - 30])
def test_a_dump_cut_inside_a_statement_is_an_error(cut):
    with pytest.raises(DumpSyntaxError, match="truncated"):
        list(read_units(io.BytesIO(DUMP[:cut])))
