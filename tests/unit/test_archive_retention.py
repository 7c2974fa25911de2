"""Object lock in the archiver's write path, in-process on local storage (the real S3 lock is tested in
tests/e2e/test_pitr_archive_lock.py): a segment is retained before its index record exists, the record
and each rollup right after theirs; a record whose retention fails is logged and archiving goes on; a
rollup whose retention failed is retained on the next try without being taken for someone else's."""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.pitr.archiver.segmenter import ArchivePosition, Segmenter
from shared.binlogs import layout, rolling
from shared.binlogs.rolling import RollupWriter
from shared.storage.base import TransientStorageError
from shared.storage.local import LocalStorage
from tests.support.synthetic_archive import SyntheticArchive
from tests.unit.test_segmenter import NODE, PREFIX, transactions


class Retainer:
    """Records what was retained and whether its commit marker already existed at that moment."""

    def __init__(self, root: Path, *, fail: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.root, self.fail = root, set(fail)
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, key: str) -> None:
        seq = layout.seq_of(key)
        marker = layout.index_key(PREFIX, seq) if seq is not None else key
        self.calls.append((key, (self.root / marker).exists()))
        if key in self.fail:
            self.fail.discard(key)
            raise TransientStorageError(f"retention of {key} refused (retries spent)")


def test_a_segment_is_retained_before_its_record_and_a_failed_record_retention_is_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fde, found = transactions()
    retain = Retainer(tmp_path, fail={layout.index_key(PREFIX, 0)})
    seg = Segmenter(LocalStorage(tmp_path), prefix=PREFIX, position=ArchivePosition(0, {}, None),
                    cut_after_seconds=3600, retain=retain)
    for start in (0, 3):
        for t in found[start:start + 3]:
            seg.add(t, source=NODE, source_file="bin.000001", format_description=fde)
        with caplog.at_level(logging.ERROR, logger="mariadb_ha_backup.archive"):
            assert seg.flush() is not None

    assert retain.calls == [(layout.segment_key(PREFIX, 0), False), (layout.index_key(PREFIX, 0), True),
                            (layout.segment_key(PREFIX, 1), False), (layout.index_key(PREFIX, 1), True)]
    assert seg.position.seq == 2  # the record whose retention failed stays committed, archiving went on
    assert [r.message for r in caplog.records] == [
        f"binlog archive record {layout.index_key(PREFIX, 0)} is not retained: retention of "
        f"{layout.index_key(PREFIX, 0)} refused (retries spent)"]


def test_a_rollup_whose_retention_failed_is_retained_on_the_next_try(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    moments = itertools.count()  # each attempt writes another created_at, as a retry a second later would
    monkeypatch.setattr(rolling, "format_time", lambda moment: f"2026-01-02T00:00:{next(moments):02d}Z")
    storage = LocalStorage(tmp_path)
    records = SyntheticArchive(prefix=PREFIX, start=datetime(2026, 1, 1, tzinfo=UTC),
                               every=timedelta(minutes=1)).write(storage, 5)
    key = layout.rollup_key(PREFIX, 0, 1)
    retain = Retainer(tmp_path, fail={key})
    writer = RollupWriter(storage, prefix=PREFIX, previous=None, pending=records, max_records=2, retain=retain)

    with pytest.raises(TransientStorageError):
        writer.roll()
    with caplog.at_level(logging.ERROR, logger="mariadb_ha_backup.archive"):
        done = writer.roll()

    assert [(r.first_seq, r.last_seq) for r in done] == [(0, 1), (2, 3)]
    assert [k for k, _ in retain.calls] == [key, key, layout.rollup_key(PREFIX, 2, 3)]
    assert caplog.records == []  # its own earlier write, not another archiver's rollup
