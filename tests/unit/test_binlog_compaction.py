"""Which segments compaction joins, and where a reader finds the compacted segment of a seq (milliseconds;
the real server's binlogs, restores and crashes are in tests/e2e/test_pitr_compaction.py)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.binlogs import layout
from shared.binlogs.compaction import CompactedSegments, compaction_runs
from shared.binlogs.records import SegmentRecord, SourceNode
from shared.storage.local import LocalStorage
from tests.support.synthetic_archive import SyntheticArchive

ARCHIVE = SyntheticArchive(prefix="db", start=datetime(2026, 1, 1, tzinfo=UTC), every=timedelta(seconds=5),
                           gaps=frozenset({4}))


def test_runs_are_consecutive_continuous_unencrypted_segments_of_one_file_and_node() -> None:
    records = list(ARCHIVE.records(14))
    records[7:9] = [replace(r, source_file="bin.000002") for r in records[7:9]]  # a rotation: a new run
    records[9] = replace(records[9], layers=["age"])  # encrypted: never compacted
    records[11] = replace(records[11], source=SourceNode(host="db-1:3306", node="db-1", server_id=2))  # failover
    records[13] = replace(records[13], gtid_state_before="0-1-999")  # a break in continuity

    runs = [[r.seq for r in run] for run in compaction_runs(records)]

    # 0-3, then the gap at 4; 5-6 before the rotation; 7-8 (bin.000002); 9 encrypted; 10 alone (11 is on
    # another node, and 11 with 12 is not one file of one node: 12 is back on db-0); 13 breaks away.
    assert runs == [[0, 1, 2, 3], [5, 6], [7, 8]]
    assert all(isinstance(r, SegmentRecord) for run in compaction_runs(records) for r in run)


def test_the_compacted_segment_of_a_seq_is_found_by_its_range(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    for first, last in [(10, 20), (0, 5), (7, 8)]:
        storage.put(layout.compaction_key("db", first, last), io.BytesIO(b"{}"))
    storage.put(layout.compacted_segment_key("db", 30, 40), io.BytesIO(b"not a record"))

    found = CompactedSegments(storage, "db")

    assert found.ranges == [(0, 5), (7, 8), (10, 20)]  # a compacted segment without its record is not one
    assert [found.covering(seq) for seq in (0, 5, 6, 7, 9, 10, 20, 21, 35)] == [
        (0, 5), (0, 5), None, (7, 8), None, (10, 20), (10, 20), None, None]
