"""The RPO claim, end to end: while ``archive-binlogs --follow`` keeps running, the newest second it has
archived restores, and equals the source's state at that second (CHECKSUM TABLE)."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime

import pytest

from tests.support.agent_runs import env_for, wait_for
from tests.support.cli import run_cli, start_cli
from tests.support.mariadb_server import table_checksums
from tests.support.pitr import PREFIX, SETUP, backup, last_archived_second, writes_in_one_second

pytestmark = pytest.mark.slow


def test_newest_archived_second_restores_while_the_archiver_runs(binlog_server, mariadb_factory, tmp_path):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    (tmp_path / "spool").mkdir()
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX, BINLOG_UPLOAD_SECONDS="2")
    binlog_server.execute(SETUP)
    backup(env)
    archiver = start_cli(["archive-binlogs", "--follow"], env)
    try:
        newest, expected, _ = writes_in_one_second(binlog_server, "INSERT INTO shop.markers VALUES ('at');")
        committed = time.monotonic()
        wait_for(lambda: last_archived_second(bucket) == newest.strftime("%Y-%m-%dT%H:%M:%SZ"), timeout=30)
        lag = time.monotonic() - committed
        target = mariadb_factory()
        done = run_cli(["restore", "--until", newest.isoformat()], {**env, **target.agent_env()})
        still_running = archiver.poll() is None
    finally:
        archiver.send_signal(signal.SIGTERM)
        stopped = archiver.wait(timeout=60)
    assert still_running and stopped == 0
    assert done.returncode == 0, done.stderr
    assert table_checksums(target) == expected
    assert lag <= 2 + 5, f"archived {lag:.1f} s after the commit"  # BINLOG_UPLOAD_SECONDS plus slack
    assert datetime.now(UTC) > newest
