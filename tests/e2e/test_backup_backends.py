"""The backup command on every storage backend (local dir, moto S3, fake-gcs-server, Azurite), in
every format: download what landed and check it the way a user would — ``sha1sum -c``, ``tar tzf``
(or the codec's own test), the manifest matching the bytes, and a clean failure for a missing bucket."""

from __future__ import annotations

import json
import subprocess

import pytest

from shared.layout import BackupKeys
from tests.support.cli import run_cli

DECOMPRESS_TEST = {"sql.gz": ["gzip", "-t"], "sql.zst": ["zstd", "-q", "-t"]}


@pytest.mark.parametrize("fmt", ["tar.gz", "sql.gz", "sql.zst"])
def test_backup_lands_complete_on_each_backend(storage_backend, sample_server, tmp_path, fmt):
    env = {**storage_backend.agent_env("team/db1"), **sample_server.agent_env(), "BACKUP_FORMAT": fmt}

    done = run_cli(["backup", "--json"], env)

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    keys = BackupKeys(prefix="team/db1", backup_id=summary["backup_id"], format=fmt)
    stored = sorted(o.key for o in storage_backend.storage.list("team/db1/"))
    assert stored == sorted([keys.artifact, keys.sha1, keys.manifest, keys.folder + "accounts.sql"])
    download = tmp_path / "download"
    download.mkdir()
    for key in (keys.artifact, keys.sha1, keys.manifest):
        with storage_backend.storage.open_read(key) as src:
            (download / key.rsplit("/", 1)[1]).write_bytes(src.read())

    check = subprocess.run(["sha1sum", "-c", keys.artifact_name + ".sha1"], cwd=download, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.strip() == f"{keys.artifact_name}: OK"
    if fmt == "tar.gz":
        listing = subprocess.run(["tar", "tzf", keys.artifact_name], cwd=download, capture_output=True, text=True)
        assert listing.stdout.splitlines() == ["mariadb-ha-backup/all-databases-dump.sql"]
    else:
        assert subprocess.run([*DECOMPRESS_TEST[fmt], download / keys.artifact_name]).returncode == 0
    manifest = json.loads((download / "manifest.json").read_text())
    assert manifest["artifact"]["sha1"] == summary["sha1"]
    assert manifest["artifact"]["compressed_bytes"] == (download / keys.artifact_name).stat().st_size
    assert manifest["format"] == fmt


def test_missing_bucket_is_bad_input_on_each_backend(storage_backend, mariadb_server):
    env = {**storage_backend.env, **mariadb_server.agent_env(), "BACKUP_URL": storage_backend.url_for("no-such-bucket-x1")}
    done = run_cli(["backup"], env)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert list(storage_backend.storage.list("")) == []
