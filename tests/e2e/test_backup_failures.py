"""Failures a user will meet: each gets the documented exit code and one clear line, commits
nothing (no manifest, no artifact) and leaves no temp files behind."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from agent.drill.throwaway_server import free_port
from tests.support.agent_runs import dump_children, env_for, hold_table_lock, wait_for
from tests.support.cli import run_cli, start_cli


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    return bucket, tmp


def assert_nothing_left(bucket: Path, tmp: Path) -> None:
    assert [p for p in bucket.rglob("*") if p.is_file()] == []
    assert list(tmp.iterdir()) == []


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_wrong_password_is_bad_input(mariadb_server, dirs):
    bucket, tmp = dirs
    done = run_cli(["backup"], env_for(mariadb_server, bucket, tmp, MARIADB_PASSWORD="not-the-password"))
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "refused the credentials" in line and "not-the-password" not in line
    assert_nothing_left(bucket, tmp)


def test_unreachable_host_fails_after_retries(mariadb_server, dirs):
    bucket, tmp = dirs
    env = env_for(mariadb_server, bucket, tmp, MARIADB_PORT=str(free_port()))
    started = time.monotonic()
    done = run_cli(["backup"], env)
    assert done.returncode == 1
    assert "connection failed" in done.stderr.splitlines()[-1]
    retries = [json.loads(line) for line in done.stderr.splitlines() if '"event": "retry"' in line]
    assert len(retries) == 1  # two attempts in all
    assert time.monotonic() - started < 30
    assert_nothing_left(bucket, tmp)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"CLOUD_PROVIDER": "ftp"}, "CLOUD_PROVIDER must be one of"),
        ({"CLOUD_PROVIDER": "aws"}, "CLOUD_PROVIDER=aws needs S3_BUCKET"),
        ({"BACKUP_URL": "s3://Bad_Bucket"}, "is not an S3 bucket name"),
        ({"BACKUP_PREFIX": "../escape"}, "is not a valid key prefix"),
        ({"BACKUP_FORMAT": "rar"}, "BACKUP_FORMAT must be one of"),
        ({"MARIADB_PORT": "99999"}, "MARIADB_PORT must be between"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(mariadb_server, dirs, setting, message):
    bucket, tmp = dirs
    done = run_cli(["backup"], env_for(mariadb_server, bucket, tmp, **setting))
    assert done.returncode == 2
    assert message in one_error_line(done.stderr)
    assert_nothing_left(bucket, tmp)


def test_missing_bucket_is_bad_input(mariadb_server, dirs):
    bucket, tmp = dirs
    done = run_cli(["backup"], env_for(mariadb_server, bucket / "missing", tmp))
    assert done.returncode == 2
    assert "does not exist" in one_error_line(done.stderr)
    assert not (bucket / "missing").exists()
    assert_nothing_left(bucket, tmp)


def test_unknown_flag_is_usage_error(dirs):
    done = run_cli(["backup", "--no-such-flag"], {})
    assert done.returncode == 2
    assert "unrecognized arguments" in one_error_line(done.stderr)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_dump_cleans_up(sample_server, dirs, signum):
    bucket, tmp = dirs
    holder = hold_table_lock(sample_server, "shop.products")
    try:
        agent = start_cli(["backup"], env_for(sample_server, bucket, tmp))
        wait_for(lambda: dump_children(agent.pid) and any(bucket.rglob("*.partial-*")))  # the upload has begun
        dump_pid = dump_children(agent.pid)[0]
        time.sleep(0.3)  # the dump is now blocked on the locked table, mid-stream
        agent.send_signal(signum)
        _, stderr = agent.communicate(timeout=30)
    finally:
        holder.kill()
        holder.wait()
    assert agent.returncode == 128 + signum
    assert "Traceback" not in stderr
    assert_nothing_left(bucket, tmp)
    wait_for(lambda: not Path(f"/proc/{dump_pid}").exists(), timeout=10)


def test_storage_unreachable_fails_after_retries(mariadb_server, dirs):
    _, tmp = dirs
    dead = f"http://127.0.0.1:{free_port()}"
    env = env_for(mariadb_server, tmp / "unused", tmp, BACKUP_URL="s3://backups-bucket", AWS_ENDPOINT_URL=dead,
                  AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="sekrit-aws-key-123", AWS_REGION="us-east-1")
    started = time.monotonic()
    done = run_cli(["backup"], env)
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mariadb-ha-backup: error:") and "Traceback" not in done.stderr
    assert "sekrit-aws-key-123" not in done.stderr  # no credentials echoed
    assert time.monotonic() - started < 60
    assert list(tmp.iterdir()) == []
