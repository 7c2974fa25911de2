"""The binlog archive's layout, records, history and gap-free windows, on local storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.binlogs import layout
from shared.binlogs.gtid import Gtid, GtidError, advance, contains, format_state, parse_state
from shared.binlogs.index import (
    SeqTakenError,
    archived_state,
    gap_free_windows,
    iter_history,
    last_record,
    next_seq,
    write_record,
)
from shared.binlogs.records import GapRecord, RecordError, SegmentRecord, SourceNode
from shared.storage.local import LocalStorage

PREFIX = "mariadb-ha-backup/ns/db"
NODE = SourceNode(host="db", node="db-0", server_id=1)


def segment(seq: int, before: str, after: str, first: str, last: str) -> SegmentRecord:
    return SegmentRecord(
        seq=seq, segment=layout.segment_key(PREFIX, seq), sha1="0" * 40, size=100, transactions=2,
        first_gtid=after, last_gtid=after, gtid_state_before=before, gtid_state_after=after,
        first_event_time=first, last_event_time=last, source=NODE, source_file="bin.000001",
        start_offset=256, end_offset=356, archived_at=last)


def gap(seq: int, before: str, after: str) -> GapRecord:
    return GapRecord(seq=seq, from_gtid_state=before, from_time=None, to_gtid_state=after,
                     to_time="2026-01-01T00:05:00Z", reason="purged", source=NODE, detected_at="2026-01-01T00:06:00Z")


def test_keys_carry_the_archive_wide_sequence_never_a_server_file_name() -> None:
    assert layout.segment_key(PREFIX + "/", 7) == f"{PREFIX}/binlogs/segments/000000000007.binlog"
    assert layout.index_key(PREFIX, 7) == f"{PREFIX}/binlogs/index/000000000007.json"
    assert layout.gap_key(PREFIX, 12) == f"{PREFIX}/binlogs/gaps/000000000012.json"
    assert layout.seq_of(layout.index_key(PREFIX, 42)) == 42
    assert layout.seq_of(f"{PREFIX}/binlogs/index/bin.000001") is None
    with pytest.raises(ValueError):
        layout.segment_key(PREFIX, -1)


def test_gtid_states_round_trip_in_mariadb_spelling() -> None:
    state = parse_state("1-2-7, 0-1-42")
    assert format_state(state) == "0-1-42,1-2-7"
    assert format_state(advance(state, [Gtid(0, 3, 43), Gtid(5, 3, 1)])) == "0-3-43,1-2-7,5-3-1"
    assert contains(state, Gtid(0, 9, 42)) and not contains(state, Gtid(0, 1, 43))
    assert not contains(state, Gtid(4, 1, 1))
    assert parse_state("") == {}
    for bad in ("0-1", "0-1-2,0-1-3", "a-b-c"):
        with pytest.raises(GtidError):
            parse_state(bad)


def test_records_round_trip_and_refuse_damage() -> None:
    record = segment(3, "0-1-4", "0-1-6", "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z")
    assert SegmentRecord.from_json(record.to_json()) == record
    assert GapRecord.from_json(gap(4, "0-1-6", "0-1-9").to_json()) == gap(4, "0-1-6", "0-1-9")
    with pytest.raises(RecordError, match="lacks fields"):
        SegmentRecord.from_json(b'{"seq": 1}')
    with pytest.raises(RecordError, match="not JSON"):
        SegmentRecord.from_json(b"{")
    with pytest.raises(RecordError, match="not a segment"):
        SegmentRecord.from_json(gap(4, "", "").to_json())


def test_history_is_in_seq_order_and_windows_split_at_gaps(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    assert last_record(storage, PREFIX) is None and archived_state(None) == "" and next_seq(None) == 0
    records = [
        segment(0, "", "0-1-2", "2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z"),
        segment(1, "0-1-2", "0-1-5", "2026-01-01T00:00:11Z", "2026-01-01T00:00:20Z"),
        gap(2, "0-1-5", "0-1-9"),
        segment(3, "0-1-9", "0-1-12", "2026-01-01T00:05:01Z", "2026-01-01T00:05:09Z"),
        segment(4, "0-1-12", "0-1-13", "2026-01-01T00:05:10Z", "2026-01-01T00:05:10Z"),
    ]
    for record in reversed(records):
        write_record(storage, PREFIX, record)
    # A segment object without its index record is not part of the history.
    orphan = tmp_path / layout.segment_key(PREFIX, 5)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"orphan")
    history = list(iter_history(storage, PREFIX))
    assert history == records
    assert [r.seq for r in iter_history(storage, PREFIX, after_seq=2)] == [3, 4]
    assert last_record(storage, PREFIX) == records[-1]
    assert archived_state(records[2]) == "0-1-9" and next_seq(records[-1]) == 5
    windows = gap_free_windows(history)
    assert [(w.first_seq, w.last_seq, w.start_state, w.end_state) for w in windows] == [
        (0, 1, "", "0-1-5"), (3, 4, "0-1-9", "0-1-13")]
    assert windows[1].end_time.isoformat() == "2026-01-01T00:05:10+00:00"


def test_an_unrecorded_discontinuity_also_ends_a_window() -> None:
    history: list[SegmentRecord | GapRecord] = [
        segment(0, "", "0-1-2", "2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z"),
        segment(1, "0-1-4", "0-1-5", "2026-01-01T00:00:11Z", "2026-01-01T00:00:20Z"),
    ]
    assert [(w.first_seq, w.last_seq) for w in gap_free_windows(history)] == [(0, 0), (1, 1)]


def test_records_are_create_only_but_a_retried_write_of_the_same_record_succeeds(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    record = segment(0, "", "0-1-2", "2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z")
    write_record(storage, PREFIX, record)
    write_record(storage, PREFIX, record)
    other = segment(0, "", "0-1-3", "2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z")
    with pytest.raises(SeqTakenError):
        write_record(storage, PREFIX, other)
    assert list(iter_history(storage, PREFIX)) == [record]
