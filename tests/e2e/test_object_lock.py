"""BACKUP_LOCK_DAYS on a real S3 (moto with ObjectLockEnabledForBucket): every object of a backup is
retained until start + N days, the locked version cannot be deleted, and ``prune`` keeps a backup whole
when any of its objects is retained. Also what fake-gcs-server and Azurite support (see docs/SECURITY.md).

moto 5.2 answers GetObjectRetention with 500 (a moto bug): retention is read with head_object.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from shared.layout import BackupKeys, parse_backup_id
from shared.storage import ObjectLockUnsupportedError, StorageError, open_storage
from tests.support.backups import store_backup
from tests.support.cli import run_cli
from tests.support.storage_servers import unique_bucket_name

PREFIX = "locked/db"


@pytest.fixture
def locked_bucket(s3_server):  # type: ignore[no-untyped-def]
    bucket = unique_bucket_name()
    s3_server.client().create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return bucket


def s3_env(s3_server, bucket: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**s3_server.env, "BACKUP_URL": f"s3://{bucket}", "BACKUP_PREFIX": PREFIX}


def test_every_object_is_retained_until_start_plus_days(s3_server, locked_bucket, sample_server):
    env = {**s3_env(s3_server, locked_bucket), **sample_server.agent_env(), "BACKUP_LOCK_DAYS": "3"}

    done = run_cli(["backup", "--json"], env)

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    keys = BackupKeys(prefix=PREFIX, backup_id=summary["backup_id"], format="tar.gz")
    expected = parse_backup_id(keys.backup_id) + timedelta(days=3)
    client = s3_server.client()
    for key in (keys.artifact, keys.sha1, keys.manifest):
        head = client.head_object(Bucket=locked_bucket, Key=key)
        assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("GOVERNANCE", expected), key
    manifest = json.loads(client.get_object(Bucket=locked_bucket, Key=keys.manifest)["Body"].read())
    assert manifest["retention"] == {"until": expected.isoformat(), "mode": "GOVERNANCE"}
    version = client.head_object(Bucket=locked_bucket, Key=keys.artifact)["VersionId"]
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=locked_bucket, Key=keys.artifact, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_compliance_mode_is_passed_through(s3_server, locked_bucket, sample_server):
    env = {**s3_env(s3_server, locked_bucket), **sample_server.agent_env(), "BACKUP_LOCK_DAYS": "1",
           "BACKUP_LOCK_MODE": "compliance", "BACKUP_FORMAT": "sql.zst"}
    done = run_cli(["backup", "--json"], env)
    assert done.returncode == 0, done.stderr
    keys = BackupKeys(prefix=PREFIX, backup_id=json.loads(done.stdout)["backup_id"], format="sql.zst")
    assert s3_server.client().head_object(Bucket=locked_bucket, Key=keys.artifact)["ObjectLockMode"] == "COMPLIANCE"


def test_prune_keeps_a_backup_whole_while_any_object_is_retained(s3_server, locked_bucket, tmp_path, monkeypatch):
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    storage = open_storage(f"s3://{locked_bucket}")
    now = datetime.now(UTC).replace(microsecond=0)
    newest = store_backup(storage, prefix=PREFIX, started=now - timedelta(hours=1), tmp=tmp_path)
    partly = store_backup(storage, prefix=PREFIX, started=now - timedelta(days=3), tmp=tmp_path)
    unlocked = store_backup(storage, prefix=PREFIX, started=now - timedelta(days=4), tmp=tmp_path)
    expired = store_backup(storage, prefix=PREFIX, started=now - timedelta(days=5), tmp=tmp_path)
    # Only the archive of ``partly`` is retained: deleting its manifest and sidecar would leave locked
    # data nobody can find, so the whole backup must stay.
    storage.set_retention(partly.artifact, until=now + timedelta(days=2), mode="GOVERNANCE")
    for key in (expired.artifact, expired.sha1, expired.manifest):
        storage.set_retention(key, until=now + timedelta(seconds=2), mode="GOVERNANCE")
    before = {o.key for o in storage.list(PREFIX + "/")}

    import time

    time.sleep(3)  # ``expired``'s retention ends
    done = run_cli(["prune", "--keep-last", "1", "--json"], s3_env(s3_server, locked_bucket))

    assert done.returncode == 0, done.stderr
    report = {r["backup_id"]: r for r in json.loads(done.stdout)}
    assert report[partly.backup_id]["retained_until"] == (now + timedelta(days=2)).isoformat()
    assert report[unlocked.backup_id]["retained_until"] is None
    assert report[expired.backup_id]["retained_until"] is None
    after = {o.key for o in storage.list(PREFIX + "/")}
    gone = {k for b in (unlocked, expired) for k in (b.artifact, b.sha1, b.manifest)}
    assert after == before - gone
    assert {partly.artifact, partly.sha1, partly.manifest, newest.manifest} <= after
    text = run_cli(["prune", "--keep-last", "1"], s3_env(s3_server, locked_bucket))
    assert f"kept {partly.backup_id} (complete, beyond the newest 1): object lock retains it until" in text.stdout


def test_bucket_without_object_lock_is_bad_input_before_any_dump(storage_backend, mariadb_server):
    env = {**storage_backend.agent_env(PREFIX), **mariadb_server.agent_env(), "BACKUP_LOCK_DAYS": "7"}

    done = run_cli(["backup"], env)

    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "BACKUP_LOCK_DAYS" in line and "Traceback" not in line
    assert list(storage_backend.storage.list("")) == []


@pytest.mark.parametrize("value", ["0", "seven", "40000"])
def test_bad_lock_days_is_bad_input(value, mariadb_server, tmp_path):
    env = {"BACKUP_URL": f"file://{tmp_path}", **mariadb_server.agent_env(), "BACKUP_LOCK_DAYS": value}
    done = run_cli(["backup"], env)
    assert done.returncode == 2 and done.stderr.startswith("mariadb-ha-backup: error: BACKUP_LOCK_DAYS must be")


def test_fake_gcs_server_keeps_retention_metadata_but_reports_no_object_retention(gcs_server, monkeypatch):
    """What the emulator supports: the retention fields round-trip; the bucket's objectRetention mode
    is never reported and deletes are not refused, so only the adapter's calls are checked here."""
    for name, value in gcs_server.env.items():
        monkeypatch.setenv(name, value)
    bucket = unique_bucket_name()
    gcs_server.create_bucket(bucket)
    storage = open_storage(f"gs://{bucket}")
    import io

    storage.put("a/b", io.BytesIO(b"x"))
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)

    storage.set_retention("a/b", until=until, mode="GOVERNANCE")

    assert storage.retained_until("a/b") == until
    with pytest.raises(ObjectLockUnsupportedError, match="has no object retention"):
        storage.check_object_lock()


def test_azurite_has_no_version_level_immutability(azurite_server, monkeypatch):
    """What the emulator supports: nothing of immutability (Set Blob Immutability Policy answers "not
    implemented"); the adapter reports that as a storage error and the preflight refuses the container."""
    for name, value in azurite_server.env.items():
        monkeypatch.setenv(name, value)
    bucket = unique_bucket_name()
    azurite_server.create_bucket(bucket)
    storage = open_storage(f"azblob://{bucket}")
    import io

    storage.put("a/b", io.BytesIO(b"x"))

    with pytest.raises(ObjectLockUnsupportedError, match="has no version-level immutability"):
        storage.check_object_lock()
    with pytest.raises(StorageError):
        storage.set_retention("a/b", until=datetime.now(UTC) + timedelta(days=1), mode="GOVERNANCE")
    assert storage.retained_until("a/b") is None
