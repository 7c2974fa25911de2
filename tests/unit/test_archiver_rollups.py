"""The archiver's rollups: the catch-up runs beside the stream, and what is committed meanwhile is
rolled up after it, in order."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.pitr.archiver.rolling import Rollups
from agent.pitr.windows import read_archive, windows_text
from shared.binlogs import layout
from shared.binlogs.history import read_history
from shared.binlogs.index import gap_free_windows, iter_history
from shared.storage.local import LocalStorage
from tests.support.synthetic_archive import CountingStorage, SyntheticArchive

PREFIX = "mariadb-ha-backup/ns/db"
ARCHIVE = SyntheticArchive(prefix=PREFIX, start=datetime(2026, 1, 1, tzinfo=UTC), every=timedelta(seconds=30))


class HeldStorage(CountingStorage):
    """Reads wait until ``go`` is set: the catch-up is still running while the archiver commits."""

    go: threading.Event

    def open_read(self, key: str) -> object:
        self.go.wait(10)
        return super().open_read(key)


def test_commits_during_the_catch_up_are_rolled_up_after_it_in_order(tmp_path: Path) -> None:
    storage = HeldStorage(LocalStorage(tmp_path))
    storage.go = threading.Event()
    ARCHIVE.write(storage, 300)  # an archive from before rollups: two closed hours and a half
    history = read_history(storage.inner, PREFIX)
    rollups = Rollups(history, max_records=1000)
    for record in ARCHIVE.write(storage, 500, first_seq=300):  # the stream goes on meanwhile
        rollups.committed(record)
    storage.go.set()
    rollups.close()
    names = sorted(p.name for p in (tmp_path / layout.folder_prefix(PREFIX, layout.ROLLUPS)).glob("*.json"))
    assert names[:2] == ["000000000000-000000000119.json", "000000000120-000000000239.json"]
    assert names[-1] == "000000000360-000000000479.json" and len(names) == 4  # 480.. is the open hour
    through_rollups = read_history(storage.inner, PREFIX)
    assert through_rollups.windows == gap_free_windows(list(iter_history(storage.inner, PREFIX)))


def test_list_notes_a_damaged_rollup_it_read_around(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    ARCHIVE.write(storage, 300)
    Rollups(read_history(storage, PREFIX), max_records=1000).close()
    (tmp_path / layout.rollup_key(PREFIX, 120, 239)).write_bytes(b"{}")  # the newest: list reads it
    text = windows_text(read_archive(storage, PREFIX), [])
    assert "binlog archive: 300 segment(s), 0 gap(s)" in text
    assert "  note: binlog archive rollup 120-239 is unreadable" in text
