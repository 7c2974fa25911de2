"""Retention after a backup: applied only after a successful run, through the same policy as ``prune``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shared.storage import open_storage
from tests.support.backups import store_backup
from tests.support.cli import run_cli

PREFIX = "mariadb-ha-backup/db/mariadb-ha"


def complete_ids(storage) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(o.key.split("/")[-2] for o in storage.list(PREFIX + "/") if o.key.endswith("/manifest.json"))


def seeded_bucket(tmp_path):  # type: ignore[no-untyped-def]
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    storage = open_storage(f"file://{bucket}")
    for day in (1, 2, 3):
        store_backup(storage, prefix=PREFIX, started=datetime(2024, 5, day, 2, 0, tzinfo=UTC), tmp=tmp_path)
    return bucket, storage


def env(server, bucket, **extra):  # type: ignore[no-untyped-def]
    return {"CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(bucket), "CELL_DEFAULT_NAMESPACE": "db",
            "MARIADB_HA_SERVICE_NAME": "mariadb-ha", "BACKUP_KEEP_LAST": "2", **server.agent_env(), **extra}


def test_successful_backup_applies_keep_last(sample_server, tmp_path):
    bucket, storage = seeded_bucket(tmp_path)

    done = run_cli(["backup", "--json"], env(sample_server, bucket))

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert sorted(summary["pruned"]) == ["20240501T020000Z", "20240502T020000Z"]
    assert complete_ids(storage) == ["20240503T020000Z", summary["backup_id"]]


def test_failed_backup_prunes_nothing(mariadb_server, tmp_path):
    bucket, storage = seeded_bucket(tmp_path)

    done = run_cli(["backup"], env(mariadb_server, bucket, MARIADB_PASSWORD="wrong"))

    assert done.returncode == 2
    assert complete_ids(storage) == ["20240501T020000Z", "20240502T020000Z", "20240503T020000Z"]
