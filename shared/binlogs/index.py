"""Reading and writing the binlog archive's history: index records, gap records, gap-free windows.

The history is the index and gap records merged and sorted by ``seq``. A segment counts only once its
index record exists (the record is the commit marker, as a backup's manifest is), and the record is
written create-only, so two archivers that somehow run at once cannot both claim one ``seq``: the
second gets ``SeqTakenError`` and must stop (the one-replica Deployment is meant to prevent that).

Used by the archiver (where to resume, which ``seq`` is next), by restore (which segments cover a
range, is there a gap), and by ``list``/``status`` (the gap-free windows, the last archived time).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from shared.binlogs import layout
from shared.binlogs.records import GapRecord, SegmentRecord
from shared.storage.base import ObjectExistsError, Storage, StorageError

HistoryRecord = SegmentRecord | GapRecord


class SeqTakenError(StorageError):
    """Another archiver already wrote a different record under this ``seq`` (exit 1)."""


@dataclass(frozen=True)
class GapFreeWindow:
    """A stretch of the archive without a gap: any second in [start_time, end_time] can be restored
    from a backup whose GTID position is at or after ``start_state`` (and ≤ the target)."""

    first_seq: int
    last_seq: int
    start_state: str  # GTID state before the first segment
    end_state: str  # GTID state after the last segment
    start_time: datetime  # commit time of the first archived transaction
    end_time: datetime  # commit time of the last archived transaction


def _seqs(storage: Storage, prefix: str, folder: str) -> list[int]:
    found = (layout.seq_of(info.key) for info in storage.list(layout.folder_prefix(prefix, folder)))
    return sorted(seq for seq in found if seq is not None)


def read_segment_record(storage: Storage, prefix: str, seq: int) -> SegmentRecord:
    with storage.open_read(layout.index_key(prefix, seq)) as stream:
        return SegmentRecord.from_json(stream.read())


def read_gap_record(storage: Storage, prefix: str, seq: int) -> GapRecord:
    with storage.open_read(layout.gap_key(prefix, seq)) as stream:
        return GapRecord.from_json(stream.read())


def iter_history(storage: Storage, prefix: str, *, after_seq: int = -1) -> Iterator[HistoryRecord]:
    """Every index and gap record with ``seq > after_seq``, in ``seq`` order (two listings, then one
    small read per record)."""
    segments = {seq: "segment" for seq in _seqs(storage, prefix, layout.INDEX) if seq > after_seq}
    gaps = {seq: "gap" for seq in _seqs(storage, prefix, layout.GAPS) if seq > after_seq}
    for seq in sorted(segments.keys() | gaps.keys()):
        if seq in gaps:
            yield read_gap_record(storage, prefix, seq)
        else:
            yield read_segment_record(storage, prefix, seq)


def last_record(storage: Storage, prefix: str) -> HistoryRecord | None:
    """The newest index or gap record (two listings and one read), or None for an empty archive."""
    indexed, gaps = _seqs(storage, prefix, layout.INDEX), _seqs(storage, prefix, layout.GAPS)
    if not indexed and not gaps:
        return None
    if gaps and (not indexed or gaps[-1] > indexed[-1]):
        return read_gap_record(storage, prefix, gaps[-1])
    return read_segment_record(storage, prefix, indexed[-1])


def archived_state(record: HistoryRecord | None) -> str:
    """The GTID state the archive has reached after ``record`` ('' for an empty archive): where an
    archiver resumes. After a gap, that is where the gap ends."""
    if record is None:
        return ""
    return record.gtid_state_after if isinstance(record, SegmentRecord) else record.to_gtid_state


def next_seq(record: HistoryRecord | None) -> int:
    return 0 if record is None else record.seq + 1


def gap_free_windows(history: list[HistoryRecord]) -> list[GapFreeWindow]:
    """Split the history at gaps (recorded ones, a missing ``seq``, and any segment whose start state is
    not the previous segment's end state, which only a damaged archive has), oldest window first."""
    return extend_windows([], [segment_window(r) for r in history if isinstance(r, SegmentRecord)])


def segment_window(record: SegmentRecord) -> GapFreeWindow:
    """One segment as a window of its own: the unit ``extend_windows`` joins."""
    return GapFreeWindow(first_seq=record.seq, last_seq=record.seq, start_state=record.gtid_state_before,
                             end_state=record.gtid_state_after, start_time=record.first_time,
                             end_time=record.last_time)


def extend_windows(windows: list[GapFreeWindow], pieces: Iterable[GapFreeWindow]) -> list[GapFreeWindow]:
    """``windows`` followed by ``pieces`` (gap-free runs of segments, in ``seq`` order): a piece joins the
    window before it when it takes the very next ``seq`` and starts at the state where that window ends.

    This is THE definition of a recoverable window. A gap record takes a ``seq`` of its own, so the
    segment after it never takes the next one and starts a new window. Because joining is associative,
    a window can be built from whole records, from a rollup's stored windows, or from the first and last
    records of a gap-free run, and comes out the same."""
    joined = list(windows)
    for piece in pieces:
        last = joined[-1] if joined else None
        if last is not None and last.last_seq + 1 == piece.first_seq and last.end_state == piece.start_state:
            joined[-1] = replace(last, last_seq=piece.last_seq, end_state=piece.end_state, end_time=piece.end_time)
        else:
            joined.append(piece)
    return joined


def write_record(storage: Storage, prefix: str, record: HistoryRecord) -> None:
    """Store ``record`` create-only. A retried call whose first attempt landed finds its own bytes
    there and succeeds; a different record under the same ``seq`` raises ``SeqTakenError``."""
    key = layout.index_key(prefix, record.seq) if isinstance(record, SegmentRecord) else \
        layout.gap_key(prefix, record.seq)
    data = record.to_json()
    try:
        storage.put(key, io.BytesIO(data), if_absent=True)
    except ObjectExistsError:
        with storage.open_read(key) as stream:
            if stream.read() != data:
                raise SeqTakenError(f"binlog archive record {key} was written by another archiver") from None
