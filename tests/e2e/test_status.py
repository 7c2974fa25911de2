"""``mariadb-ha-backup status`` as a CronJob, CI job or probe runs it: the exit code is the verdict."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.binlogs.index import write_record
from shared.binlogs.records import GapRecord, SegmentRecord, SourceNode
from shared.layout import parse_backup_id
from shared.storage import open_storage
from tests.support.agent_runs import env_for
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


def seed(bucket: Path, tmp_path: Path, *, hours_ago: float, manifest: bool = True, fmt: str = "tar.gz",
         gtid_state: str | None = None) -> str:
    started = (datetime.now(UTC) - timedelta(hours=hours_ago)).replace(microsecond=0)
    keys = store_backup(open_storage(f"file://{bucket}"), prefix=PREFIX, started=started, fmt=fmt, tmp=tmp_path,
                        manifest=manifest, gtid_state=gtid_state)
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


def _segment(seq: int, start: datetime, end: datetime, *, before: str, after: str) -> SegmentRecord:
    return SegmentRecord(seq=seq, segment=f"{PREFIX}/binlogs/segments/{seq:012d}.binlog", sha1="0" * 40, size=100,
                         transactions=2, first_gtid=before, last_gtid=after, gtid_state_before=before,
                         gtid_state_after=after, first_event_time=_z(start), last_event_time=_z(end), source=NODE,
                         source_file="bin.000001", start_offset=4, end_offset=100, archived_at=_z(end))


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


NODE = SourceNode(host="mariadb-ha", node="galera-0", server_id=1)


def seed_binlogs(bucket: Path, *, now: datetime) -> None:
    """Two gap-free stretches: 40 h to 20 h ago, a purge gap, then 5 h ago to a minute ago."""
    storage = open_storage(f"file://{bucket}")
    hours = [now - timedelta(hours=h) for h in (40, 30, 20)]
    records = [
        _segment(0, hours[0], hours[1], before="0-1-1", after="0-1-5"),
        _segment(1, hours[1], hours[2], before="0-1-5", after="0-1-9"),
        GapRecord(seq=2, from_gtid_state="0-1-9", from_time=_z(hours[2]), to_gtid_state="0-1-20",
                  to_time=_z(now - timedelta(hours=5)), reason="purged before archived", source=NODE,
                  detected_at=_z(now - timedelta(hours=5))),
        _segment(3, now - timedelta(hours=5), now - timedelta(hours=3), before="0-1-20", after="0-1-25"),
        _segment(4, now - timedelta(hours=3), now - timedelta(minutes=1), before="0-1-25", after="0-1-30"),
    ]
    for record in records:
        write_record(storage, PREFIX, record)


def test_status_shows_the_restorable_range_after_the_last_gap(bucket, tmp_path):
    """The window is matched by GTID, as restore --until matches it: the backup at 0-1-27 (inside the
    newest window) starts the range; the one at 0-1-7 lies before the gap; the one at 0-1-22 is timed
    inside the newest window but has no binlog position, so it cannot start a point-in-time restore."""
    now = datetime.now(UTC).replace(microsecond=0)
    seed(bucket, tmp_path, hours_ago=30, gtid_state="0-1-7")  # inside the older window: cut off by the gap
    seed(bucket, tmp_path, hours_ago=4)  # no binlog position
    usable = seed(bucket, tmp_path, hours_ago=2, gtid_state="0-1-27")
    seed_binlogs(bucket, now=now)
    done = run_cli(["status"], env(bucket))
    assert done.returncode == 0, done.stderr
    pitr_line = done.stdout.splitlines()[-1]
    end = _z(now - timedelta(minutes=1))
    assert pitr_line.startswith(f"  pitr        restorable {_z(parse_backup_id(usable))} .. {end} from backup {usable} ")
    assert pitr_line.endswith("; 1 gap(s) recorded)")
    pitr = json.loads(run_cli(["status", "--json"], env(bucket)).stdout)["pitr"]
    assert (pitr["restorable"], pitr["gaps"], pitr["base_backup"]) == (True, 1, usable)
    assert (pitr["restorable_from"], pitr["restorable_until"]) == (_z(parse_backup_id(usable)), end)
    assert (pitr["archived_from"], pitr["archived_until"]) == (_z(now - timedelta(hours=5)), end)
    assert 60 <= pitr["last_archived_age_seconds"] < 120
    # the names status used before (kept as aliases)
    assert (pitr["recoverable"], pitr["recoverable_from"], pitr["recoverable_to"], pitr["archived_to"]) == (
        True, pitr["restorable_from"], end, end)
    # list --json names the same end for the same backup
    listed = {b["id"]: b for b in json.loads(run_cli(["list", "--json"], env(bucket)).stdout)}
    assert listed[usable]["restorable_until"] == pitr["restorable_until"]


def test_status_says_when_no_backup_covers_the_archive(bucket, tmp_path):
    seed(bucket, tmp_path, hours_ago=10, gtid_state="0-1-9")  # before the gap
    seed(bucket, tmp_path, hours_ago=2)  # timed inside the newest window, but no binlog position
    seed_binlogs(bucket, now=datetime.now(UTC))
    done = run_cli(["status"], env(bucket))
    assert done.returncode == 0
    assert "pitr        NOT restorable: binlogs archived until" in done.stdout
    pitr = json.loads(run_cli(["status", "--json"], env(bucket)).stdout)["pitr"]
    assert (pitr["restorable"], pitr["restorable_from"], pitr["recoverable"]) == (False, None, False)


def test_status_without_binlogs_says_pitr_is_off(bucket, tmp_path):
    seed(bucket, tmp_path, hours_ago=1)
    done = run_cli(["status"], env(bucket))
    assert done.stdout.splitlines()[-1] == "  pitr        no binlogs archived (point-in-time recovery is off)"
    assert json.loads(run_cli(["status", "--json"], env(bucket)).stdout)["pitr"] is None


def test_status_says_when_the_newest_backup_is_encrypted(mariadb_server, tmp_path):
    """A real encrypted backup (age recipient from the age CLI): status reads its manifest's encryption."""
    bucket, work = tmp_path / "bucket", tmp_path / "work"
    bucket.mkdir()
    work.mkdir()
    subprocess.run(["age-keygen", "-o", str(tmp_path / "id.txt")], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(tmp_path / "id.txt")], check=True, capture_output=True,
                               text=True).stdout.strip()
    agent_env = env_for(mariadb_server, bucket, work, **env(bucket), BACKUP_ENCRYPT_RECIPIENTS=recipient)
    assert run_cli(["backup"], agent_env).returncode == 0
    done = run_cli(["status"], env(bucket))
    assert done.returncode == 0, done.stderr
    assert ", encrypted" in done.stdout.splitlines()[1]
    assert json.loads(run_cli(["status", "--json"], env(bucket)).stdout)["newest"]["encrypted"] is True
