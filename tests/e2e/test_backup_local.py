"""The backup command end to end on the embedded default: a real mariadbd, a local directory as the
bucket. What a user checks: ``sha1sum -c`` and ``tar tzf`` pass on what landed, the member name is the
seed's, and the dump loads into a fresh server with identical ``CHECKSUM TABLE`` results."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer, schema_objects, table_checksums


def backup_env(server: TestServer, bucket: Path, tmp: Path) -> dict[str, str]:
    return {
        "CLOUD_PROVIDER": "local",
        "LOCAL_BACKUP_DIR": str(bucket),
        "BACKUP_TMPDIR": str(tmp),
        "CELL_DEFAULT_NAMESPACE": "db",
        "MARIADB_HA_SERVICE_NAME": "mariadb-ha",
        **server.agent_env(),
    }


def test_backup_lands_verifiable_and_restores_identically(sample_server, mariadb_factory, tmp_path):
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()

    done = run_cli(["backup", "--json"], backup_env(sample_server, bucket, tmp))

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    folder = bucket / "mariadb-ha-backup/db/mariadb-ha" / summary["backup_id"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "accounts.sql",
        "manifest.json",
        "mariadb-ha-backup.tar.gz",
        "mariadb-ha-backup.tar.gz.sha1",
    ]
    check = subprocess.run(
        ["sha1sum", "-c", "mariadb-ha-backup.tar.gz.sha1"], cwd=folder, capture_output=True, text=True
    )
    assert check.returncode == 0 and check.stdout.strip() == "mariadb-ha-backup.tar.gz: OK"
    listing = subprocess.run(["tar", "tzf", "mariadb-ha-backup.tar.gz"], cwd=folder, capture_output=True, text=True)
    assert listing.returncode == 0 and listing.stdout.splitlines() == ["mariadb-ha-backup/all-databases-dump.sql"]
    assert subprocess.run(["gzip", "-t", folder / "mariadb-ha-backup.tar.gz"]).returncode == 0

    manifest = json.loads((folder / "manifest.json").read_text())
    assert (
        manifest["artifact"]["sha1"]
        == summary["sha1"]
        == (folder / "mariadb-ha-backup.tar.gz.sha1").read_text().split()[0]
    )
    assert manifest["artifact"]["compressed_bytes"] == (folder / "mariadb-ha-backup.tar.gz").stat().st_size
    assert {"shop", "crm", "audit-log"} <= set(manifest["inventory"]["databases"])
    assert "shop.ship_order:PROCEDURE" in manifest["inventory"]["routines"]
    assert manifest["source"]["server_version"].startswith("10.")
    assert sample_server.password not in (folder / "manifest.json").read_text()

    with tarfile.open(folder / "mariadb-ha-backup.tar.gz") as archive:
        member = archive.getmember("mariadb-ha-backup/all-databases-dump.sql")
        assert member.size == manifest["artifact"]["raw_bytes"] == summary["raw_bytes"]
        dump = archive.extractfile(member).read()  # type: ignore[union-attr]
    target = mariadb_factory()
    loaded = subprocess.run(target.client_argv(), input=dump, capture_output=True)
    assert loaded.returncode == 0, loaded.stderr
    assert table_checksums(target) == table_checksums(sample_server)
    assert schema_objects(target) == schema_objects(sample_server)
    assert list(tmp.iterdir()) == []  # the private run dir is gone


def test_human_summary_and_json_logs(sample_server, tmp_path):
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()

    done = run_cli(["backup"], backup_env(sample_server, bucket, tmp))

    assert done.returncode == 0, done.stderr
    assert "complete" in done.stdout and "sha1" in done.stdout
    events = [json.loads(line) for line in done.stderr.splitlines()]  # every stderr line is a JSON record
    assert next(e["event"] for e in events if "event" in e) == "start"
    assert events[-1]["event"] == "complete"
    assert sample_server.password not in done.stderr + done.stdout


def test_each_run_writes_new_keys(sample_server, tmp_path, skipping_id_clock):
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    env = backup_env(sample_server, bucket, tmp)

    first = json.loads(run_cli(["backup", "--json"], env).stdout)
    second = json.loads(run_cli(["backup", "--json"], env).stdout)

    assert first["backup_id"] < second["backup_id"]
    manifests = sorted(bucket.glob("*/*/*/*/manifest.json"))
    assert len(manifests) == 2
