"""Fill a binlog archive in tests straight from a server's own binlog files, in the archive's layout.

A stand-in for ``archive-binlogs`` where a test needs exact control over what is archived: every
server file (``bin.000001``...) becomes one segment made of its complete transactions not yet in the
archive (``shared.binlogs.segments.build_segment``), with an index record written by the archive's own
``write_record``. A file whose starting state (its Gtid_list event) is not covered by what the archive
already holds means the server purged binlogs the archive never got: a gap record is written, as the
archiver does.
"""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

from shared.binlogs import layout
from shared.binlogs.compaction import compact_rollup
from shared.binlogs.events import TransactionScanner, read_file_events
from shared.binlogs.gtid import advance, contains, covered_by, format_state, parse_state
from shared.binlogs.history import read_history
from shared.binlogs.index import archived_state, last_record, next_seq, write_record
from shared.binlogs.records import GapRecord, SegmentRecord, SourceNode
from shared.binlogs.rolling import RollupWriter
from shared.binlogs.segments import build_segment
from shared.storage import Storage
from shared.times import format_time


def server_binlog_files(datadir: Path) -> list[Path]:
    return sorted(datadir.glob("bin.[0-9]*"))


def archive_binlog_files(storage: Storage, *, prefix: str, files: list[Path], node: str = "db-0",
                         server_id: int = 1, rollup_records: int | None = None, per_segment: int | None = None,
                         compact: bool = False) -> list[SegmentRecord | GapRecord]:
    """Archive what ``files`` hold beyond the archive's current state; returns the records written.
    With ``rollup_records``, then roll the records up as the archiver does, that many per rollup (the
    records of a test all fall in one hour, so only the cap closes a rollup). ``per_segment`` cuts a
    file into segments of that many transactions (as the archiver's time budget does in a busy file);
    ``compact`` then compacts each rollup written, as the archiver with BINLOG_COMPACT=on does."""
    written: list[SegmentRecord | GapRecord] = []
    source = SourceNode(host="127.0.0.1", node=node, server_id=server_id)
    for path in files:
        last = last_record(storage, prefix)
        state = parse_state(archived_state(last))
        scanner = TransactionScanner()
        transactions = [t for e in read_file_events(path.read_bytes()) if (t := scanner.feed(e)) is not None]
        assert scanner.format_description is not None
        file_start = {g.domain_id: g for g in scanner.gtid_list or []}
        if not covered_by(file_start, state):
            gap = GapRecord(seq=next_seq(last), from_gtid_state=format_state(state), from_time=None,
                            to_gtid_state=format_state(file_start), to_time=None,
                            reason=f"{path.name} starts after the archived state (purged)", source=source,
                            detected_at=format_time(datetime.now(UTC)))
            write_record(storage, prefix, gap)
            written.append(gap)
            last, state = gap, dict(file_start)
        new = [t for t in transactions if not contains(state, t.gtid)]
        step = per_segment or len(new) or 1
        for piece in (new[i:i + step] for i in range(0, len(new), step)):
            written.append(_store_segment(storage, prefix=prefix, seq=next_seq(last), data=build_segment(
                scanner.format_description, piece), new=piece, state=state, source=source, path=path))
            last, state = written[-1], advance(state, (t.gtid for t in piece))
    if rollup_records is not None:
        rolled = RollupWriter.resume(read_history(storage, prefix), max_records=rollup_records).roll()
        for rollup in rolled if compact else []:
            compact_rollup(storage, prefix, rollup.records, retain=lambda key: None)
    return written


def _store_segment(storage: Storage, *, prefix: str, seq: int, data: bytes, new: list, state: dict,  # type: ignore[type-arg]
                   source: SourceNode, path: Path) -> SegmentRecord:
    key = layout.segment_key(prefix, seq)
    storage.put(key, io.BytesIO(data))
    record = SegmentRecord(
        seq=seq, segment=key, sha1=hashlib.sha1(data).hexdigest(), size=len(data), transactions=len(new),
        first_gtid=str(new[0].gtid), last_gtid=str(new[-1].gtid), gtid_state_before=format_state(state),
        gtid_state_after=format_state(advance(state, (t.gtid for t in new))),
        first_event_time=format_time(new[0].time), last_event_time=format_time(new[-1].time), source=source,
        source_file=path.name, start_offset=new[0].start, end_offset=new[-1].end,
        archived_at=format_time(datetime.now(UTC)))
    write_record(storage, prefix, record)
    return record
