"""Rollups under the point-in-time tests, on a real binlog-writing mariadbd through the CLI: a restore to
the second through rollups (intact, damaged, missing) equals the source at that second; a gap inside a
rollup still refuses (``test_pitr_restore``); prune deletes whole rollups with their records; the archiver writes rollups, and
its first run over an archive written before rollups existed writes the missing ones."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shared.binlogs import layout
from shared.binlogs.history import read_history
from shared.binlogs.index import gap_free_windows, iter_history
from shared.storage import open_storage
from tests.support import pitr
from tests.support.agent_runs import env_for
from tests.support.cli import run_cli
from tests.support.mariadb_server import table_checksums
from tests.support.pitr import PREFIX, SETUP, archive, backup, last_archived_second, markers


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    for name in ("bucket", "spool"):
        (tmp_path / name).mkdir()
    return tmp_path / "bucket"


def rollups(bucket: Path) -> list[Path]:
    return sorted((bucket / layout.folder_prefix(PREFIX, layout.ROLLUPS)).glob("*.json"))


def agrees_with_records(bucket: Path) -> None:
    """What readers get through the rollups is what the records alone say."""
    storage = open_storage(f"file://{bucket}")
    records = list(iter_history(storage, PREFIX))
    history = read_history(storage, PREFIX)
    assert history.windows == gap_free_windows(records) and history.last == records[-1]
    assert list(history.records(records[0].seq)) == records


@pytest.mark.parametrize("damage", ["none", "edited", "deleted"])
def test_restore_until_a_second_through_rollups_equals_the_source(damage, binlog_server, mariadb_factory, bucket,
                                                                  tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    # One rollup per record: every segment goes through one.
    manifest, target_second, expected, gtid_at_target = pitr.history_around_a_second(binlog_server, env, bucket,
                                                                                      rollup_records=1)
    assert len(rollups(bucket)) >= 3
    agrees_with_records(bucket)
    middle = rollups(bucket)[1]
    if damage == "edited":  # valid JSON, plausible, but not what the record says: its checksum tells
        body = json.loads(middle.read_bytes())
        body["records"][0]["sha1"] = "f" * 40
        middle.write_text(json.dumps(body))
    elif damage == "deleted":
        middle.unlink()
    target = mariadb_factory()

    done = run_cli(["restore", "--until", target_second.isoformat(), "--json"], {**env, **target.agent_env()})

    assert done.returncode == 0, done.stderr
    assert table_checksums(target) == expected and markers(target) == ["at"]
    result = json.loads(done.stdout)
    assert result["backup_id"] == manifest.id and result["end_state"] == gtid_at_target
    name = "-".join(str(int(part)) for part in middle.name.removesuffix(".json").split("-"))
    if damage == "edited":
        assert f"rollup {name} does not match its checksum" in done.stderr
    elif damage == "deleted":
        assert f"rollups are missing for seq {name}" in done.stderr
    else:
        assert "rollup" not in done.stderr


def test_prune_deletes_whole_rollups_with_their_records_and_the_window_starts_after_them(
        binlog_server, mariadb_factory, bucket, tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    binlog_server.execute(SETUP)
    backup(env)
    for n in range(4):  # four segments the newer backup's snapshot holds
        binlog_server.execute(f"INSERT INTO shop.orders (id, item) VALUES ({100 + n}, 'x'); FLUSH BINARY LOGS;")
    time.sleep(1.1)
    newer = backup(env)
    binlog_server.execute("INSERT INTO shop.markers VALUES ('after the newer backup');")
    archive(binlog_server, bucket, rollup_records=2)
    before = [p.name for p in rollups(bucket)]

    pruned = run_cli(["prune", "--keep-last", "1", "--json"], env)

    assert pruned.returncode == 0, pruned.stderr
    keys = {r["backup_id"]: r["keys"] for r in json.loads(pruned.stdout)}["binlogs"]
    gone = [k for k in keys if "/rollups/" in k]
    assert gone and keys[0] == gone[0]  # a rollup goes before the records it holds
    assert [p.name for p in rollups(bucket)] == before[len(gone):]  # whole rollups, oldest first
    for key in keys:
        assert not (bucket / key).exists()
    agrees_with_records(bucket)  # no window claims a segment that is gone
    target = mariadb_factory()
    done = run_cli(["restore", "--until", last_archived_second(bucket), "--json"], {**env, **target.agent_env()})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["backup_id"] == newer.id
    assert "after the newer backup" in markers(target)


def test_the_archiver_rolls_up_and_its_first_run_over_an_older_archive_writes_the_missing_rollups(
        binlog_server, bucket, tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX, BINLOG_ROLLUP_RECORDS="2")
    binlog_server.execute(SETUP)
    for n in range(5):
        binlog_server.execute(f"INSERT INTO shop.orders (id, item) VALUES ({200 + n}, 'x'); FLUSH BINARY LOGS;")
    archive(binlog_server, bucket)  # as the previous version left it: records only
    assert rollups(bucket) == []
    binlog_server.execute("INSERT INTO shop.orders (id, item) VALUES (300, 'new')")

    done = run_cli(["archive-binlogs", "--json"], env, timeout=120)

    assert done.returncode == 0, done.stderr
    records = list(iter_history(open_storage(f"file://{bucket}"), PREFIX))
    assert len(records) >= 6
    # Every record but the last pending group (the cap, 2, has not been reached) is in a rollup.
    covered = [tuple(map(int, p.name.removesuffix(".json").split("-"))) for p in rollups(bucket)]
    assert covered[0][0] == records[0].seq and covered[-1][1] >= records[-1].seq - 1
    assert all(last - first == 1 for first, last in covered)
    agrees_with_records(bucket)
    listed = run_cli(["list"], env)
    assert listed.returncode == 0 and f"binlog archive: {len(records)} segment(s), 0 gap(s)" in listed.stdout
