"""Smaller things a careful user checks on stored backups (real servers, the CLI, zstd's own tool).

- sql.zst artifacts carry a zstd frame checksum: ``zstd -lv`` names it, a flipped byte fails ``zstd -t``;
- every object the local backend writes is 0600 (``accounts.sql`` holds password hashes);
- a restore of a corrupt artifact without verifying first says once that the target may be partial;
- an account the server cannot describe (a host name under skip_name_resolve) is named with what is lost.
"""

from __future__ import annotations

import gzip
import json
import stat
import subprocess
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer

PREFIX = "hygiene/db/mariadb-ha"


def backup(server: TestServer, bucket: Path, fmt: str) -> dict:
    bucket.mkdir(exist_ok=True)
    done = run_cli(["backup", "--json", "--format", fmt],
                   {"BACKUP_URL": f"file://{bucket}", "BACKUP_PREFIX": PREFIX, **server.agent_env()})
    assert done.returncode == 0, done.stderr
    summary: dict = json.loads(done.stdout)
    return summary


def test_sql_zst_has_a_frame_checksum_that_catches_a_flipped_byte(sample_server, tmp_path):
    summary = backup(sample_server, tmp_path / "bucket", "sql.zst")
    artifact = tmp_path / "bucket" / summary["artifact_key"]
    flipped = tmp_path / "flipped.sql.zst"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))

    listed = subprocess.run(["zstd", "-lv", str(artifact)], capture_output=True, text=True, check=False)
    intact = subprocess.run(["zstd", "-t", str(artifact)], capture_output=True, check=False)
    damaged = subprocess.run(["zstd", "-t", str(flipped)], capture_output=True, check=False)

    assert "Check: XXH64" in listed.stdout + listed.stderr
    assert intact.returncode == 0
    assert damaged.returncode != 0


def test_local_objects_are_owner_only(sample_server, tmp_path):
    backup(sample_server, tmp_path / "bucket", "tar.gz")
    files = [p for p in (tmp_path / "bucket").rglob("*") if p.is_file()]

    assert any(p.name == "accounts.sql" for p in files) and len(files) >= 4
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {p.name: "0o600" for p in files}


def test_a_corrupt_artifact_without_verify_first_says_partial_once(sample_server, mariadb_factory, tmp_path):
    summary = backup(sample_server, tmp_path / "bucket", "sql.gz")
    artifact = tmp_path / "bucket" / summary["artifact_key"]
    sql = gzip.decompress(artifact.read_bytes())
    damaged = sql.replace(b"INSERT INTO `customers` VALUES", b"INSERT INTO `customers` VALUEZ", 1)
    assert damaged != sql
    artifact.write_bytes(gzip.compress(damaged))  # altered SQL a session fails on, as a damaged byte gives
    target = mariadb_factory()

    restored = run_cli(["restore", "--latest", "--no-verify-first"],
                       {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX, **target.agent_env()})

    assert restored.returncode == 1
    [error_line] = [line for line in restored.stderr.splitlines() if line.startswith("mariadb-ha-backup: error:")]
    assert "rows of table `shop`.`customers`" in error_line
    assert error_line.count("partially restored") == 1


def test_an_account_with_a_host_name_is_named_with_what_is_lost(mariadb_factory, tmp_path):
    server = mariadb_factory()  # test servers run with --skip-name-resolve, like the demo's
    # Reloaded from the grant tables, the server ignores a host-name account under skip-name-resolve.
    server.execute("CREATE USER 'app'@'build-host' IDENTIFIED BY 'x'; FLUSH PRIVILEGES")

    summary = backup(server, tmp_path / "bucket", "tar.gz")

    [warning] = [w for w in summary["warnings"] if "build-host" in w]
    assert "skip_name_resolve" in warning and "1133" in warning
    assert "nobody can log in as it" in warning and "a restore will not create it" in warning
