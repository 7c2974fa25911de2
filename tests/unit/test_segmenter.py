"""The segmenter in-process on local storage, fed with transactions from a real binlog file
(``tests/data/mixed.binlog``: written by mariadbd 10.11 — DDL, InnoDB, MyISAM, a procedure call, GRANT,
an event, CREATE ... SELECT — 17 event groups). Milliseconds; the real stream is tested in tests/e2e."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent.pitr.archiver import segmenter as segmenter_module
from agent.pitr.archiver.segmenter import ArchivePosition, Segmenter
from shared.binlogs.events import Event, Transaction, TransactionScanner, read_file_events, transactions_of_file
from shared.binlogs.gtid import format_state, parse_state
from shared.binlogs.index import gap_free_windows, iter_history
from shared.binlogs.records import SegmentRecord, SourceNode
from shared.storage.local import LocalStorage

BINLOG = Path(__file__).resolve().parents[1] / "data" / "mixed.binlog"
PREFIX = "pitr/unit"
NODE = SourceNode(host="db:3306", node="db-0", server_id=7)


def transactions() -> tuple[Event, list[Transaction]]:
    scanner = TransactionScanner()
    found = [t for event in read_file_events(BINLOG.read_bytes()) if (t := scanner.feed(event))]
    assert scanner.format_description is not None and len(found) == 17
    return scanner.format_description, found


def make(tmp_path: Path, *, cut_after: float = 3600.0) -> Segmenter:
    return Segmenter(LocalStorage(tmp_path), prefix=PREFIX, position=ArchivePosition(0, {}, None),
                     cut_after_seconds=cut_after)


def stored_gtids(tmp_path: Path, record: SegmentRecord) -> list[str]:
    data = (tmp_path / record.segment).read_bytes()
    assert hashlib.sha1(data).hexdigest() == record.sha1 and len(data) == record.size
    return [str(t.gtid) for t in transactions_of_file(data)]


def test_a_segment_holds_exactly_the_added_transactions_and_its_record_says_so(tmp_path: Path) -> None:
    fde, found = transactions()
    seg = make(tmp_path)
    assert all(seg.add(t, source=NODE, source_file="bin.000007", format_description=fde) for t in found[:5])
    assert not seg.due()  # an hour's budget
    record = seg.flush()
    assert record is not None and seg.flush() is None
    assert stored_gtids(tmp_path, record) == [str(t.gtid) for t in found[:5]]
    assert (record.seq, record.transactions, record.gtid_state_before) == (0, 5, "")
    assert record.gtid_state_after == str(found[4].gtid) == format_state(seg.position.state)
    assert (record.start_offset, record.end_offset) == (found[0].start, found[4].end)  # a closed file: same offsets
    assert record.source == NODE and record.source_file == "bin.000007"


def test_transactions_already_archived_are_skipped(tmp_path: Path) -> None:
    fde, found = transactions()
    seg = make(tmp_path)
    for t in found[:3]:
        seg.add(t, source=NODE, source_file="bin.000007", format_description=fde)
    seg.flush()
    assert not any(seg.add(t, source=NODE, source_file="bin.000007", format_description=fde) for t in found[:3])
    assert seg.flush() is None


def test_cut_when_due_at_a_new_file_and_at_the_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fde, found = transactions()
    seg = make(tmp_path, cut_after=0.0)
    seg.add(found[0], source=NODE, source_file="bin.000007", format_description=fde)
    assert seg.due()
    seg.add(found[1], source=NODE, source_file="bin.000008", format_description=fde)  # cuts bin.000007's
    assert seg.position.seq == 0 and seg.due()  # cut, queued: uploads happen in flush, never inside add
    monkeypatch.setattr(segmenter_module, "MAX_SEGMENT_BYTES", 1)
    seg.add(found[2], source=NODE, source_file="bin.000008", format_description=fde)  # cut on its own
    seg.flush()
    assert seg.position.seq == 2  # found[1] and found[2] together hit the cap
    records = [r for r in iter_history(LocalStorage(tmp_path), PREFIX) if isinstance(r, SegmentRecord)]
    assert [stored_gtids(tmp_path, r) for r in records] == [[str(found[0].gtid)],
                                                            [str(found[1].gtid), str(found[2].gtid)]]


def test_a_gap_moves_the_state_on_and_splits_the_window(tmp_path: Path) -> None:
    fde, found = transactions()
    seg = make(tmp_path)
    seg.add(found[0], source=NODE, source_file="bin.000007", format_description=fde)
    seg.flush()
    jump = parse_state(str(found[9].gtid))
    gap = seg.record_gap(to_state=jump, to_time=found[9].time, reason="purged", source=NODE)
    assert (gap.seq, gap.from_gtid_state, gap.to_gtid_state) == (1, str(found[0].gtid), str(found[9].gtid))
    for t in found[10:12]:
        seg.add(t, source=NODE, source_file="bin.000007", format_description=fde)
    record = seg.flush()
    assert record is not None and record.gtid_state_before == str(found[9].gtid) and record.seq == 2
    windows = gap_free_windows(list(iter_history(LocalStorage(tmp_path), PREFIX)))
    assert [(w.first_seq, w.last_seq) for w in windows] == [(0, 0), (2, 2)]


def test_discarding_forgets_what_was_not_committed(tmp_path: Path) -> None:
    fde, found = transactions()
    seg = make(tmp_path)
    seg.add(found[0], source=NODE, source_file="bin.000007", format_description=fde)
    seg.flush()
    seg.add(found[1], source=NODE, source_file="bin.000007", format_description=fde)
    assert seg.oldest_pending_time == found[1].time
    seg.discard_pending()
    assert seg.state == seg.position.state == parse_state(str(found[0].gtid)) and seg.oldest_pending_time is None
    assert seg.add(found[1], source=NODE, source_file="bin.000007", format_description=fde)  # read again later
