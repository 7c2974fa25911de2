"""``mariadb-ha-backup status`` as a CronJob, CI job or probe runs it: the exit code is the verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.storage import open_storage
from tests.support.backups import SQL, store_backup
from tests.support.cli import run_cli

PREFIX = "mariadb-ha-backup/shop/mariadb-ha"


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    path = tmp_path / "bucket"
    path.mkdir()
    return path


def env(bucket: Path, **extra: str) -> dict[str, str]:
    return {"CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(bucket), "CELL_DEFAULT_NAMESPACE": "shop",
            "MARIADB_HA_SERVICE_NAME": "mariadb-ha", **extra}


def seed(bucket: Path, tmp_path: Path, *, hours_ago: float, manifest: bool = True, fmt: str = "tar.gz") -> str:
    started = (datetime.now(UTC) - timedelta(hours=hours_ago)).replace(microsecond=0)
    keys = store_backup(open_storage(f"file://{bucket}"), prefix=PREFIX, started=started, fmt=fmt, tmp=tmp_path,
                        manifest=manifest)
    return keys.backup_id


def test_empty_bucket_is_exit_1(bucket):
    done = run_cli(["status"], env(bucket))
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("NONE: no complete backup under file://")
    as_json = json.loads(run_cli(["status", "--json"], env(bucket)).stdout)
    assert (as_json["verdict"], as_json["newest"]) == ("none", None)


def test_fresh_backup_is_exit_0_with_its_details(bucket, tmp_path):
    seed(bucket, tmp_path, hours_ago=30)
    newest = seed(bucket, tmp_path, hours_ago=2, fmt="sql.zst")
    done = run_cli(["status"], env(bucket))
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"OK: newest complete backup {newest} is 2h") and first.endswith("(max age 1d 2h)")
    assert "sql.zst, not encrypted" in done.stdout
    report = json.loads(run_cli(["status", "--json"], env(bucket)).stdout)
    assert report["verdict"] == "ok" and report["max_age_seconds"] == 26 * 3600
    assert report["newest"]["id"] == newest and report["newest"]["raw_bytes"] == len(SQL)
    assert 2 * 3600 <= report["newest"]["age_seconds"] < 2 * 3600 + 60
    assert report["newest"]["encrypted"] is False


def test_stale_backup_is_exit_1_and_max_age_comes_from_flag_or_env(bucket, tmp_path):
    newest = seed(bucket, tmp_path, hours_ago=30)
    failed = seed(bucket, tmp_path, hours_ago=3, manifest=False)  # a later run that never committed
    done = run_cli(["status"], env(bucket))
    assert done.returncode == 1
    assert done.stdout.startswith(f"STALE: newest complete backup {newest} is 1d 6h old")
    assert f"newer incomplete or damaged backups: 1 ({failed})" in done.stdout
    assert run_cli(["status", "--max-age", "2d"], env(bucket)).returncode == 0
    assert run_cli(["status"], env(bucket, BACKUP_MAX_AGE="31h")).returncode == 0
    assert run_cli(["status", "--max-age", "90s"], env(bucket, BACKUP_MAX_AGE="7d")).returncode == 1  # flag wins


@pytest.mark.parametrize("value", ["26", "1w", "-5h", "0s", "h"])
def test_bad_max_age_is_one_line_and_exit_2(bucket, value):
    done = run_cli(["status", f"--max-age={value}"], env(bucket))
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert "--max-age must be a positive duration like 90s, 30m, 26h or 7d" in line


def test_missing_bucket_is_exit_2(tmp_path):
    done = run_cli(["status"], env(tmp_path / "missing"))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
