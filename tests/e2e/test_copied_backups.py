"""A backup folder copied elsewhere (another prefix, another bucket: an off-site replica) is a backup
of its own: verify, restore and prune work on the folder they are pointed at, never on the original's
objects. Local directories and S3 (moto); the CLI as a user runs it.
"""

from __future__ import annotations

import io
import json

import pytest

from shared.manifest import Manifest
from shared.storage import Storage, open_storage
from tests.support.cli import run_cli
from tests.support.mariadb_server import table_checksums
from tests.support.storage_servers import unique_bucket_name

PREFIX = "prod/db/mariadb-ha"
OFFSITE = "replica/elsewhere"


def copy_folder(source: Storage, target: Storage, *, old: str, new: str) -> list[str]:
    copied = []
    for info in source.list(old + "/"):
        with source.open_read(info.key) as stream:
            key = new + info.key[len(old):]
            target.put(key, io.BytesIO(stream.read()))
            copied.append(key)
    return copied


def flip_a_byte(storage: Storage, key: str) -> None:
    with storage.open_read(key) as stream:
        data = bytearray(stream.read())
    data[len(data) // 2] ^= 0x01
    storage.put(key, io.BytesIO(bytes(data)))


@pytest.fixture(params=["local", "s3"])
def two_buckets(request, tmp_path, monkeypatch):
    if request.param == "local":
        urls = []
        for name in ("primary", "offsite"):
            (tmp_path / name).mkdir()
            urls.append(f"file://{tmp_path / name}")
        return urls, {}
    server = request.getfixturevalue("s3_server")
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)
    buckets = [unique_bucket_name(), unique_bucket_name()]
    for bucket in buckets:
        server.create_bucket(bucket)
    return [f"s3://{b}" for b in buckets], server.env


@pytest.mark.parametrize("elsewhere", ["same bucket", "other bucket"])
def test_a_copied_backup_restores_from_its_own_objects(two_buckets, elsewhere, sample_server, mariadb_factory,
                                                       tmp_path):
    (primary, offsite), env = two_buckets
    copy_url = primary if elsewhere == "same bucket" else offsite
    backup = run_cli(["backup", "--json", "--format", "sql.zst"],
                     {**env, "BACKUP_URL": primary, "BACKUP_PREFIX": PREFIX, **sample_server.agent_env()})
    assert backup.returncode == 0, backup.stderr
    backup_id = json.loads(backup.stdout)["backup_id"]
    source, copy = open_storage(primary), open_storage(copy_url)
    copied = copy_folder(source, copy, old=PREFIX, new=OFFSITE)
    manifest_key = f"{OFFSITE}/{backup_id}/manifest.json"
    with copy.open_read(manifest_key) as stream:
        stored = json.loads(stream.read())
    assert stored["artifact"]["key"] == "mariadb-ha-backup.sql.zst"  # relative to the folder
    copy_env = {**env, "BACKUP_URL": copy_url, "BACKUP_PREFIX": OFFSITE}

    flip_a_byte(copy, f"{OFFSITE}/{backup_id}/mariadb-ha-backup.sql.zst")
    corrupt_copy = run_cli(["verify", backup_id], copy_env)
    original = run_cli(["verify", backup_id], {**env, "BACKUP_URL": primary, "BACKUP_PREFIX": PREFIX})
    copy_folder(source, copy, old=PREFIX, new=OFFSITE)  # a good copy again
    for info in list(source.list(PREFIX + "/")):  # the original is gone: only the copy can serve
        source.delete(info.key)
    target = mariadb_factory()
    restored = run_cli(["restore", backup_id], {**copy_env, **target.agent_env()})

    assert len(copied) >= 3
    assert corrupt_copy.returncode == 1 and "SHA1" in corrupt_copy.stdout + corrupt_copy.stderr
    assert original.returncode == 0, original.stderr
    assert restored.returncode == 0, restored.stderr
    assert table_checksums(target) == table_checksums(sample_server)


def test_an_old_manifest_with_absolute_keys_is_read_in_the_folder_it_lies_in():
    old = {"id": "20260101T000000Z", "started_at": "x", "finished_at": "x", "format": "tar.gz", "schema_version": 1,
           "artifact": {"key": "a/b/20260101T000000Z/mariadb-ha-backup.tar.gz", "name": "mariadb-ha-backup.tar.gz",
                        "sha1": "0" * 40, "compressed_bytes": 1, "raw_bytes": 1, "compression": "gzip"},
           "sha1_key": "a/b/20260101T000000Z/mariadb-ha-backup.tar.gz.sha1",
           "accounts": {"key": "a/b/20260101T000000Z/accounts.sql", "sha1": "0" * 40, "accounts": []},
           "source": {"host": "h", "port": 1, "server_version": "10.11", "namespace": None, "service": None}, "dump_command": [], "tool_version": "0",
           "inventory": {}}

    manifest = Manifest.from_json(json.dumps(old).encode(), key="copy/20260101T000000Z/manifest.json")

    assert manifest.artifact.key == "copy/20260101T000000Z/mariadb-ha-backup.tar.gz"
    assert manifest.sha1_key == "copy/20260101T000000Z/mariadb-ha-backup.tar.gz.sha1"
    assert manifest.accounts is not None and manifest.accounts.key == "copy/20260101T000000Z/accounts.sql"
