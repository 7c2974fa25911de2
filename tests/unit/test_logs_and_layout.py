from __future__ import annotations

import io
import json
import logging

import pytest

from shared.layout import BackupIdError, BackupKeys, parse_backup_id, sha1_sidecar_text
from shared.logs import register_secret, setup_logging


def test_registered_secret_is_redacted_from_every_record():
    stream = io.StringIO()
    setup_logging(stream=stream)
    register_secret("s3cr3t-Value")
    log = logging.getLogger("mariadb_ha_backup.test")
    log.info("connecting with s3cr3t-Value", extra={"detail": "also s3cr3t-Value here"})
    try:
        raise RuntimeError("boom s3cr3t-Value")
    except RuntimeError:
        log.exception("failed")
    text = stream.getvalue()
    assert "s3cr3t-Value" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["message"] == "connecting with ***" and records[0]["detail"] == "also *** here"
    assert "boom ***" in records[1]["exception"]


def test_keys_follow_the_contract():
    keys = BackupKeys(prefix="mariadb-ha-backup/db/svc", backup_id="20261124T010203Z", format="tar.gz")
    assert keys.artifact == "mariadb-ha-backup/db/svc/20261124T010203Z/mariadb-ha-backup.tar.gz"
    assert keys.sha1 == keys.artifact + ".sha1"
    assert keys.manifest == "mariadb-ha-backup/db/svc/20261124T010203Z/manifest.json"
    assert sha1_sidecar_text("ab" * 20, keys.artifact_name) == f"{'ab' * 20}  mariadb-ha-backup.tar.gz\n".encode()


@pytest.mark.parametrize("bad", ["../20261124T010203Z", "20261124T010203", "2026-11-24", "20261324T010203Z", ""])
def test_backup_ids_are_validated(bad):
    with pytest.raises(BackupIdError):
        parse_backup_id(bad)
