"""Finding backups in a bucket and picking one: by id, --latest, --at; leftovers and damage told apart."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent.common.catalog import (
    COMPLETE,
    DAMAGED,
    INCOMPLETE,
    NoSuchBackupError,
    scan_backups,
    select_backup,
)
from shared.errors import EXIT_BAD_INPUT, BadInputError
from shared.storage import Storage, open_storage
from tests.support.backups import store_backup


@pytest.fixture
def bucket(tmp_path) -> Storage:
    (tmp_path / "bucket").mkdir()
    return open_storage(f"file://{tmp_path / 'bucket'}")


T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def three_backups(storage, tmp_path):
    for hours in (0, 1, 2):
        store_backup(storage, prefix="a/b", started=T0 + timedelta(hours=hours), tmp=tmp_path)


def test_scan_lists_newest_first_and_tells_leftovers_and_damage_apart(bucket, tmp_path):
    three_backups(bucket, tmp_path)
    store_backup(bucket, prefix="a/b", started=T0 + timedelta(hours=5), tmp=tmp_path, manifest=False)
    damaged = store_backup(bucket, prefix="a/b", started=T0 + timedelta(hours=4), tmp=tmp_path)
    bucket.put(damaged.manifest, io.BytesIO(b"{not json"))
    bucket.put("a/b/notes/readme.txt", io.BytesIO(b"not a backup folder"))
    store_backup(bucket, prefix="a/other", started=T0, tmp=tmp_path)  # another cluster's prefix

    entries = scan_backups(bucket, prefix="a/b")

    assert [(e.backup_id, e.state) for e in entries] == [
        ("20240501T170000Z", INCOMPLETE), ("20240501T160000Z", DAMAGED), ("20240501T140000Z", COMPLETE),
        ("20240501T130000Z", COMPLETE), ("20240501T120000Z", COMPLETE)]
    assert entries[1].problem is not None and "manifest is not valid" in entries[1].problem
    assert entries[2].manifest is not None and entries[2].manifest.id == "20240501T140000Z"


def test_select_by_id_latest_and_at(bucket, tmp_path):
    three_backups(bucket, tmp_path)
    entries = scan_backups(bucket, prefix="a/b")

    assert select_backup(entries, latest=True).backup_id == "20240501T140000Z"
    assert select_backup(entries, backup_id="20240501T130000Z").backup_id == "20240501T130000Z"
    assert select_backup(entries, at=T0 + timedelta(hours=1, minutes=59)).backup_id == "20240501T130000Z"
    assert select_backup(entries, at=T0 + timedelta(hours=1)).backup_id == "20240501T130000Z"  # "at or before"
    with pytest.raises(NoSuchBackupError, match="no complete backup at or before 20240501T115959Z; the oldest is"):
        select_backup(entries, at=T0 - timedelta(seconds=1))


def test_unusable_choices_are_bad_input(bucket, tmp_path):
    three_backups(bucket, tmp_path)
    store_backup(bucket, prefix="a/b", started=T0 + timedelta(hours=9), tmp=tmp_path, manifest=False)
    entries = scan_backups(bucket, prefix="a/b")

    cases: list[tuple[dict[str, Any], str]] = [
        ({"backup_id": "20230101T000000Z"}, "no backup 20230101T000000Z under this prefix"),
        ({"backup_id": "20240501T210000Z"}, "is incomplete"),
        ({"backup_id": "../../etc"}, "is not of the form"),
        ({}, "say which backup"),
    ]
    for kwargs, message in cases:
        with pytest.raises(BadInputError, match=message) as caught:
            select_backup(entries, **kwargs)
        assert caught.value.exit_code == EXIT_BAD_INPUT
    assert select_backup(entries, latest=True).backup_id == "20240501T140000Z"  # the leftover is never chosen
    with pytest.raises(NoSuchBackupError, match="there is no complete backup"):
        select_backup([], latest=True)

