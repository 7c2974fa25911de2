"""The spool's disk fills up (a 5 MiB tmpfs as BACKUP_TMPDIR): a clear error, cleanup, nothing committed."""

from __future__ import annotations

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


def test_disk_full_while_spooling_fails_clearly_and_cleans_up(mariadb_server: TestServer, small_disk, tmp_path):
    # ~12 MiB of random bytes: compresses to more than the 5 MiB the spool may use.
    mariadb_server.execute(
        "CREATE DATABASE bulk; USE bulk; CREATE TABLE blobs (id INT PRIMARY KEY, payload VARBINARY(1024));"
        "INSERT INTO blobs SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_12000;"
    )
    bucket = tmp_path / "bucket"
    bucket.mkdir()

    done = run_cli(["backup"], env_for(mariadb_server, bucket, small_disk))

    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mariadb-ha-backup: error:") and "no space left for the spool" in last and "BACKUP_TMPDIR" in last, done.stderr
    assert "Traceback" not in done.stderr
    assert list(small_disk.iterdir()) == []
    assert [p for p in bucket.rglob("*") if p.is_file()] == []
