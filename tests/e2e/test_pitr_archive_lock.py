"""Object lock on the binlog archive, on a real S3 (moto with ObjectLockEnabledForBucket) and a real
binlog-writing mariadbd through the CLI: with ``BACKUP_LOCK_DAYS`` the archiver retains every segment,
index record and rollup it writes; ``prune`` deletes the archive's unlocked oldest part and stops at the
first retained rollup, so the retained stretch stays whole and a restore to the second through it equals
the source. Encryption on rollups is as on records: neither holds row data (only segment keys, GTIDs and
times); the segments they name are encrypted (``test_encryption`` / ``test_pitr_restore``). Compaction
never deletes a small segment that is still retained, and retains the compacted segment and its record.

moto 5.2 answers GetObjectRetention with 500 (a moto bug): retention is read with head_object.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.binlogs import layout
from shared.binlogs.compaction import compact_rollup
from shared.binlogs.history import read_history
from shared.binlogs.index import gap_free_windows, iter_history
from shared.binlogs.records import SegmentRecord
from shared.binlogs.rolling import RollupWriter
from shared.storage import open_storage
from shared.storage.object_lock import load_lock_settings, rolling_retainer
from tests.support.archive_from_files import archive_binlog_files, server_binlog_files
from tests.support.cli import run_cli
from tests.support.mariadb_server import table_checksums
from tests.support.pitr import PREFIX, SETUP
from tests.support.storage_servers import unique_bucket_name


@pytest.fixture
def locked_bucket(s3_server):  # type: ignore[no-untyped-def]
    bucket = unique_bucket_name()
    s3_server.client().create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return bucket


def s3_env(s3_server, bucket: str, server, tmp: Path, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    tmp.mkdir(exist_ok=True)
    return {**s3_server.env, "BACKUP_URL": f"s3://{bucket}", "BACKUP_PREFIX": PREFIX, "BACKUP_TMPDIR": str(tmp),
            "BACKUP_RETRY_ATTEMPTS": "2", "BACKUP_RETRY_SECONDS": "5", "BINLOG_ROLLUP_RECORDS": "2",
            **server.agent_env(), **extra}


def archive_keys(s3_server, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    pages = s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                         Prefix=layout.binlogs_root(PREFIX))
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def retention(s3_server, bucket: str, key: str) -> tuple[str | None, datetime | None]:  # type: ignore[no-untyped-def]
    head = s3_server.client().head_object(Bucket=bucket, Key=key)
    return head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")


def archive(env: dict[str, str]) -> None:
    done = run_cli(["archive-binlogs", "--json"], env, timeout=120)
    assert done.returncode == 0, done.stderr


def segments(server, count: int, first_id: int) -> None:  # type: ignore[no-untyped-def]
    for n in range(count):  # one segment each (a flush ends the file the archiver reads)
        server.execute(f"INSERT INTO shop.orders (id, item) VALUES ({first_id + n}, 'x'); FLUSH BINARY LOGS;")


def test_the_archiver_retains_what_it_writes_and_prune_stops_at_the_first_retained_rollup(
        s3_server, locked_bucket, binlog_server, mariadb_factory, tmp_path, monkeypatch):
    plain = s3_env(s3_server, locked_bucket, binlog_server, tmp_path / "spool")
    locked = {**plain, "BACKUP_LOCK_DAYS": "2"}
    binlog_server.execute(SETUP)
    assert run_cli(["backup", "--json"], plain).returncode == 0
    segments(binlog_server, 4, 100)
    archive(plain)  # the archive's older part, written without object lock
    unlocked = set(archive_keys(s3_server, locked_bucket))
    segments(binlog_server, 4, 200)
    time.sleep(1.1)  # backup ids are whole seconds
    newer = run_cli(["backup", "--json"], plain)
    assert newer.returncode == 0, newer.stderr
    segments(binlog_server, 2, 300)
    started = datetime.now(UTC).replace(microsecond=0)
    archive(locked)
    ended = datetime.now(UTC) + timedelta(seconds=1)

    written = set(archive_keys(s3_server, locked_bucket)) - unlocked
    assert {k.split("/")[-2] for k in written} == {"segments", "index", "rollups"}
    for key in written:
        mode, until = retention(s3_server, locked_bucket, key)
        assert mode == "GOVERNANCE" and until is not None, key
        assert started + timedelta(days=2) <= until <= ended + timedelta(days=2), key
    for key in unlocked:
        assert retention(s3_server, locked_bucket, key) == (None, None), key

    pruned = run_cli(["prune", "--keep-last", "1", "--json"], plain)

    assert pruned.returncode == 0, pruned.stderr
    deleted = {r["backup_id"]: r["keys"] for r in json.loads(pruned.stdout)}.get("binlogs", [])
    # The newer backup's snapshot holds the first eight segments: without the lock everything up to
    # its rollup would go. Only the unlocked part goes, oldest first, a rollup before its records.
    assert deleted and set(deleted) <= unlocked and "/rollups/" in deleted[0]
    left = set(archive_keys(s3_server, locked_bucket))
    assert written <= left and not left & set(deleted)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    storage = open_storage(f"s3://{locked_bucket}")
    records = list(iter_history(storage, PREFIX))
    history = read_history(storage, PREFIX)
    assert history.windows == gap_free_windows(records) and history.notes == []
    until = [r for r in records if isinstance(r, SegmentRecord)][-1].last_event_time
    target = mariadb_factory()
    restored = run_cli(["restore", "--until", until, "--json"], {**plain, **target.agent_env()})
    assert restored.returncode == 0, restored.stderr
    assert table_checksums(target) == table_checksums(binlog_server)


def test_a_bucket_without_object_lock_is_bad_input_before_archiving(s3_server, binlog_server, tmp_path):
    bucket = unique_bucket_name()
    s3_server.client().create_bucket(Bucket=bucket)
    binlog_server.execute(SETUP)
    env = s3_env(s3_server, bucket, binlog_server, tmp_path / "spool", BACKUP_LOCK_DAYS="2")

    done = run_cli(["archive-binlogs"], env, timeout=120)

    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "lock" in done.stderr
    assert archive_keys(s3_server, bucket) == []


def test_compaction_keeps_retained_segments_and_retains_what_it_writes(s3_server, locked_bucket, binlog_server,
                                                                       mariadb_factory, tmp_path, monkeypatch):
    env = s3_env(s3_server, locked_bucket, binlog_server, tmp_path / "spool")
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    storage = open_storage(f"s3://{locked_bucket}")
    binlog_server.execute(SETUP)
    assert run_cli(["backup", "--json"], env).returncode == 0
    segments(binlog_server, 1, 100)
    binlog_server.execute("".join(f"INSERT INTO shop.orders (id, item) VALUES ({200 + n}, 'x');" for n in range(5)))
    assert binlog_server.dir is not None
    archive_binlog_files(storage, prefix=PREFIX, files=server_binlog_files(binlog_server.dir / "data"), per_segment=1)
    retain = rolling_retainer(storage, load_lock_settings({"BACKUP_LOCK_DAYS": "2"}))
    small = [k for k in archive_keys(s3_server, locked_bucket) if "/segments/" in k]
    for key in small[: len(small) // 2]:  # the older half is still retained, the newer half not
        retain(key)
    history = read_history(storage, PREFIX)
    rollup = RollupWriter.resume(history, max_records=len(list(iter_history(storage, PREFIX))) - 1).roll()[0]

    done = compact_rollup(storage, PREFIX, rollup.records, retain=retain)

    assert done
    left = set(archive_keys(s3_server, locked_bucket))
    compacted_small = {r.segment for r in rollup.records if isinstance(r, SegmentRecord)
                       and any(c.first_seq <= r.seq <= c.last_seq for c in done)}
    kept, freed = compacted_small & set(small[: len(small) // 2]), compacted_small - set(small[: len(small) // 2])
    assert kept and freed
    assert kept <= left and not freed & left  # retained: kept; free: deleted
    for c in done:
        for key in (c.segment, layout.compaction_key(PREFIX, c.first_seq, c.last_seq)):
            assert retention(s3_server, locked_bucket, key)[0] == "GOVERNANCE", key
    target = mariadb_factory()
    until = [r for r in iter_history(storage, PREFIX) if isinstance(r, SegmentRecord)][-1].last_event_time
    restored = run_cli(["restore", "--until", until, "--json"], {**env, **target.agent_env()})
    assert restored.returncode == 0, restored.stderr
    assert table_checksums(target) == table_checksums(binlog_server)
