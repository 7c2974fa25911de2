"""Every command honours BACKUP_RETRY_ATTEMPTS / BACKUP_RETRY_SECONDS for its storage calls.

Against storage that refuses every connection (an S3 endpoint where nothing listens), a user who set
two attempts sees "attempt 1 of 2" and no third try, then exit 1 — for list, verify, prune and
restore through the real CLI, and for the retention that runs after a backup.
"""

from __future__ import annotations

import logging

import pytest

from agent.retention import retain_after_backup
from shared.config import load_settings
from shared.storage import TransientStorageError
from tests.support.cli import run_cli
from tests.support.storage_servers import dead_endpoint


def unreachable_env() -> dict[str, str]:
    return {
        "BACKUP_URL": f"s3://unreachable-bucket/p?endpoint={dead_endpoint()}&region=us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret-at-all",
        "MARIADB_HOST": "127.0.0.1", "MARIADB_PASSWORD": "retry-test-password",
        "BACKUP_RETRY_ATTEMPTS": "2", "BACKUP_RETRY_SECONDS": "30",
    }


@pytest.mark.parametrize("args", [["list"], ["verify", "--latest"], ["prune", "--keep-last", "3"],
                                  ["restore", "--latest"]], ids=lambda a: a[0])
def test_commands_retry_storage_as_configured(args: list[str]) -> None:
    done = run_cli(args, unreachable_env(), timeout=120)

    assert done.returncode == 1, done.stderr
    assert "attempt 1 of 2" in done.stderr
    assert "attempt 2 of" not in done.stderr and "of 5" not in done.stderr
    assert "Traceback" not in done.stderr


def test_retention_after_a_backup_retries_as_configured(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # read by botocore itself
        monkeypatch.setenv(name, unreachable_env()[name])
    settings = load_settings({**unreachable_env(), "BACKUP_KEEP_LAST": "1"})
    caplog.set_level(logging.WARNING, logger="mariadb_ha_backup.storage")

    with pytest.raises(TransientStorageError):
        retain_after_backup(settings)

    retries = [r.getMessage() for r in caplog.records if r.name == "mariadb_ha_backup.storage"]
    assert len(retries) == 1 and "attempt 1 of 2" in retries[0]
