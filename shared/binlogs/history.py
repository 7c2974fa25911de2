"""The archive's history as every reader sees it: rollups first, records where there is no good rollup.

``read_history`` costs a constant number of requests whatever the length of the archive: one listing of
``rollups/``, the newest and the oldest rollup, a listing of the records after the newest rollup (by
``seq`` block, so never the whole folder), and of those records only the ends of each gap-free run and
the gap records. From that it knows the recoverable windows (``index.extend_windows``, the one
definition), the gaps, the segment count and the newest record. The records of a range (what a restore
replays, what a prune deletes) are read on demand with ``records``: from the rollups that cover it, and
from the records themselves where a rollup is missing or damaged.

Never silent: every time a rollup is passed over (unreadable, failing its checksum, overlapping
another, missing in the middle of the chain) a line goes to ``notes`` and to the log, and the records
are read instead. An archive written before rollups existed has no rollups at all: then the whole
history is read from the records (listing both folders), as before.

Assumed, not re-read here: inside a gap-free run of records after the newest rollup (a few minutes of
archive), each segment starts where the one before ended. The archiver writes them that way (a
segment's start state is its own position), and a restore, which reads every record it replays, checks
it again (``check_continuity``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import islice

from shared.binlogs import layout
from shared.binlogs.gtid import GtidState, covered_by, parse_state
from shared.binlogs.index import (
    GapFreeWindow,
    HistoryRecord,
    extend_windows,
    read_gap_record,
    read_segment_record,
    segment_window,
)
from shared.binlogs.records import GapRecord, RecordError, SegmentRecord
from shared.binlogs.rollups import Rollup, RollupError
from shared.storage.base import ObjectNotFoundError, Storage

log = logging.getLogger("mariadb_ha_backup.pitr")

# Records read one by one (the newest hour, or where a rollup is missing) are small GETs whose time is
# all latency: 8 in flight make an hour of a busy archive (~700 records) a second or two on loopback
# and keep well under any object store's request-rate limit per prefix (S3: 5,500 GET/s).
READ_THREADS = 8


@dataclass(frozen=True)
class RollupEntry:
    first_seq: int
    last_seq: int
    key: str


class ArchiveDamageError(RecordError):
    """Two records that should follow each other do not (a restore refuses to cross them)."""


@dataclass
class ArchiveHistory:
    """What ``read_history`` found; ``records`` and ``first_needed_seq`` read more on demand."""

    storage: Storage
    prefix: str
    chain: list[RollupEntry]  # the rollups used, oldest first (holes between them are read from records)
    tail: dict[int, str]  # seq -> folder (index or gaps) of the records after the newest rollup
    windows: list[GapFreeWindow] = field(default_factory=list)
    gaps: list[GapRecord] = field(default_factory=list)
    segment_count: int = 0
    last: HistoryRecord | None = None  # the newest record (where an archiver resumes)
    newest_rollup: Rollup | None = None
    notes: list[str] = field(default_factory=list)  # rollups passed over, and why
    _loaded: dict[str, Rollup | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.last is not None

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            log.warning("%s", text, extra={"event": "rollup-fallback"})

    def rollup(self, entry: RollupEntry, *, keep: bool = True) -> Rollup | None:
        """The rollup, checked; None (and a note) when it is missing, unreadable or fails its checksum.
        ``keep=False`` for a pass over many (a prune of a month): each is ~400 kB in memory."""
        if entry.key in self._loaded:
            return self._loaded[entry.key]
        rollup = _load_rollup(self.storage, entry, self.note)
        if keep:
            self._loaded[entry.key] = rollup
        return rollup

    def records(self, first_seq: int, last_seq: int | None = None) -> Iterator[HistoryRecord]:
        """Every record with ``first_seq <= seq <= last_seq`` (to the end when None), in ``seq`` order."""
        end = last_seq if last_seq is not None else 10**layout.SEQ_DIGITS  # bounded by the chain below
        position = first_seq
        for entry in self.chain:
            if entry.last_seq < position:
                continue
            if entry.first_seq > end:
                return
            if entry.first_seq > position:  # a hole in the chain: the records themselves
                yield from self._from_records(position, min(entry.first_seq - 1, end))
            rollup = self.rollup(entry, keep=False)
            if rollup is None:
                yield from self._from_records(max(position, entry.first_seq), min(entry.last_seq, end))
            else:
                yield from (r for r in rollup.records if position <= r.seq <= end)
            position = entry.last_seq + 1
        yield from self._read_all({s: f for s, f in self.tail.items() if position <= s <= end})

    def _from_records(self, first_seq: int, last_seq: int) -> Iterator[HistoryRecord]:
        yield from self._read_all(_list_range(self.storage, self.prefix, first_seq, last_seq))

    def _read_all(self, found: dict[int, str]) -> Iterator[HistoryRecord]:
        """The records in ``seq`` order, fetched READ_THREADS at a time (each is one small GET)."""
        if len(found) <= 1:
            yield from (_read(self.storage, self.prefix, seq, folder) for seq, folder in found.items())
            return
        seqs = iter(sorted(found))
        with ThreadPoolExecutor(READ_THREADS) as pool:
            # A bounded read-ahead (not pool.map, which would fetch all at once even when the reader
            # stops early, as a restore does at its target second).
            ahead = deque(pool.submit(_read, self.storage, self.prefix, seq, found[seq])
                          for seq in islice(seqs, READ_THREADS))
            while ahead:
                done = ahead.popleft().result()
                ahead.extend(pool.submit(_read, self.storage, self.prefix, seq, found[seq]) for seq in islice(seqs, 1))
                yield done

    def segments_of(self, window: GapFreeWindow, *, from_seq: int | None = None) -> Iterator[SegmentRecord]:
        first = window.first_seq if from_seq is None else max(from_seq, window.first_seq)
        for record in self.records(first, window.last_seq):
            if isinstance(record, SegmentRecord):
                yield record

    def first_needed_seq(self, window: GapFreeWindow, snapshot: GtidState) -> int:
        """The first segment of ``window`` whose transactions ``snapshot`` does not all hold (past the
        window's end when it holds all). States only grow along a window, so the rollups are searched by
        halves: ~10 rollups for a month of hourly rollups, not the month."""
        entries = [e for e in self.chain if e.last_seq >= window.first_seq and e.first_seq <= window.last_seq]
        low, high, start = 0, len(entries), window.first_seq
        while low < high:  # invariant: every entry before `low` is wholly held by the snapshot
            middle = (low + high) // 2
            held = self._held(entries[middle], window, snapshot)
            if held is None:
                break  # a rollup we cannot use: scan from what is known to be held
            if held:
                low = middle + 1
            else:
                high = middle
        if low > 0:
            start = entries[low - 1].last_seq + 1
        if not self.chain or start > self.chain[-1].last_seq:  # all the rollups are held: on in the tail
            start = self._first_needed_in_tail(window, snapshot, start)
        for record in self.segments_of(window, from_seq=start):
            if not covered_by(parse_state(record.gtid_state_after), snapshot):
                return record.seq
        return window.last_seq + 1

    def _first_needed_in_tail(self, window: GapFreeWindow, snapshot: GtidState, start: int) -> int:
        """Halving over the records after the newest rollup too (one GET each): ~10 for a busy hour."""
        seqs = sorted(s for s, folder in self.tail.items()
                      if folder == layout.INDEX and start <= s <= window.last_seq)
        low, high = 0, len(seqs)
        while low < high:
            middle = (low + high) // 2
            record = read_segment_record(self.storage, self.prefix, seqs[middle])
            if covered_by(parse_state(record.gtid_state_after), snapshot):
                low = middle + 1
            else:
                high = middle
        return seqs[low] if low < len(seqs) else start

    def _held(self, entry: RollupEntry, window: GapFreeWindow, snapshot: GtidState) -> bool | None:
        rollup = self.rollup(entry)
        if rollup is None:
            return None
        inside = [r for r in rollup.segments if window.first_seq <= r.seq <= window.last_seq]
        return not inside or covered_by(parse_state(inside[-1].gtid_state_after), snapshot)

    def record_at(self, seq: int) -> HistoryRecord | None:
        return next((r for r in self.records(seq, seq)), None)


def check_continuity(previous: HistoryRecord | None, record: HistoryRecord) -> None:
    """Raise ``ArchiveDamageError`` when ``record`` does not continue ``previous`` (a reader that has
    both records in hand checks what ``read_history`` assumed for the tail)."""
    if previous is None or not isinstance(record, SegmentRecord) or not isinstance(previous, SegmentRecord):
        return
    if previous.seq + 1 != record.seq or previous.gtid_state_after != record.gtid_state_before:
        raise ArchiveDamageError(f"binlog archive segment {record.seq} does not continue segment {previous.seq} "
                                 f"(GTID state {record.gtid_state_before or '(empty)'} after "
                                 f"{previous.gtid_state_after or '(empty)'})")


def read_history(storage: Storage, prefix: str) -> ArchiveHistory:
    chain, notes = _chain(storage, prefix)
    history = ArchiveHistory(storage=storage, prefix=prefix, chain=chain, tail={})
    for text in notes:
        history.note(text)
    newest = _newest_valid(history)
    if newest is None:
        # No usable rollup (an archive from before rollups, or all damaged): the records, all of them.
        history.chain = []
        history.tail = _list_range(storage, prefix, 0, None, whole=True)
        _summarize_tail(history, windows=[], gaps=[], count=0)
        return history
    entry, rollup = newest
    history.newest_rollup = rollup
    history.chain = history.chain[: history.chain.index(entry) + 1]
    windows, gaps, count = _clipped(history, rollup)
    history.last = rollup.records[-1]
    history.tail = _list_range(storage, prefix, entry.last_seq + 1, None)
    _summarize_tail(history, windows=windows, gaps=gaps, count=count)
    return history


def _chain(storage: Storage, prefix: str) -> tuple[list[RollupEntry], list[str]]:
    """Rollup keys in ``seq`` order, without overlaps (an overlapping one is left out and noted)."""
    found = []
    for info in storage.list(layout.folder_prefix(prefix, layout.ROLLUPS)):
        bounds = layout.rollup_range(info.key)
        if bounds is not None:
            found.append(RollupEntry(bounds[0], bounds[1], info.key))
    chain: list[RollupEntry] = []
    notes = []
    for entry in sorted(found, key=lambda e: (e.first_seq, e.last_seq)):
        if chain and entry.first_seq <= chain[-1].last_seq:
            notes.append(f"binlog archive rollup {entry.first_seq}-{entry.last_seq} overlaps rollup "
                         f"{chain[-1].first_seq}-{chain[-1].last_seq}: left out")
            continue
        if chain and entry.first_seq > chain[-1].last_seq + 1:
            notes.append(f"binlog archive rollups are missing for seq {chain[-1].last_seq + 1}-{entry.first_seq - 1}: "
                         "those records are read one by one")
        chain.append(entry)
    return chain, notes


def _newest_valid(history: ArchiveHistory) -> tuple[RollupEntry, Rollup] | None:
    for entry in reversed(history.chain):
        rollup = history.rollup(entry)
        if rollup is not None:
            return entry, rollup
    return None


def _clipped(history: ArchiveHistory, newest: Rollup) -> tuple[list[GapFreeWindow], list[GapRecord], int]:
    """The newest rollup's view of the archive, without what was pruned before the oldest rollup."""
    start = history.chain[0].first_seq
    oldest = history.rollup(history.chain[0])
    if oldest is None:  # its records instead (noted): the first one, and a count from the listing
        listed = _list_range(history.storage, history.prefix, start, history.chain[0].last_seq)
        before = None
        first_record = _read(history.storage, history.prefix, min(listed), listed[min(listed)]) if listed else None
    else:
        before, first_record = oldest.segments_total - len(oldest.segments), oldest.records[0]
    windows = []
    for window in newest.windows:
        if window.last_seq < start:
            continue
        if window.first_seq < start:
            if not isinstance(first_record, SegmentRecord):
                continue
            window = replace(window, first_seq=first_record.seq, start_state=first_record.gtid_state_before,
                             start_time=first_record.first_time)
        windows.append(window)
    gaps = [g for g in newest.gaps if g.seq >= start]
    if before is None:
        count = sum(1 for r in history.records(start, newest.last_seq) if isinstance(r, SegmentRecord))
    else:
        count = newest.segments_total - before
    return windows, gaps, count


def _summarize_tail(history: ArchiveHistory, *, windows: list[GapFreeWindow], gaps: list[GapRecord],
                    count: int) -> None:
    """Extend the windows over the tail, reading only the ends of each gap-free run and the gaps."""
    pieces, tail = [], history.tail
    runs: list[list[int]] = []
    for seq in sorted(tail):
        if tail[seq] == layout.GAPS:
            gaps.append(read_gap_record(history.storage, history.prefix, seq))
            history.last = gaps[-1]
            runs.append([])
            continue
        if not runs or not runs[-1] or runs[-1][-1] + 1 != seq:
            runs.append([])
        runs[-1].append(seq)
        count += 1
    for run in filter(None, runs):
        first = read_segment_record(history.storage, history.prefix, run[0])
        last = first if len(run) == 1 else read_segment_record(history.storage, history.prefix, run[-1])
        pieces.append(replace(segment_window(first), last_seq=last.seq, end_state=last.gtid_state_after,
                              end_time=last.last_time))
        if history.last is None or last.seq > history.last.seq:
            history.last = last
    history.windows = extend_windows(windows, pieces)
    history.gaps, history.segment_count = gaps, count


def _load_rollup(storage: Storage, entry: RollupEntry, note: Callable[[str], None]) -> Rollup | None:
    try:
        with storage.open_read(entry.key) as stream:
            return Rollup.from_json(stream.read(), first_seq=entry.first_seq, last_seq=entry.last_seq)
    except ObjectNotFoundError:
        note(f"binlog archive rollup {entry.first_seq}-{entry.last_seq} disappeared: its records are read instead")
    except RollupError as exc:
        note(f"{exc}: its records are read instead")
    return None


def _read(storage: Storage, prefix: str, seq: int, folder: str) -> HistoryRecord:
    if folder == layout.GAPS:
        return read_gap_record(storage, prefix, seq)
    return read_segment_record(storage, prefix, seq)


def _list_range(storage: Storage, prefix: str, first_seq: int, last_seq: int | None, *,
                whole: bool = False) -> dict[int, str]:
    """seq -> folder of the index and gap records in ``first_seq..last_seq``, listed block by block
    (to the end when ``last_seq`` is None: blocks follow while they hold records past ``first_seq``).
    ``whole`` lists both folders entirely (an archive without rollups may start anywhere)."""
    found: dict[int, str] = {}
    if whole:
        for folder in (layout.INDEX, layout.GAPS):
            found.update(_seqs_under(storage, layout.folder_prefix(prefix, folder), folder, first_seq, last_seq))
        return found
    block = first_seq // layout.SEQ_BLOCK
    while last_seq is None or block <= last_seq // layout.SEQ_BLOCK:
        listed: dict[int, str] = {}
        for folder in (layout.INDEX, layout.GAPS):
            listed.update(_seqs_under(storage, layout.block_prefix(prefix, folder, block), folder, first_seq, last_seq))
        if not listed and last_seq is None:
            break
        found.update(listed)
        block += 1
    return found


def _seqs_under(storage: Storage, key_prefix: str, folder: str, first_seq: int,
                last_seq: int | None) -> dict[int, str]:
    found = {}
    for info in storage.list(key_prefix):
        seq = layout.seq_of(info.key)
        if seq is not None and seq >= first_seq and (last_seq is None or seq <= last_seq):
            found[seq] = folder
    return found
