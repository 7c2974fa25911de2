"""A 5 MiB tmpfs as BACKUP_TMPDIR: enough for a tar.gz of a larger dump (no spool); a full bucket disk fails clearly."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.agent_runs import env_for
from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mountpoint = Path(tempfile.mkdtemp(prefix="small-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)
        mountpoint.rmdir()


@pytest.fixture
def random_rows(mariadb_server: TestServer) -> TestServer:
    # ~12 MiB of random bytes: the tar.gz is larger than the 5 MiB tmpfs.
    mariadb_server.execute(
        "CREATE DATABASE IF NOT EXISTS bulk; USE bulk; "
        "CREATE TABLE IF NOT EXISTS blobs (id INT PRIMARY KEY, payload VARBINARY(1024));"
        "INSERT IGNORE INTO blobs SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_12000;"
    )
    return mariadb_server


def test_targz_needs_no_spool_a_5_mib_temp_volume_is_enough(random_rows: TestServer, small_disk, tmp_path):
    bucket = tmp_path / "bucket"
    bucket.mkdir()

    done = run_cli(["backup", "--json"], env_for(random_rows, bucket, small_disk))

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["compressed_bytes"] > 12 * 1024 * 1024  # more than the temp volume could ever hold
    folder = (bucket / summary["artifact_key"]).parent
    check = subprocess.run(["sha1sum", "-c", "mariadb-ha-backup.tar.gz.sha1"], cwd=folder, capture_output=True, text=True)
    assert check.stdout.strip() == "mariadb-ha-backup.tar.gz: OK", check.stdout + check.stderr
    assert list(small_disk.iterdir()) == []


def test_full_bucket_disk_fails_clearly_and_leaves_nothing(random_rows: TestServer, small_disk, tmp_path):
    done = run_cli(["backup"], env_for(random_rows, small_disk, tmp_path))

    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mariadb-ha-backup: error:") and "no space left for" in last, done.stderr
    assert "Traceback" not in done.stderr
    assert [p for p in small_disk.rglob("*") if p.is_file()] == []
    assert list(tmp_path.iterdir()) == []
