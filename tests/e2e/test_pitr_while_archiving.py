"""The RPO claim, end to end: while ``archive-binlogs --follow`` keeps running, the newest second it has
archived restores, and equals the source's state at that second (CHECKSUM TABLE)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.agent_runs import env_for, wait_for
from tests.support.cli import run_cli, running_cli
from tests.support.mariadb_server import table_checksums
from tests.support.pitr import PREFIX, SETUP, backup, last_archived_second, writes_in_one_second

pytestmark = pytest.mark.slow


def backed_up_source(binlog_server, tmp_path) -> tuple[Path, dict[str, str]]:
    """The workload's setup, one backup of it, and the environment for the archiver (2 s uploads)."""
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    (tmp_path / "spool").mkdir()
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX, BINLOG_UPLOAD_SECONDS="2")
    binlog_server.execute(SETUP)
    backup(env)
    return bucket, env


def test_newest_archived_second_restores_while_the_archiver_runs(binlog_server, mariadb_factory, tmp_path):
    bucket, env = backed_up_source(binlog_server, tmp_path)
    with running_cli(["archive-binlogs", "--follow"], env) as archiver:
        newest, expected, _ = writes_in_one_second(binlog_server, "INSERT INTO shop.markers VALUES ('at');")
        committed = time.monotonic()
        wait_for(lambda: last_archived_second(bucket) == newest.strftime("%Y-%m-%dT%H:%M:%SZ"), timeout=30)
        lag = time.monotonic() - committed
        target = mariadb_factory()
        done = run_cli(["restore", "--until", newest.isoformat()], {**env, **target.agent_env()})
    assert archiver.still_running and archiver.exit_code == 0
    assert done.returncode == 0, done.stderr
    assert table_checksums(target) == expected
    assert lag <= 2 + 5, f"archived {lag:.1f} s after the commit"  # BINLOG_UPLOAD_SECONDS plus slack
    assert datetime.now(UTC) > newest


def test_an_idle_archive_restores_to_now_and_to_latest(binlog_server, mariadb_factory, tmp_path):
    """An idle database: the archiver's checkpoint carries the window up to about now, so a second after
    the last write (and ``--until latest``) restores; ``status`` and ``list`` show the same end."""
    bucket, env = backed_up_source(binlog_server, tmp_path)
    with running_cli(["archive-binlogs", "--follow"], env) as archiver:
        newest, expected, _ = writes_in_one_second(binlog_server, "INSERT INTO shop.markers VALUES ('last');")
        wait_for(lambda: last_archived_second(bucket) == newest.strftime("%Y-%m-%dT%H:%M:%SZ"), timeout=30)
        time.sleep(8)  # idle: no write for several upload intervals
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=3)  # "now minus the upload interval"
        to_now, to_latest = mariadb_factory(), mariadb_factory()
        at_now = run_cli(["restore", "--until", now.isoformat()], {**env, **to_now.agent_env()})
        at_latest = run_cli(["restore", "--until", "latest"], {**env, **to_latest.agent_env()})
        status = run_cli(["status", "--json"], env)
    assert archiver.still_running and archiver.exit_code == 0
    assert at_now.returncode == 0, at_now.stderr
    assert at_latest.returncode == 0, at_latest.stderr
    assert table_checksums(to_now) == table_checksums(to_latest) == expected
    reach = datetime.fromisoformat(json.loads(status.stdout)["pitr"]["restorable_until"].replace("Z", "+00:00"))
    assert reach >= now > newest
