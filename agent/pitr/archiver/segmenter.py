"""Cutting transactions into segments and committing them to the bucket, in order.

The segmenter owns the archive's position as the bucket knows it: the next ``seq``, the GTID state
reached and the last commit time. Transactions wait in memory until their segment is cut: when the
oldest has waited ``cut_after_seconds`` (half the upload budget, leaving the other half for the upload
and its retries), when ``MAX_SEGMENT_BYTES`` have piled up, or when the next transaction comes from
another server file (a segment comes from one file, with that file's Format_description). Only
complete transactions are ever added, so every segment is self-contained.

A cut segment waits in an in-memory queue until it is uploaded, in order: when storage is down the
follower keeps reading and cutting, and ``flush`` uploads the queue once storage answers again. The
queue is bounded by ``MAX_BUFFERED_BYTES`` (``buffer_full``): the archiver stops there rather than
grow without limit (agent/pitr/archiver/archiver.py).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO, cast

from shared.binlogs import layout
from shared.binlogs.events import Event, Transaction
from shared.binlogs.gtid import Gtid, advance, contains, format_state, parse_state
from shared.binlogs.index import write_record
from shared.binlogs.records import GapRecord, SegmentRecord, SourceNode
from shared.binlogs.segments import build_segment
from shared.encryption import NO_ENCRYPTION, EncryptionSettings
from shared.storage.base import Storage, StorageError
from shared.storage.replayable import replayable_bytes
from shared.times import format_time

log = logging.getLogger("mariadb_ha_backup.archive")

# Bounds the memory held for one segment and the size of one upload (one transaction larger than this
# still goes whole into its own segment: a segment never splits a transaction).
MAX_SEGMENT_BYTES = 64 << 20
# Transactions held in memory while storage is unreachable (cut segments not yet uploaded, plus the open
# one). 256 MiB: about 25 minutes of a busy 10 GB/day binlog, within the Deployment's 512 MiB limit.
# Past it the follower exits (a restart resumes from the bucket's position, and the server still has
# the binlogs), rather than grow without bound.
MAX_BUFFERED_BYTES = 256 << 20


@dataclass
class _Pending:
    source: SourceNode
    source_file: str
    format_description: Event
    since: float  # monotonic time the first transaction arrived
    transactions: list[Transaction] = field(default_factory=list)
    size: int = 0


@dataclass
class ArchivePosition:
    """Where the bucket stands: the next ``seq``, the GTID state and commit time reached."""

    seq: int
    state: dict[int, Gtid]
    last_time: datetime | None


class Segmenter:
    def __init__(self, storage: Storage, *, prefix: str, position: ArchivePosition, cut_after_seconds: float,
                 on_commit: Callable[[SegmentRecord], None] = lambda record: None,
                 encryption: EncryptionSettings = NO_ENCRYPTION,
                 retain: Callable[[str], None] = lambda key: None) -> None:
        self.storage = storage
        self.encryption = encryption
        self.retain = retain  # object lock (BACKUP_LOCK_DAYS), a no-op without it
        self.prefix = prefix
        self.position = position
        self.cut_after_seconds = cut_after_seconds
        self.on_commit = on_commit
        self._pending: _Pending | None = None
        self._queue: list[_Pending] = []  # cut, not yet uploaded (storage was down), oldest first
        self._pending_state = dict(position.state)

    @property
    def state(self) -> dict[int, Gtid]:
        """The state including transactions received but not yet committed to the bucket."""
        return self._pending_state

    def add(self, transaction: Transaction, *, source: SourceNode, source_file: str,
            format_description: Event) -> bool:
        """Queue one complete transaction; False (and nothing queued) if the archive already has it."""
        if contains(self._pending_state, transaction.gtid):
            return False
        pending = self._pending
        if pending is not None and (pending.source_file, pending.source) != (source_file, source):
            self._cut()  # uploaded by the next flush: an upload failing here would lose this transaction
            pending = None
        if pending is None:
            pending = self._pending = _Pending(source, source_file, format_description, since=time.monotonic())
        pending.transactions.append(transaction)
        pending.size += transaction.end - transaction.start
        self._pending_state = advance(self._pending_state, [transaction.gtid])
        if pending.size >= MAX_SEGMENT_BYTES:
            self._cut()
        return True

    @property
    def oldest_pending_time(self) -> datetime | None:
        """Commit time of the oldest transaction received but not yet in the bucket."""
        oldest = self._queue[0] if self._queue else self._pending
        return oldest.transactions[0].time if oldest is not None else None

    @property
    def buffered_bytes(self) -> int:
        return sum(p.size for p in self._queue) + (self._pending.size if self._pending is not None else 0)

    def buffer_full(self) -> bool:
        return self.buffered_bytes >= MAX_BUFFERED_BYTES

    def due(self) -> bool:
        pending = self._pending
        return bool(self._queue) or (pending is not None and time.monotonic() - pending.since >= self.cut_after_seconds)

    def flush(self) -> SegmentRecord | None:
        """Cut the pending segment and upload every queued one in order, each followed by its index record
        (the commit marker). A storage error propagates with the rest still queued, nothing lost."""
        self._cut()
        record = None
        while self._queue:
            record = self._commit(self._queue[0])
            self._queue.pop(0)
            self.position = ArchivePosition(seq=record.seq + 1, state=parse_state(record.gtid_state_after),
                                            last_time=record.last_time)
            self.on_commit(record)
        return record

    def _cut(self) -> None:
        if self._pending is not None:
            self._queue.append(self._pending)
            self._pending = None

    def record_gap(self, *, to_state: dict[int, Gtid], to_time: datetime | None, reason: str,
                   source: SourceNode) -> GapRecord:
        """Write a gap record after what is committed (nothing may be pending) and move past it."""
        assert self._pending is None and not self._queue, "flush before recording a gap"
        position = self.position
        record = GapRecord(seq=position.seq, from_gtid_state=format_state(position.state),
                           from_time=format_time(position.last_time) if position.last_time else None,
                           to_gtid_state=format_state(to_state), to_time=format_time(to_time) if to_time else None,
                           reason=reason, source=source, detected_at=format_time(datetime.now(UTC)))
        write_record(self.storage, self.prefix, record)
        self._retain_record(layout.gap_key(self.prefix, record.seq))
        self.position = ArchivePosition(seq=position.seq + 1, state=dict(to_state), last_time=position.last_time)
        self._pending_state = dict(to_state)
        return record

    def _retain_record(self, key: str) -> None:
        """A committed record that cannot be retained (retries spent) is logged, not raised: the record is
        in the bucket, so committing it again would clash with itself; its segment is retained, and the
        rollup that will hold a copy of it is retained too."""
        try:
            self.retain(key)
        except StorageError as exc:
            log.error("binlog archive record %s is not retained: %s", key, exc,
                      extra={"event": "retention-failed", "key": key})

    def reset_state(self, state: dict[int, Gtid]) -> None:
        """Set the starting state of an empty archive (from the first file's Gtid_list)."""
        assert self._pending is None and self.position.seq == 0
        self.position = ArchivePosition(seq=0, state=dict(state), last_time=None)
        self._pending_state = dict(state)

    def discard_pending(self) -> None:
        """Forget what was not committed (the state goes back to the bucket's)."""
        self._pending = None
        self._queue.clear()
        self._pending_state = dict(self.position.state)

    def _commit(self, pending: _Pending) -> SegmentRecord:
        seq = self.position.seq
        # The stored bytes carry the encryption layer, if any; the SHA1 and size recorded are theirs.
        data = self.encryption.encode_bytes(build_segment(pending.format_description, pending.transactions))
        key = layout.segment_key(self.prefix, seq, layer_suffix=self.encryption.layer_suffix)
        # A segment key without an index record is an earlier interrupted upload: overwriting it is safe.
        # Rewindable: RetryingStorage retries a failed upload whole (a RawIOBase is a binary stream).
        self.storage.put(key, cast(BinaryIO, replayable_bytes(data)))
        self.retain(key)  # before its commit marker, as a backup's archive before its manifest
        first, last = pending.transactions[0], pending.transactions[-1]
        record = SegmentRecord(
            seq=seq, segment=key, sha1=hashlib.sha1(data).hexdigest(), size=len(data),  # noqa: S324  # integrity
            transactions=len(pending.transactions), first_gtid=str(first.gtid), last_gtid=str(last.gtid),
            gtid_state_before=format_state(self.position.state),
            gtid_state_after=format_state(advance(self.position.state, [t.gtid for t in pending.transactions])),
            first_event_time=format_time(first.time), last_event_time=format_time(last.time),
            source=pending.source, source_file=pending.source_file,
            start_offset=_server_offset(first.events[0]), end_offset=last.events[-1].next_position,
            archived_at=format_time(datetime.now(UTC)), layers=list(self.encryption.layers))
        write_record(self.storage, self.prefix, record)
        self._retain_record(layout.index_key(self.prefix, seq))
        log.info("archived segment %d: %s..%s (%d transactions, %d bytes)", seq, record.first_gtid,
                 record.last_gtid, record.transactions, record.size,
                 extra={"event": "segment", "seq": seq, "last_event_time": record.last_event_time,
                        "source_node": pending.source.node})
        return record


def _server_offset(event: Event) -> int:
    """Where the event starts in the server's own file (its header holds where it ends)."""
    return event.next_position - event.size
