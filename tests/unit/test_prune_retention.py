"""Retention on a real (local) bucket: what goes, what stays, and the newest complete backup always stays."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from agent.common.catalog import scan_backups
from agent.retention.backups import apply_retention, prune
from shared.storage import Storage, open_storage
from tests.support.backups import store_backup

NOW = datetime(2024, 6, 1, 0, 0, 0, tzinfo=UTC)


@pytest.fixture
def bucket(tmp_path) -> Storage:
    (tmp_path / "bucket").mkdir()
    return open_storage(f"file://{tmp_path / 'bucket'}")


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


def ids(storage: Storage) -> list[str]:
    return [e.backup_id for e in scan_backups(storage, prefix="p")]


def test_seven_backups_keep_last_three_deletes_exactly_the_oldest_four(bucket, tmp_path):
    made = [store_backup(bucket, prefix="p", started=days_ago(n), tmp=tmp_path).backup_id for n in range(7)]

    deleted = apply_retention(bucket, prefix="p", keep_last=3, max_age_days=None, now=NOW)

    assert sorted(deleted) == sorted(made[3:])
    assert ids(bucket) == made[:3]
    assert sorted(p.name for p in (tmp_path / "bucket" / "p").iterdir()) == sorted(made[:3])  # no empty folders


def test_a_single_backup_is_never_deleted_whatever_the_policy(bucket, tmp_path):
    only = store_backup(bucket, prefix="p", started=days_ago(400), tmp=tmp_path).backup_id

    assert apply_retention(bucket, prefix="p", keep_last=1, max_age_days=1, now=NOW) == []
    assert ids(bucket) == [only]


def test_max_age_deletes_older_backups_but_keeps_the_newest_complete_one(bucket, tmp_path):
    made = [store_backup(bucket, prefix="p", started=days_ago(n), tmp=tmp_path).backup_id for n in (40, 20, 10, 2)]

    assert sorted(apply_retention(bucket, prefix="p", keep_last=None, max_age_days=15, now=NOW)) == made[:2]
    assert ids(bucket) == [made[3], made[2]]
    # Everything is older than the limit now: the newest complete backup still stays.
    later = NOW + timedelta(days=100)
    assert apply_retention(bucket, prefix="p", keep_last=None, max_age_days=15, now=later) == [made[2]]
    assert ids(bucket) == [made[3]]


def test_with_both_rules_either_one_deletes(bucket, tmp_path):
    made = [store_backup(bucket, prefix="p", started=days_ago(n), tmp=tmp_path).backup_id for n in (30, 3, 2, 1)]

    deleted = apply_retention(bucket, prefix="p", keep_last=3, max_age_days=2.5, now=NOW)

    assert sorted(deleted) == [made[0], made[1]]  # made[0] by count and age, made[1] by age


def test_incomplete_leftovers_older_than_a_day_are_removed_fresh_ones_and_damaged_kept(bucket, tmp_path):
    complete = store_backup(bucket, prefix="p", started=days_ago(3), tmp=tmp_path).backup_id
    old = store_backup(bucket, prefix="p", started=days_ago(2), tmp=tmp_path, manifest=False)
    fresh = store_backup(bucket, prefix="p", started=NOW - timedelta(hours=1), tmp=tmp_path, manifest=False)
    damaged = store_backup(bucket, prefix="p", started=days_ago(5), tmp=tmp_path)
    (tmp_path / "bucket" / damaged.manifest).write_text("{broken")
    long_ago = days_ago(2).timestamp()
    for path in (tmp_path / "bucket" / "p").rglob("*"):
        if path.is_file() and fresh.backup_id not in str(path):
            os.utime(path, (long_ago, long_ago))

    removals = prune(bucket, prefix="p", keep_last=None, max_age_days=None, now=NOW)

    assert [(r.backup_id, r.state) for r in removals] == [(old.backup_id, "incomplete")]
    assert ids(bucket) == [fresh.backup_id, complete, damaged.backup_id]


def test_recently_written_leftover_with_an_old_id_is_kept(bucket, tmp_path):
    """A folder whose objects were written within the day is not abandoned, whatever its id says."""
    now = datetime.now(UTC)
    store_backup(bucket, prefix="p", started=now - timedelta(days=1), tmp=tmp_path)
    leftover = store_backup(bucket, prefix="p", started=now - timedelta(days=3), tmp=tmp_path, manifest=False)

    assert prune(bucket, prefix="p", keep_last=None, max_age_days=None, now=now) == []
    assert leftover.backup_id in ids(bucket)


def test_dry_run_reports_without_deleting_and_manifest_goes_first(bucket, tmp_path):
    made = [store_backup(bucket, prefix="p", started=days_ago(n), tmp=tmp_path).backup_id for n in range(3)]

    removals = prune(bucket, prefix="p", keep_last=1, max_age_days=None, dry_run=True, now=NOW)

    assert [r.backup_id for r in removals] == made[1:]
    assert all(r.reason == "beyond the newest 1" for r in removals)
    assert all(r.keys[0].endswith("/manifest.json") and len(r.keys) == 3 for r in removals)
    assert ids(bucket) == made
