"""What a restore loads out of the dump: one database by structure, never the raw privilege tables."""

from __future__ import annotations

import io

from agent.common.accounts import account_blocks, account_grants
from agent.restore.selection import Selection
from tests.unit.test_dumpfile_parsing import DUMP, FOOTER, HEADER

MYSQL = (
    b"\n--\n-- Current Database: `mysql`\n--\n\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `mysql`;\n\nUSE `mysql`;\n"
    b"\n--\n-- Table structure for table `db`\n--\n\nDROP TABLE IF EXISTS `db`;\nCREATE TABLE `db` (x int);\n"
    b"\n--\n-- Dumping data for table `db`\n--\n\nINSERT INTO `db` VALUES\n('','victim','app_role');\n"
    b"\n--\n-- Table structure for table `proc`\n--\n\nDROP TABLE IF EXISTS `proc`;\nCREATE TABLE `proc` (x int);\n"
)
OTHER = (
    b"\n--\n-- Current Database: `b`\n--\n\nCREATE DATABASE `b`;\n\nUSE `b`;\n"
    b"\n--\n-- Table structure for table `t`\n--\n\nCREATE TABLE `t` (id int REFERENCES `a``b`.`t;1` (id));\n"
)


def selected(dump: bytes, database: str | None, known: frozenset[str] = frozenset()) -> tuple[bytes, Selection]:
    selection = Selection(database, known_databases=known)
    return b"".join(selection.chunks(io.BytesIO(dump))), selection


def test_one_database_keeps_its_units_and_the_session_header_and_footer():
    dump = DUMP.replace(FOOTER, OTHER + FOOTER)

    out, selection = selected(dump, "a`b")

    assert selection.found
    assert out.startswith(HEADER) and out.endswith(FOOTER)
    assert b"DELETE FROM x" in out  # inside a string value of a`b: data, not a statement
    assert b"CREATE DATABASE `b`" not in out and b"CREATE TABLE `t` " not in out


def test_marker_text_never_switches_database():
    out, selection = selected(DUMP, "b")

    assert not selection.found
    assert out == HEADER + FOOTER


def test_references_to_other_known_databases_are_named():
    dump = DUMP.replace(FOOTER, OTHER + FOOTER)

    _, selection = selected(dump, "b", frozenset({"a`b", "b"}))

    assert selection.references == {"a`b": {"t"}}


def test_privilege_tables_are_never_loaded_but_the_rest_of_mysql_is():
    dump = DUMP.replace(FOOTER, MYSQL + FOOTER)

    out, _ = selected(dump, None)

    assert b"CREATE TABLE `db`" not in out and b"'app_role'" not in out
    assert b"USE `mysql`;" in out and b"CREATE TABLE `proc`" in out
    assert b"CREATE TABLE `t;1`" in out


ACCOUNTS = (
    b"-- accounts of the backed-up server (mariadb-ha-backup)\n"
    b"-- account: 'r'\nCREATE ROLE IF NOT EXISTS 'r';\n"
    b"-- account: 'u'@'%'\nCREATE USER IF NOT EXISTS `u`@`%` IDENTIFIED BY PASSWORD '*AB';\n"
    b"-- account: 'r'\nGRANT SELECT ON `a`.* TO `r`;\n"
    b"-- account: 'u'@'%'\nGRANT `r` TO `u`@`%`;\nSET DEFAULT ROLE `r` FOR `u`@`%`;\n"
)


def test_accounts_file_blocks_and_grants_of_the_accounts_created():
    blocks = account_blocks(ACCOUNTS)

    assert list(blocks) == ["'r'", "'u'@'%'"]
    assert blocks["'u'@'%'"][0].startswith("CREATE USER IF NOT EXISTS")
    assert account_grants(ACCOUNTS, ["'u'@'%'"]) == ["GRANT `r` TO `u`@`%`;", "SET DEFAULT ROLE `r` FOR `u`@`%`;"]


def test_accounts_mode_is_restore_by_default_and_checked():
    import pytest

    from agent.common.accounts import load_accounts_settings
    from shared.config import ConfigError

    assert load_accounts_settings({}).mode == "restore"
    assert load_accounts_settings({"MARIADB_HA_RESTORE_ACCOUNTS": "keep"}).mode == "keep"
    with pytest.raises(ConfigError, match="must be one of restore, keep, not 'bogus'"):
        load_accounts_settings({"MARIADB_HA_RESTORE_ACCOUNTS": "bogus"})
