"""Hostile input at the library boundaries, in-process and without a network (the CLI variants are in
tests/e2e/test_hostile_input.py): client error text, backup ids and object keys that try to escape."""

from __future__ import annotations

import pytest

from shared.layout import BackupIdError, parse_backup_id
from shared.mariadb_client import AccessDeniedError, ClientConnectionError, ClientError, classify_failure
from shared.storage import StorageError, open_storage

# What mariadb-dump / mariadb really print (collected on this machine), and how each must be treated.
CLIENT_ERRORS = [
    # The node serving the dump was killed while a query ran (found by the Galera failover test).
    ("mariadb-dump: Couldn't execute 'SELECT /*!40001 SQL_NO_CACHE */ `sku` FROM `products`': "
     "Lost connection to server during query (2013)", ClientConnectionError),
    ("mariadb-dump: Error 2013: Lost connection to server during query when dumping table `t` at row: 5",
     ClientConnectionError),
    ("mariadb-dump: Got error: 2002: \"Can't connect to server on '127.0.0.1' (115)\" when trying to connect",
     ClientConnectionError),
    ("ERROR 1047 (08S01) at line 1: WSREP has not yet prepared node for application use", ClientConnectionError),
    ("mariadb-dump: Got error: 1045: \"Access denied for user 'root'@'localhost' (using password: YES)\" "
     "when trying to connect", AccessDeniedError),
    ("ERROR 1698 (28000): Access denied for user 'root'@'localhost'", AccessDeniedError),
    ("mariadb-dump: Couldn't execute 'SHOW CREATE TABLE `x`': Table 'd.x' doesn't exist (1146)", ClientError),
    ("", ClientError),
]


@pytest.mark.parametrize(("stderr", "expected"), CLIENT_ERRORS)
def test_client_errors_are_classified_for_retry(stderr: str, expected: type[Exception]) -> None:
    error = classify_failure(stderr, what="mariadb-dump")
    assert type(error) is expected
    assert "\n" not in str(error)


def test_a_table_name_in_parentheses_is_not_an_error_code() -> None:
    # "(2013)" inside a quoted identifier, not at the end of the line: must not look like a lost connection.
    error = classify_failure("mariadb-dump: Couldn't execute 'SELECT * FROM `t(2013)` x': syntax (1064)",
                             what="mariadb-dump")
    assert type(error) is ClientError


@pytest.mark.parametrize("backup_id", ["../20240101T000000Z", "20240101T000000Z/../../x", "20240101T000000Z\n",
                                       "2024-01-01T00:00:00Z", "", "20240101t000000z", "20240230T000000Z"])
def test_backup_ids_that_could_escape_or_lie_are_refused(backup_id: str) -> None:
    with pytest.raises(BackupIdError):
        parse_backup_id(backup_id)


@pytest.mark.parametrize("key", ["../outside", "a/../../outside", "/etc/passwd", "a//b", "a/./b", ""])
def test_local_storage_refuses_keys_that_leave_the_bucket(tmp_path, key: str) -> None:
    storage = open_storage(f"file://{tmp_path / 'bucket'}")
    with pytest.raises(StorageError):
        storage.open_read(key)
    with pytest.raises(StorageError):
        storage.delete(key)
    assert not (tmp_path / "outside").exists()
