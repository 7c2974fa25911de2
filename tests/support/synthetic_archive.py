"""A large, valid binlog archive written quickly: index records (and optionally tiny segments) with
consistent GTID states and times, so readers of the archive can be tested and measured at a month's
scale without a server producing 500,000 segments.

Segment ``seq`` holds one transaction, GTID ``0-1-(seq+1)``, committed at ``start + seq * every``
seconds; ``gaps`` lists seqs written as gap records instead (the archive skips ``skip`` GTIDs there).
``segment_bytes`` is a valid one-transaction binlog (from ``tests/data/mixed.binlog``) only when asked:
readers of the history never open segments, restore planning does.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared.binlogs import layout
from shared.binlogs.index import HistoryRecord, write_record
from shared.binlogs.records import GapRecord, SegmentRecord, SourceNode
from shared.storage.base import FolderListing, ObjectInfo, Storage
from shared.times import format_time

NODE = SourceNode(host="db:3306", node="db-0", server_id=1)


@dataclass
class SyntheticArchive:
    prefix: str
    start: datetime
    every: timedelta = timedelta(seconds=5)
    gaps: frozenset[int] = frozenset()
    skip: int = 3  # GTIDs lost at each gap

    def records(self, count: int, *, first_seq: int = 0) -> Iterator[HistoryRecord]:
        gtid = 0
        for seq in range(count):
            moment = self.start + self.every * seq
            if seq in self.gaps:
                record: HistoryRecord = GapRecord(
                    seq=seq, from_gtid_state=_state(gtid), from_time=format_time(moment - self.every),
                    to_gtid_state=_state(gtid + self.skip), to_time=format_time(moment), reason="purged (synthetic)",
                    source=NODE, detected_at=format_time(moment))
                gtid += self.skip
            else:
                record = SegmentRecord(
                    seq=seq, segment=layout.segment_key(self.prefix, seq), sha1="0" * 40, size=0, transactions=1,
                    first_gtid=f"0-1-{gtid + 1}", last_gtid=f"0-1-{gtid + 1}", gtid_state_before=_state(gtid),
                    gtid_state_after=_state(gtid + 1), first_event_time=format_time(moment),
                    last_event_time=format_time(moment), source=NODE, source_file="bin.000001",
                    start_offset=256, end_offset=512, archived_at=format_time(moment + timedelta(seconds=2)))
                gtid += 1
            if seq >= first_seq:
                yield record

    def write(self, storage: Storage, count: int, *, first_seq: int = 0, threads: int = 8,
              segment_bytes: Callable[[SegmentRecord], bytes] | None = None) -> list[HistoryRecord]:
        """Store records ``first_seq..count-1`` (and segments, with ``segment_bytes``); return them in order."""
        records = list(self.records(count, first_seq=first_seq))

        def store(record: HistoryRecord) -> None:
            if isinstance(record, SegmentRecord) and segment_bytes is not None:
                data = segment_bytes(record)
                storage.put(record.segment, io.BytesIO(data))
                record = _with_bytes(record, data)
            write_record(storage, self.prefix, record)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(store, records))
        return records


def _with_bytes(record: SegmentRecord, data: bytes) -> SegmentRecord:
    return replace(record, size=len(data), sha1=hashlib.sha1(data).hexdigest())  # as the archiver


def _state(gtid: int) -> str:
    return f"0-1-{gtid}" if gtid else ""


@dataclass
class CountingStorage:
    """Any storage, counting the requests readers make: a GET per ``open_read``, a LIST per 1,000 keys
    listed (S3's page; at least one per listing), as an object store bills them."""

    inner: Storage
    gets: int = 0
    lists: int = 0
    keys: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.inner.url

    @property
    def requests(self) -> int:
        return self.gets + self.lists

    def put(self, key: str, stream: object, *, if_absent: bool = False) -> int:
        return self.inner.put(key, stream, if_absent=if_absent)  # type: ignore[arg-type]  # passed through

    def open_read(self, key: str) -> object:
        self.gets += 1
        self.keys.append(key)
        return self.inner.open_read(key)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        self.lists += 1
        for n, info in enumerate(self.inner.list(prefix)):
            if n and n % 1000 == 0:
                self.lists += 1
            yield info

    def list_folders(self, prefix: str) -> Iterator[str]:
        self.lists += 1  # a delimiter listing: a page of up to 1,000 folder names (a backup catalog's few)
        inner = self.inner
        assert isinstance(inner, FolderListing), "all four backends list folders"
        yield from inner.list_folders(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def reset(self) -> None:
        self.gets = self.lists = 0
        self.keys.clear()
