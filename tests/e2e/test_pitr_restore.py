"""Point-in-time restore on a real binlog-writing mariadbd, through the CLI as a user runs it.

backup (records its binlog position) → more writes: a rotation (FLUSH BINARY LOGS), a DDL, marker rows
in one target second whose state is captured right then (CHECKSUM TABLE), more writes after it →
the binlog archived → ``restore --until`` that second into a fresh server → the same checksums.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared.binlogs.index import iter_history
from shared.binlogs.records import GapRecord
from shared.storage import open_storage
from tests.support.agent_runs import env_for
from tests.support.cli import run_cli
from tests.support.mariadb_server import BINLOG_SERVER_ARGS, table_checksums
from tests.support.pitr import (
    AFTER_BACKUP,
    PREFIX,
    SETUP,
    archive,
    backup,
    history_around_a_second,
    last_archived_second,
    markers,
    target_between_writes,
    writes_in_one_second,
)


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    (tmp_path / "bucket").mkdir()
    (tmp_path / "spool").mkdir()
    return tmp_path / "bucket"


@pytest.mark.parametrize("zone", ["+00:00", "+05:00"], ids=["server-on-utc", "server-on-utc+5"])
def test_restore_until_a_second_equals_the_source_at_that_second(zone, mariadb_factory, bucket, tmp_path):
    source = mariadb_factory(extra_args=(*BINLOG_SERVER_ARGS, f"--default-time-zone={zone}"))
    env = env_for(source, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    manifest, target_second, expected, gtid_at_target = history_around_a_second(source, env, bucket)
    target = mariadb_factory()
    # The time as a user in the server's zone would write it: the offset decides, not the zone of anyone.
    until = target_second.astimezone(timezone(timedelta(hours=int(zone[1:3])))).isoformat()

    done = run_cli(["restore", "--until", until, "--json"], {**env, **target.agent_env()})

    assert done.returncode == 0, done.stderr
    assert table_checksums(target) == expected
    assert markers(target) == ["at"]
    result = json.loads(done.stdout)
    assert result["backup_id"] == manifest.id
    assert result["start_state"] == manifest.binlog.gtid_state  # type: ignore[union-attr]
    assert result["last_time"] == target_second.isoformat()
    assert result["end_state"] == result["last_gtid"] == gtid_at_target
    assert result["segments"] >= 2  # the rotation inside the range
    assert result["transactions"] == 6  # order 3, ALTER, UPDATE, the insert via staging, the 2 at T


def test_human_summary_names_base_backup_gtid_range_and_last_time(binlog_server, mariadb_factory, bucket, tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    binlog_server.execute(SETUP)
    manifest = backup(env)
    binlog_server.execute(AFTER_BACKUP)
    archive(binlog_server, bucket)
    last = binlog_server.execute("SELECT @@gtid_binlog_pos").strip()
    target = mariadb_factory()

    done = run_cli(["restore", "--until", last_archived_second(bucket)], {**env, **target.agent_env()})

    assert done.returncode == 0, done.stderr
    assert f"base backup  {manifest.id}" in done.stdout
    assert f".. {last} " in done.stdout
    assert "last transaction replayed committed at" in done.stdout


def test_manifest_records_the_snapshot_position(binlog_server, mariadb_server, bucket, tmp_path):
    binlog_server.execute(SETUP)
    status = binlog_server.execute("SHOW MASTER STATUS").split("\t")
    gtid = binlog_server.execute("SELECT @@gtid_binlog_pos").strip()

    with_binlog = backup(env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX))
    without = backup(env_for(mariadb_server, bucket, tmp_path / "spool", BACKUP_PREFIX="plain/db"))

    assert with_binlog.binlog is not None
    assert (with_binlog.binlog.gtid_state, with_binlog.binlog.file, with_binlog.binlog.position) == (
        gtid, status[0], int(status[1]))
    assert with_binlog.binlog.server_id == 1
    assert "--master-data=2" in with_binlog.dump_command and "--gtid" in with_binlog.dump_command
    assert without.binlog is None
    assert "--master-data=2" not in without.dump_command


def test_until_later_than_the_archive_is_exit_2_and_writes_nothing(binlog_server, mariadb_factory, bucket, tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    binlog_server.execute(SETUP)
    backup(env)
    binlog_server.execute(AFTER_BACKUP)
    archive(binlog_server, bucket)
    target = mariadb_factory()
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")

    done = run_cli(["restore", "--until", later], {**env, **target.agent_env()})

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "later than the archive reaches" in done.stderr
    assert "shop" not in target.execute("SHOW DATABASES").split()


@pytest.mark.parametrize("rollup_records", [None, 2], ids=["records", "rollups"])
def test_gap_in_the_range_is_exit_2_and_writes_nothing(rollup_records, binlog_server, mariadb_factory, bucket,
                                                       tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    binlog_server.execute(SETUP)
    backup(env)
    binlog_server.execute("INSERT INTO shop.markers VALUES ('archived'); FLUSH BINARY LOGS;")
    archive(binlog_server, bucket)
    binlog_server.execute("INSERT INTO shop.markers VALUES ('purged before archiving'); FLUSH BINARY LOGS;")
    binlog_server.execute("INSERT INTO shop.markers VALUES ('after the gap'); FLUSH BINARY LOGS;")
    newest = binlog_server.execute("SHOW MASTER STATUS").split("\t")[0]
    binlog_server.execute(f"PURGE BINARY LOGS TO '{newest}'")
    time.sleep(1.1)  # the transaction after the gap is in a later second than the purged one
    binlog_server.execute("INSERT INTO shop.markers VALUES ('beyond');")
    archive(binlog_server, bucket, rollup_records=rollup_records)  # the gap inside a rollup, or not
    assert any(isinstance(r, GapRecord) for r in iter_history(open_storage(f"file://{bucket}"), PREFIX))
    target = mariadb_factory()

    done = run_cli(["restore", "--until", last_archived_second(bucket)], {**env, **target.agent_env()})

    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "gap" in done.stderr
    assert "shop" not in target.execute("SHOW DATABASES").split()



@pytest.mark.slow
def test_two_backups_list_drill_and_prune_keep_the_window(binlog_server, mariadb_factory, bucket, tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    binlog_server.execute(SETUP)
    older = backup(env)
    between, expected, _ = writes_in_one_second(binlog_server, "INSERT INTO shop.markers VALUES ('at');")
    time.sleep(1.1)  # nothing else in that second
    binlog_server.execute("FLUSH BINARY LOGS; INSERT INTO shop.orders (id, item) VALUES (7, 'x'); FLUSH BINARY LOGS;")
    time.sleep(1.1)
    newer = backup(env)
    binlog_server.execute("INSERT INTO shop.markers VALUES ('after the newer backup');")
    archive(binlog_server, bucket)
    last = last_archived_second(bucket)

    first_target = mariadb_factory()
    from_older = run_cli(["restore", "--until", between.isoformat(), "--json"], {**env, **first_target.agent_env()})
    listed = run_cli(["list"], env)
    listed_json = run_cli(["list", "--json"], env)
    # The drill's server socket lives in the run dir: the system temp keeps its path under 108 bytes.
    drill = run_cli(["verify", "--restore-test", "--until", last],
                    {k: v for k, v in env.items() if k != "BACKUP_TMPDIR"})
    pruned = run_cli(["prune", "--keep-last", "1", "--json"], env)
    too_old = run_cli(["restore", "--until", between.isoformat()], {**env, **mariadb_factory().agent_env()})
    second_target = mariadb_factory()
    from_newer = run_cli(["restore", "--until", last, "--json"], {**env, **second_target.agent_env()})

    assert from_older.returncode == 0, from_older.stderr
    assert json.loads(from_older.stdout)["backup_id"] == older.id  # the newer one was taken after that second
    assert table_checksums(first_target) == expected
    assert listed.returncode == 0, listed.stderr
    assert f"restorable {older.started_at.replace('+00:00', 'Z')} .. {last}  from backup {older.id}" in listed.stdout
    assert [b["restorable_until"] for b in json.loads(listed_json.stdout)] == [last, last]
    assert drill.returncode == 0, drill.stderr
    assert "point-in-time restore test passed" in drill.stdout and f"base backup  {newer.id}" in drill.stdout
    assert pruned.returncode == 0, pruned.stderr
    removals = {r["backup_id"]: r["keys"] for r in json.loads(pruned.stdout)}
    assert set(removals) == {older.id, "binlogs"}
    # Segment 0 is the only one the newer backup's snapshot holds entirely; its record goes first.
    assert removals["binlogs"] == [f"{PREFIX}/binlogs/index/000000000000.json",
                                   f"{PREFIX}/binlogs/segments/000000000000.binlog"]
    assert too_old.returncode == 2 and "no complete backup with a binlog position" in too_old.stderr
    assert from_newer.returncode == 0, from_newer.stderr
    assert json.loads(from_newer.stdout)["backup_id"] == newer.id
    assert markers(second_target) == ["after the newer backup", "at"]


def test_encrypted_backup_and_segments_restore_to_a_second_only_with_the_identity(binlog_server, mariadb_factory,
                                                                                  bucket, tmp_path):
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True).stdout
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX,
                  BACKUP_ENCRYPT_RECIPIENTS=recipient.strip())
    binlog_server.execute(SETUP)
    backup(env)
    binlog_server.execute(AFTER_BACKUP)
    target_second, expected, _ = target_between_writes(binlog_server, "INSERT INTO shop.markers VALUES ('at');")
    archived = run_cli(["archive-binlogs"], env)
    assert archived.returncode == 0, archived.stderr
    assert all(p.name.endswith(".binlog.age") for p in (bucket / PREFIX / "binlogs" / "segments").iterdir())
    keyless_target, target = mariadb_factory(), mariadb_factory()

    keyless = run_cli(["restore", "--until", target_second.isoformat()], {**env, **keyless_target.agent_env()})
    done = run_cli(["restore", "--until", target_second.isoformat()],
                   {**env, **target.agent_env(), "BACKUP_DECRYPT_IDENTITY_FILE": str(key)})

    assert keyless.returncode == 2 and keyless.stderr.count("\n") == 1 and "encrypted" in keyless.stderr
    assert "shop" not in keyless_target.execute("SHOW DATABASES").split()
    assert done.returncode == 0, done.stderr
    assert table_checksums(target) == expected
