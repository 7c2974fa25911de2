"""Rollups of the binlog archive: written after their records, read instead of them, and read around
(with a note) when missing or damaged. The answer is always the one the records alone give."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.binlogs import layout
from shared.binlogs.gtid import parse_state
from shared.binlogs.history import ArchiveDamageError, ArchiveHistory, check_continuity, read_history
from shared.binlogs.index import gap_free_windows, iter_history
from shared.binlogs.records import SegmentRecord
from shared.binlogs.rolling import RollupWriter
from shared.storage.local import LocalStorage
from tests.support.ram import ram_base
from tests.support.synthetic_archive import CountingStorage, SyntheticArchive

PREFIX = "mariadb-ha-backup/ns/db"
START = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
# A segment every 30 s: 120 an hour, so 1,000 records make eight full hours and an open ninth.
ARCHIVE = SyntheticArchive(prefix=PREFIX, start=START, every=timedelta(seconds=30), gaps=frozenset({300, 301, 650}))
COUNT = 1000


@pytest.fixture
def ram_path(tmp_path: Path) -> Iterator[Path]:
    """A fresh directory in RAM where there is room (tests/support/ram.py), else ``tmp_path``: LocalStorage
    fsyncs every object, and these archives are thousands of them (this module alone: 10.1 s on disk,
    6.9 s in RAM)."""
    base = ram_base(1 << 30)
    if base is None:
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="binlog-rollups-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def written(ram_path: Path, count: int = COUNT, archive: SyntheticArchive = ARCHIVE) -> CountingStorage:
    storage = CountingStorage(LocalStorage(ram_path))
    archive.write(storage, count)
    return storage


def rolled(storage: CountingStorage) -> RollupWriter:
    writer = RollupWriter.resume(read_history(storage, PREFIX))
    writer.roll()
    storage.reset()
    return writer


def rollup_keys(ram_path: Path) -> list[str]:
    return sorted(p.name for p in (ram_path / layout.folder_prefix(PREFIX, layout.ROLLUPS)).glob("*.json"))


def same_as_records(history: ArchiveHistory, storage: CountingStorage) -> None:
    """The history agrees with the records read one by one (the reference)."""
    records = list(iter_history(storage.inner, PREFIX))
    assert history.windows == gap_free_windows(records)
    assert [g.seq for g in history.gaps] == [r.seq for r in records if r.kind == "gap"]
    assert history.segment_count == sum(isinstance(r, SegmentRecord) for r in records)
    assert history.last == records[-1]
    assert list(history.records(records[0].seq)) == records


def test_an_archive_without_rollups_reads_as_before(ram_path: Path) -> None:
    storage = written(ram_path)
    history = read_history(storage, PREFIX)
    same_as_records(history, storage)
    assert history.chain == [] and history.notes == []


def test_the_first_run_rolls_up_every_closed_hour_and_readers_then_read_a_few_objects(ram_path: Path) -> None:
    storage = written(ram_path)
    writer = rolled(storage)
    # Eight closed hours of 120 records; the ninth hour is still open, its 40 records stay pending.
    assert rollup_keys(ram_path)[0] == "000000000000-000000000119.json"
    assert len(rollup_keys(ram_path)) == 8 and len(writer.pending) == 40
    history = read_history(storage, PREFIX)
    # LIST rollups, GET newest + oldest, LIST the index and gap blocks of the tail (and of the empty block
    # after it: a listing never assumes where the archive ends), GET the two ends of the tail.
    assert storage.gets == 4 and storage.lists == 5
    same_as_records(history, storage)
    assert history.notes == []


def test_status_costs_the_same_at_five_times_the_archive(ram_path: Path) -> None:
    small = written(ram_path / "small", 1000)
    rolled(small)
    read_history(small, PREFIX)
    big = written(ram_path / "big", 5000)
    rolled(big)
    read_history(big, PREFIX)
    assert big.requests <= small.requests + 2


def test_rollups_follow_new_records_and_cap_a_long_hour(ram_path: Path) -> None:
    busy = SyntheticArchive(prefix=PREFIX, start=START, every=timedelta(seconds=1))
    storage = written(ram_path, 2500, busy)  # 2,500 records within one hour
    writer = RollupWriter.resume(read_history(storage, PREFIX), max_records=1000)
    assert [(r.first_seq, r.last_seq) for r in writer.roll()] == [(0, 999), (1000, 1999)]
    for record in busy.write(storage, 4000, first_seq=2500):
        writer.add(record)
    assert [(r.first_seq, r.last_seq) for r in writer.roll()] == [(2000, 2999), (3000, 3597)]  # 3598 was archived at 01:00:00
    same_as_records(read_history(storage, PREFIX), storage)


def test_a_damaged_rollup_is_read_around_and_reported(ram_path: Path) -> None:
    storage = written(ram_path)
    rolled(storage)
    key = ram_path / layout.rollup_key(PREFIX, 240, 359)
    body = json.loads(key.read_bytes())
    body["records"][5]["gtid_state_after"] = "0-1-99999"  # plausible, but not what index/ says
    key.write_text(json.dumps(body))
    history = read_history(storage, PREFIX)
    same_as_records(history, storage)
    assert history.notes == ["binlog archive rollup 240-359 does not match its checksum (damaged or edited): its "
                             "records are read instead"]


def test_a_damaged_newest_rollup_falls_back_to_the_one_before(ram_path: Path) -> None:
    storage = written(ram_path)
    rolled(storage)
    (ram_path / layout.rollup_key(PREFIX, 840, 959)).write_bytes(b"{not json")
    history = read_history(storage, PREFIX)
    same_as_records(history, storage)
    assert "rollup 840-959 is unreadable" in history.notes[0]
    # The writer rolls up from the one before; the damaged object stays as it is (create-only).
    writer = RollupWriter.resume(history)
    assert writer.pending[0].seq == 840


def test_a_missing_rollup_in_the_chain_is_read_from_its_records_and_reported(ram_path: Path) -> None:
    storage = written(ram_path)
    rolled(storage)
    (ram_path / layout.rollup_key(PREFIX, 480, 599)).unlink()
    history = read_history(storage, PREFIX)
    same_as_records(history, storage)
    assert history.notes == ["binlog archive rollups are missing for seq 480-599: those records are read one by one"]


def test_a_pruned_start_is_cut_from_the_windows_the_newest_rollup_carries(ram_path: Path) -> None:
    storage = written(ram_path)
    rolled(storage)
    for seq in range(0, 360):  # what a prune does: the rollups first, then their records
        (ram_path / layout.rollup_key(PREFIX, seq, seq + 119)).unlink(missing_ok=True)
    for seq in range(0, 360):
        for key in (layout.index_key(PREFIX, seq), layout.gap_key(PREFIX, seq)):
            (ram_path / key).unlink(missing_ok=True)
    history = read_history(storage, PREFIX)
    same_as_records(history, storage)
    assert history.windows[0].first_seq == 360


def test_first_needed_seq_searches_by_halves_and_agrees_with_a_scan(ram_path: Path) -> None:
    storage = written(ram_path)
    rolled(storage)
    history = read_history(storage, PREFIX)
    window = history.windows[-1]  # 651..999
    for held in (651, 700, 845, 960, 999):
        snapshot = parse_state(f"0-1-{held + 1}")  # what seq `held` ends with (3 lost GTIDs per gap)
        expected = next((r.seq for r in history.segments_of(window)
                         if parse_state(r.gtid_state_after)[0].seq_no > snapshot[0].seq_no), window.last_seq + 1)
        storage.reset()
        assert history.first_needed_seq(window, snapshot) == expected
        # Rollups searched by halves (a few, cached), then the records after them by halves too, then the
        # records from the answer on are read (8 ahead).
        assert storage.gets <= 4 + 6 + 8


def test_a_tail_that_does_not_continue_is_caught_by_a_reader_of_the_records(ram_path: Path) -> None:
    storage = written(ram_path)
    records = list(iter_history(storage.inner, PREFIX))
    check_continuity(records[10], records[11])
    with pytest.raises(ArchiveDamageError, match="segment 12 does not continue segment 10"):
        check_continuity(records[10], records[12])
