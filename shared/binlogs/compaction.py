"""Compaction: the closed segments of a rolled-up hour, read by a restore as one object instead of hundreds.

A busy server gets a segment every few seconds, so a restore that replays a day reads ~17,000 objects.
With ``BINLOG_COMPACT=on`` the archiver, after writing a rollup, joins each run of its segments that
come from one server binlog file (same node, same file: one Format_description event, so the result is
a valid binlog on its own like any segment) into ``segments/<first>-<last>.binlog``. The order is the
archive's usual one, so a ``kill -9`` at any step leaves a consistent archive:

1. the compacted segment is written (an object without its record is not part of the archive, like a
   segment without its index record; the next attempt writes it again) and retained under object lock;
2. ``compactions/<first>-<last>.json`` is written create-only (the commit marker: from now on readers
   read the compacted segment for those seqs) and retained;
3. only then are the small segments deleted, each only when object lock no longer retains it.

The index records stay as they are (the archive's history, read by ``list``, ``status`` and planning);
they keep naming the small segments. A reader that replays the archive asks ``CompactedSegments`` first.
Encrypted segments are not compacted: the archiver holds the recipients' public keys, not an identity.
Gaps and breaks in continuity end a run, so a compacted segment never spans one.
"""

from __future__ import annotations

import hashlib
import io
import logging
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from shared.binlogs import layout
from shared.binlogs.events import BinlogFormatError, Event, Transaction, TransactionScanner, read_file_events
from shared.binlogs.records import RECORD_VERSION, JsonRecord, RecordError, SegmentRecord, SourceNode
from shared.binlogs.segments import build_segment
from shared.storage.base import ObjectExistsError, ObjectNotFoundError, Storage, StorageError
from shared.storage.object_lock import retention_check
from shared.times import format_time

log = logging.getLogger("mariadb_ha_backup.archive")


class CompactionError(RecordError):
    """A compacted segment or its record is missing, unreadable or does not match (read the small ones)."""


@dataclass(frozen=True)
class CompactionRecord(JsonRecord):
    """``compactions/<first>-<last>.json``: the segment that replaces segments first..last."""

    _KIND: ClassVar[str] = "compaction"

    first_seq: int
    last_seq: int
    segment: str  # the compacted segment's key
    sha1: str
    size: int
    transactions: int
    first_gtid: str
    last_gtid: str
    source: SourceNode
    source_file: str
    created_at: str
    kind: str = "compaction"
    version: int = RECORD_VERSION


def compaction_runs(records: Sequence[object]) -> list[list[SegmentRecord]]:
    """The runs of at least two consecutive, continuous, unencrypted segments of one node's one file."""
    runs: list[list[SegmentRecord]] = []
    current: list[SegmentRecord] = []
    for record in records:
        joins = (isinstance(record, SegmentRecord) and not record.layers and current
                 and record.seq == current[-1].seq + 1 and record.gtid_state_before == current[-1].gtid_state_after
                 and (record.source, record.source_file) == (current[-1].source, current[-1].source_file))
        if joins:
            current.append(record)  # type: ignore[arg-type]  # checked above
            continue
        if len(current) >= 2:
            runs.append(current)
        current = [record] if isinstance(record, SegmentRecord) and not record.layers else []
    if len(current) >= 2:
        runs.append(current)
    return runs


def compact(storage: Storage, prefix: str, run: Sequence[SegmentRecord], *, retain: Callable[[str], None],
            retained: Callable[[str], bool]) -> CompactionRecord | None:
    """Compact ``run`` (steps 1-3 of the module docstring; each may have been done by an interrupted
    attempt). None, with a warning, when a small segment is missing or does not match its record."""
    first, last = run[0], run[-1]
    key = layout.compaction_key(prefix, first.seq, last.seq)
    record = _existing(storage, key)
    if record is None:
        record = _write(storage, prefix, run, key=key, retain=retain)
        if record is None:
            return None
    for small in run:
        if not retained(small.segment):
            storage.delete(small.segment)
    log.info("compacted binlog archive segments %d-%d into one (%d transactions, %d bytes)", first.seq, last.seq,
             record.transactions, record.size,
             extra={"event": "compaction", "first_seq": first.seq, "last_seq": last.seq})
    return record


def _write(storage: Storage, prefix: str, run: Sequence[SegmentRecord], *, key: str,
           retain: Callable[[str], None]) -> CompactionRecord | None:
    transactions: list[Transaction] = []
    format_description: Event | None = None
    for small in run:
        try:
            found, fde = read_segment(storage, small.segment, sha1=small.sha1, size=small.size)
        except CompactionError as exc:
            log.warning("binlog archive segments %d-%d not compacted: %s", run[0].seq, run[-1].seq, exc,
                        extra={"event": "compaction-skipped"})
            return None
        if len(found) != small.transactions:
            log.warning("binlog archive segments %d-%d not compacted: segment %d holds %d transactions, its "
                        "record says %d", run[0].seq, run[-1].seq, small.seq, len(found), small.transactions,
                        extra={"event": "compaction-skipped"})
            return None
        transactions += found
        format_description = format_description or fde
    assert format_description is not None
    data = build_segment(format_description, transactions)
    segment_key = layout.compacted_segment_key(prefix, run[0].seq, run[-1].seq)
    storage.put(segment_key, io.BytesIO(data))  # no record yet: not part of the archive, safe to overwrite
    retain(segment_key)
    record = CompactionRecord(
        first_seq=run[0].seq, last_seq=run[-1].seq, segment=segment_key,
        sha1=hashlib.sha1(data).hexdigest(), size=len(data), transactions=len(transactions),  # noqa: S324  # integrity
        first_gtid=run[0].first_gtid, last_gtid=run[-1].last_gtid, source=run[0].source,
        source_file=run[0].source_file, created_at=format_time(datetime.now(UTC)))
    try:
        storage.put(key, io.BytesIO(record.to_json()), if_absent=True)
    except ObjectExistsError:  # our own retry that landed, or a concurrent attempt: the stored one decides
        record = _existing(storage, key) or record
    retain(key)
    return record


def read_segment(storage: Storage, key: str, *, sha1: str, size: int) -> tuple[list[Transaction], Event]:
    """The transactions of a stored, unencrypted segment checked against the SHA1 and size recorded."""
    try:
        with storage.open_read(key) as stream:
            stored = stream.read()
    except ObjectNotFoundError:
        raise CompactionError(f"binlog segment {key} is missing") from None
    found = hashlib.sha1(stored).hexdigest()  # noqa: S324  # the record's integrity check
    if len(stored) != size or found != sha1:
        raise CompactionError(f"binlog segment {key} does not match its record ({len(stored)} bytes with SHA1 "
                              f"{found}; recorded {size} bytes, {sha1})")
    scanner = TransactionScanner()
    try:
        transactions = [done for event in read_file_events(stored) if (done := scanner.feed(event)) is not None]
    except BinlogFormatError as exc:
        raise CompactionError(f"binlog segment {key} is not a readable binlog: {exc}") from None
    if scanner.format_description is None:
        raise CompactionError(f"binlog segment {key} has no Format_description event")
    return transactions, scanner.format_description


def _existing(storage: Storage, key: str) -> CompactionRecord | None:
    try:
        with storage.open_read(key) as stream:
            return CompactionRecord.from_json(stream.read())
    except ObjectNotFoundError:
        return None


class CompactedSegments:
    """What a replay reads for each seq: the compacted segment that covers it, if one is committed.
    One listing of ``compactions/`` (a few hundred names for a month), each record read when needed."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self.storage, self.prefix = storage, prefix
        self.ranges = sorted(bounds for info in storage.list(layout.folder_prefix(prefix, layout.COMPACTIONS))
                             if (bounds := layout.compaction_range(info.key)) is not None)

    def covering(self, seq: int) -> tuple[int, int] | None:
        # By halves: a day of replay asks ~17,000 times among a month's ~700-1,400 compactions.
        at = bisect_right(self.ranges, (seq, 10**layout.SEQ_DIGITS)) - 1
        return self.ranges[at] if at >= 0 and self.ranges[at][0] <= seq <= self.ranges[at][1] else None

    def read(self, first_seq: int, last_seq: int) -> tuple[CompactionRecord, list[Transaction], Event]:
        """The compaction record and the compacted segment's transactions, checked (``CompactionError``)."""
        key = layout.compaction_key(self.prefix, first_seq, last_seq)
        try:
            record = _existing(self.storage, key)
        except RecordError as exc:
            raise CompactionError(f"binlog archive compaction {first_seq}-{last_seq}: {exc}") from None
        if record is None or (record.first_seq, record.last_seq) != (first_seq, last_seq):
            raise CompactionError(f"binlog archive compaction record {key} is missing or names another range")
        transactions, fde = read_segment(self.storage, record.segment, sha1=record.sha1, size=record.size)
        if len(transactions) != record.transactions or not transactions \
                or (str(transactions[0].gtid), str(transactions[-1].gtid)) != (record.first_gtid, record.last_gtid):
            raise CompactionError(f"binlog segment {record.segment} does not hold what {key} says")
        return record, transactions, fde


def compact_rollup(storage: Storage, prefix: str, records: Sequence[object], *,
                   retain: Callable[[str], None]) -> list[CompactionRecord]:
    """Compact every run in a rollup's ``records``; a run that fails (storage down) is logged and left
    as it is: its small segments are still the archive, and the next attempt starts over."""
    retained = retention_check(storage, now=datetime.now(UTC))
    done = []
    for run in compaction_runs(records):
        try:
            record = compact(storage, prefix, run, retain=retain, retained=retained)
        except StorageError as exc:
            log.warning("binlog archive segments %d-%d not compacted: %s", run[0].seq, run[-1].seq, exc,
                        extra={"event": "compaction-failed"})
            continue
        if record is not None:
            done.append(record)
    return done
