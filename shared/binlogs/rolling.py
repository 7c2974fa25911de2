"""Writing rollups: the archiver's records of each closed hour, repeated in one object.

The archiver hands every record it commits to ``RollupWriter.add`` (after the record itself is in the
bucket) and calls ``roll`` now and then. A group of records closes when a record of a later UTC hour
(of ``archived_at``) arrives, or when it reaches ``ROLLUP_MAX_RECORDS``; each closed group becomes
``rollups/<first>-<last>.json``, create-only, in ``seq`` order, carrying the archive's windows so far.
Nothing is lost by a crash: the records are in the bucket, and the next run's ``resume`` finds the
records after the newest rollup and rolls up what has closed since (that is also how an archive from
before rollups gets its rollups: the first run of this version writes them all).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from shared.binlogs import layout
from shared.binlogs.history import ArchiveHistory
from shared.binlogs.index import HistoryRecord, extend_windows, segment_window
from shared.binlogs.records import GapRecord, SegmentRecord
from shared.binlogs.rollups import ROLLUP_MAX_RECORDS, Rollup, written_at
from shared.storage.base import ObjectExistsError, Storage
from shared.times import format_time

log = logging.getLogger("mariadb_ha_backup.archive")


class RollupWriter:
    def __init__(self, storage: Storage, *, prefix: str, previous: Rollup | None,
                 pending: Sequence[HistoryRecord] = (), max_records: int = ROLLUP_MAX_RECORDS,
                 retain: Callable[[str], None] = lambda key: None) -> None:
        self.storage, self.prefix, self.previous = storage, prefix, previous
        self.pending = list(pending)
        self.max_records = max_records
        self.retain = retain  # object lock (BACKUP_LOCK_DAYS): a rollup is retained like the records it holds

    @classmethod
    def resume(cls, history: ArchiveHistory, *, max_records: int = ROLLUP_MAX_RECORDS,
               retain: Callable[[str], None] = lambda key: None) -> RollupWriter:
        """Start after the newest good rollup, with every record since then pending (read in full)."""
        newest = history.newest_rollup
        first = newest.last_seq + 1 if newest is not None else min(history.tail, default=0)
        pending = list(history.records(first)) if history.tail else []
        return cls(history.storage, prefix=history.prefix, previous=newest, pending=pending, max_records=max_records,
                   retain=retain)

    def add(self, record: HistoryRecord) -> None:
        """A record just committed to the bucket (in ``seq`` order)."""
        if self.pending and record.seq <= self.pending[-1].seq:
            return  # already pending (the archiver re-reads nothing, but be safe)
        self.pending.append(record)

    def roll(self) -> list[Rollup]:
        """Write every closed group; return the rollups written."""
        done = []
        while (size := self._closed_group()) > 0:
            done.append(self._write(self.pending[:size]))
            del self.pending[:size]
        return done

    def _closed_group(self) -> int:
        if not self.pending:
            return 0
        hour = written_at(self.pending[0])[:13]  # YYYY-MM-DDTHH
        size = next((i for i, r in enumerate(self.pending) if written_at(r)[:13] != hour), len(self.pending))
        if size >= self.max_records:
            return self.max_records
        return size if size < len(self.pending) else 0  # the current hour is still open

    def _write(self, records: list[HistoryRecord]) -> Rollup:
        previous = self.previous
        pieces = [segment_window(r) for r in records if isinstance(r, SegmentRecord)]
        rollup = Rollup(
            first_seq=records[0].seq, last_seq=records[-1].seq, records=records,
            windows=extend_windows(previous.windows if previous else [], pieces),
            gaps=(previous.gaps if previous else []) + [r for r in records if isinstance(r, GapRecord)],
            segments_total=(previous.segments_total if previous else 0) + len(pieces),
            created_at=format_time(datetime.now(UTC)))
        key = layout.rollup_key(self.prefix, rollup.first_seq, rollup.last_seq)
        data = rollup.to_json()
        try:
            self.storage.put(key, io.BytesIO(data), if_absent=True)
        except ObjectExistsError:
            # Our own earlier attempt (a retry that landed) or one a reader already passes over as damaged:
            # either way the records are the truth, and the chain goes on from this rollup's content.
            with self.storage.open_read(key) as stream:
                if not _same_rollup(stream.read(), data):
                    log.error("binlog archive rollup %s already exists with other content: left as it is "
                              "(readers check it and read the records where it is wrong)", key,
                              extra={"event": "rollup-exists", "key": key})
        # Retained after it is written (and again when it was already there: a retry after a failed
        # retention). Retained later than its records, so a prune that finds a rollup free to delete
        # knows its records and segments are too.
        self.retain(key)
        log.info("rolled up binlog archive records %d-%d", rollup.first_seq, rollup.last_seq,
                 extra={"event": "rollup", "first_seq": rollup.first_seq, "last_seq": rollup.last_seq})
        self.previous = rollup
        return rollup


def _same_rollup(stored: bytes, ours: bytes) -> bool:
    """The same rollup but for when it was written (our own earlier attempt, whose retention failed)."""
    try:
        found = json.loads(stored)
    except ValueError:
        return False
    mine = json.loads(ours)
    return isinstance(found, dict) and {**found, "created_at": None} == {**mine, "created_at": None}
