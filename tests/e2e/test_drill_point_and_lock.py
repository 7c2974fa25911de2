"""``drill --point`` on a real binlog archive: the newest archived second restored into the given server
(the base backup loaded, the archive replayed to its end) equals the source, and its record sits beside
the base backup. And on a real S3 with object lock (moto): drill.json is retained like the backup."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from shared.layout import parse_backup_id
from tests.support.agent_runs import env_for
from tests.support.cli import run_cli
from tests.support.mariadb_server import table_checksums
from tests.support.pitr import AFTER_BACKUP, PREFIX, SETUP, archive, backup, last_archived_second
from tests.support.storage_servers import unique_bucket_name


@pytest.mark.slow
def test_point_drill_restores_the_archives_last_second_into_the_given_server(
        binlog_server, empty_drill_server, tmp_path):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    (tmp_path / "spool").mkdir()
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    binlog_server.execute(SETUP)
    base = backup(env)
    binlog_server.execute(AFTER_BACKUP)
    archive(binlog_server, bucket)
    last = last_archived_second(bucket)

    done = run_cli(["drill", "--point", "--json"], {**env, "DRILL_SERVER": empty_drill_server.address})

    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["kind"], record["backup_id"], record["until"], record["passed"]) == ("point", base.id, last, True)
    assert record["checked"]["transactions replayed"] >= 1 and record["restore_seconds"] > 0
    assert json.loads(Path(bucket, PREFIX, base.id, "drill.json").read_text()) == record
    # Everything archived was replayed: the drill server holds what the source holds now.
    assert table_checksums(empty_drill_server) == table_checksums(binlog_server)


def test_point_drill_without_an_archive_says_so_and_records_nothing(sample_server, tmp_path):
    (tmp_path / "bucket").mkdir()
    (tmp_path / "spool").mkdir()
    env = env_for(sample_server, tmp_path / "bucket", tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    summary = backup(env)

    done = run_cli(["drill", "--point"], env)

    assert done.returncode == 1
    assert "no point near the archive's end" in done.stderr.splitlines()[-1]
    assert not list(Path(tmp_path / "bucket", PREFIX, summary.id).glob("drill*.json"))


def test_drill_record_is_created_once_and_retained_like_the_backup(s3_server, sample_server, empty_drill_server,
                                                                   tmp_path):
    bucket = unique_bucket_name()
    client = s3_server.client()
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    env = {**s3_server.env, "BACKUP_URL": f"s3://{bucket}", "BACKUP_PREFIX": PREFIX, "BACKUP_LOCK_DAYS": "3"}
    done = run_cli(["backup", "--json"], {**env, **sample_server.agent_env()})
    assert done.returncode == 0, done.stderr
    backup_id = json.loads(done.stdout)["backup_id"]

    drilled = run_cli(["drill", "--json"], {**env, "DRILL_SERVER": empty_drill_server.address})

    assert drilled.returncode == 0, drilled.stderr
    key = f"{PREFIX}/{backup_id}/drill.json"
    head = client.head_object(Bucket=bucket, Key=key)
    expected = parse_backup_id(backup_id) + timedelta(days=3)
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("GOVERNANCE", expected)
    assert json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read()) == json.loads(drilled.stdout)
