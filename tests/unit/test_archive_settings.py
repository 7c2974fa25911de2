"""The binlog section of the configuration, and the preflight's refusals read from server variables."""

from __future__ import annotations

import pytest

from agent.pitr.archiver.nodes import NotArchivableError, refuse_unless_archivable
from shared.config import ConfigError, Endpoint, load_archive_settings

GOOD = {"log_bin": "ON", "binlog_format": "ROW", "log_slave_updates": "ON", "wsrep_gtid_mode": "ON"}
NODE = Endpoint("db-0.db", 3306)


def load(**values: str):  # type: ignore[no-untyped-def]
    return load_archive_settings(values, host="mariadb", port=3306, prefix="mariadb-ha-backup/ns/db")


def test_defaults_follow_the_service_with_a_ten_second_budget_and_a_high_random_server_id() -> None:
    settings = load()
    assert settings.upload_seconds == 10.0 and settings.sources == (Endpoint("mariadb", 3306),)
    assert 2**31 < settings.server_id < 2**32
    ids = {load().server_id for _ in range(20)}
    assert len(ids) > 1  # the random part
    assert len({i >> 16 for i in ids}) == 1  # the stable part: the prefix


def test_explicit_values() -> None:
    settings = load(BINLOG_UPLOAD_SECONDS="2.5", BINLOG_SERVER_ID="4242",
                    BINLOG_SOURCES="db-0.db:3307, db-1.db ,db-2.db:3306", BINLOG_ROLLUP_RECORDS="50")
    assert (settings.upload_seconds, settings.server_id, settings.rollup_records) == (2.5, 4242, 50)
    assert load().rollup_records == 1000
    assert settings.sources == (Endpoint("db-0.db", 3307), Endpoint("db-1.db", 3306), Endpoint("db-2.db", 3306))


@pytest.mark.parametrize(("name", "value", "message"), [
    ("BINLOG_UPLOAD_SECONDS", "0.5", "between 1 and 3600"),
    ("BINLOG_UPLOAD_SECONDS", "soon", "a number of seconds"),
    ("BINLOG_SERVER_ID", "0", "from 1 to 4294967295"),
    ("BINLOG_SERVER_ID", "4294967296", "from 1 to 4294967295"),
    ("BINLOG_SOURCES", "db-0:99999", "not host or host:port"),
    ("BINLOG_SOURCES", "db 0:3306", "not host or host:port"),
    ("BINLOG_ROLLUP_RECORDS", "0", "from 1 to 100000"),
    ("BINLOG_ROLLUP_RECORDS", "many", "from 1 to 100000"),
])
def test_bad_values_are_one_line_errors_naming_the_setting(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load(**{name: value})
    assert name in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(("variable", "value", "galera"), [
    ("log_bin", "OFF", False), ("binlog_format", "MIXED", False),
    ("log_slave_updates", "OFF", True), ("wsrep_gtid_mode", "OFF", True),
])
def test_preflight_refuses_what_makes_pitr_incorrect(variable: str, value: str, galera: bool) -> None:
    with pytest.raises(NotArchivableError, match=f"{variable} is {value}, PITR needs"):
        refuse_unless_archivable(NODE, {**GOOD, variable: value}, galera=galera)


def test_a_single_server_needs_neither_galera_setting() -> None:
    refuse_unless_archivable(NODE, {"log_bin": "ON", "binlog_format": "ROW", "log_slave_updates": "OFF"},
                              galera=False)
