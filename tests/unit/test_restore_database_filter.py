"""Cutting one database out of an all-databases dump, on the dump's own section markers."""

from __future__ import annotations

import io

from agent.database_filter import DatabaseSection

HEADER = b"/*!40101 SET NAMES utf8mb4 */;\n/*!40103 SET TIME_ZONE='+00:00' */;\n\n"


def section(name: bytes, body: bytes, *, create: bool = True) -> bytes:
    create_line = b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `" + name + b"`;\n\n" if create else b""
    return b"--\n-- Current Database: `" + name + b"`\n--\n\n" + create_line + b"USE `" + name + b"`;\n" + body


DUMP = (HEADER
        + section(b"audit-log", b"INSERT INTO `log` VALUES (1);\n")
        + section(b"shop", b"INSERT INTO `orders` VALUES (1,'-- Current Database: `crm`');\n")
        + section(b"crm", b"CREATE TABLE `c` (id int);\n")
        + section(b"shop", b"/*!50001 VIEW `paid_orders` AS select 1 */;\n", create=False)  # late views
        + section(b"crm", b"/*!50001 VIEW `v` AS select 1 */;\n", create=False)
        + b"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n")


def cut(dump: bytes, name: str) -> tuple[bytes, bool]:
    wanted = DatabaseSection(io.BufferedReader(io.BytesIO(dump)), name)
    return b"".join(wanted.chunks()), wanted.found


def test_keeps_header_create_database_tables_and_late_views_of_one_database():
    out, found = cut(DUMP, "shop")

    assert found
    assert out.startswith(HEADER)
    assert b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`" in out
    assert out.count(b"USE `shop`;") == 2
    assert b"INSERT INTO `orders`" in out and b"VIEW `paid_orders`" in out
    assert b"audit-log" not in out and b"USE `crm`" not in out and b"VIEW `v`" not in out


def test_marker_text_inside_a_data_line_does_not_switch_sections():
    out, _ = cut(DUMP, "crm")

    assert b"INSERT INTO `orders`" not in out
    assert b"CREATE TABLE `c`" in out and b"VIEW `v`" in out


def test_names_with_dashes_and_unknown_names():
    out, found = cut(DUMP, "audit-log")
    assert found and b"INSERT INTO `log`" in out and b"shop" not in out

    out, found = cut(DUMP, "shop2")
    assert not found and out == HEADER + b"--\n"  # the comment line that opens the first section


def test_lines_longer_than_a_piece_pass_through_whole():
    long_row = b"INSERT INTO `blob` VALUES ('" + b"x" * (3 << 20) + b"');\n"
    dump = HEADER + section(b"shop", long_row) + section(b"crm", b"-- Current Database: `shop`x\n")

    out, _ = cut(dump, "shop")

    assert long_row in out and b"USE `crm`" not in out
