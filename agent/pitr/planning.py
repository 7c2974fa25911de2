"""``restore --until TIME``, part one: decide everything before the target is touched.

The plan names the base backup and writes, into the run's private directory, the binlog transactions
to replay, checked and cut to the second. Any reason to refuse (TIME beyond the archive, a gap, no
usable backup, a damaged segment) is found here, so a refused restore has written nothing.

- **Which transactions.** "Until TIME" means every transaction committed at or before TIME and none
  after. A transaction's time is the header timestamp of the event that ends it (whole seconds, UTC,
  taken when the committing statement started). The replay is the prefix of the archive, in commit
  (binlog) order, that ends just before the first transaction stamped later than TIME: a prefix is a
  state the source really passed through, whereas picking every transaction stamped ≤ TIME could
  combine a long transaction that committed late with ones that committed before it.
- **Which backup.** The newest complete backup that recorded its snapshot's GTID state (see
  ``shared.binlogs.snapshot``), started at or before TIME, whose state lies inside one gap-free
  window that reaches TIME (no gap between), and whose snapshot holds nothing committed after TIME.
- **Skipping what the snapshot holds.** By GTID, per replication domain: a transaction whose GTID is
  at or before the snapshot's state in its domain is in the dump; one seen twice in the archive is
  replayed once. A Galera cluster writes one domain for replicated writes (``wsrep_gtid_domain_id``) and
  each node may add its own; each is compared on its own.
- **Self-check.** Segments are read whole and checked against their index record's size and SHA1.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.common.catalog import BackupEntry
from agent.pitr.windows import ArchiveView, read_archive
from shared.binlogs.compaction import CompactedSegments, CompactionError
from shared.binlogs.events import BinlogFormatError, Event, Transaction, TransactionScanner, read_file_events
from shared.binlogs.gtid import Gtid, contains, format_state, parse_state
from shared.binlogs.history import ArchiveDamageError, check_continuity
from shared.binlogs.index import GapFreeWindow, read_segment_record
from shared.binlogs.layout import binlogs_root
from shared.binlogs.records import GapRecord, SegmentRecord
from shared.binlogs.segments import build_segment, segment_plaintext
from shared.errors import BackupFailedError, BadInputError
from shared.manifest import LOGICAL, Manifest
from shared.storage import Storage
from shared.times import format_time

log = logging.getLogger("mariadb_ha_backup.pitr")


class PointInTimeRefusedError(BadInputError):
    """The archive cannot restore that second: beyond its end, across a gap, or no usable backup."""


class SegmentDamagedError(BackupFailedError):
    """A segment differs from its index record (size, SHA1) or is not a readable binlog."""


class _UnusableBackupError(Exception):
    """This base backup cannot reach TIME; the message says why (an older one may)."""


@dataclass(frozen=True)
class ReplayPlan:
    backup: Manifest
    until: datetime
    files: tuple[Path, ...]  # binlog files holding exactly the transactions to replay, in order
    start_state: str  # the backup's snapshot
    end_state: str  # after the replay
    first_gtid: str | None
    last_gtid: str | None
    last_time: datetime | None  # commit time of the last transaction replayed
    transactions: int
    replay_bytes: int
    segments: tuple[int, ...] = field(default=())  # seqs read


def plan_point_in_time(storage: Storage, *, prefix: str, backups: list[BackupEntry], until: datetime,
                       work_dir: Path, identities: Sequence[Any] = (), method: str = LOGICAL) -> ReplayPlan:
    view = read_archive(storage, prefix)
    if not view.windows:
        raise PointInTimeRefusedError(f"there is no binlog archive under {binlogs_root(prefix)}: run archive-binlogs")
    if until > view.end_of(view.windows[-1]):
        raise PointInTimeRefusedError(f"{format_time(until)} is later than the archive reaches "
                                      f"({format_time(view.end_of(view.windows[-1]))}: the last archived transaction, "
                                      "or the last time the archiver saw it complete)")
    # The target decides the kind of base: a server loads a logical one, a data directory is made from a
    # physical one (agent.pitr.physical_until).
    candidates = [e.manifest for e in backups if e.complete and e.manifest and e.manifest.binlog
                  and e.manifest.method == method and e.started <= until]
    if not candidates:
        kind = "" if method == LOGICAL else f"{method} "
        raise PointInTimeRefusedError(f"no complete {kind}backup with a binlog position started at or before "
                                      f"{format_time(until)}")
    reasons = []
    for manifest in candidates:
        try:
            return _plan_from(storage, manifest, view=view, until=until, work_dir=work_dir, identities=identities)
        except _UnusableBackupError as exc:
            log.debug("backup %s cannot reach %s: %s", manifest.id, format_time(until), exc,
                      extra={"event": "pitr-candidate", "backup_id": manifest.id})
            reasons.append(f"backup {manifest.id}: {exc}")
    more = f" (and {len(reasons) - 1} older backup(s) cannot either)" if len(reasons) > 1 else ""
    raise PointInTimeRefusedError(f"cannot restore {format_time(until)}: {reasons[0]}{more}")


def _plan_from(storage: Storage, manifest: Manifest, *, view: ArchiveView, until: datetime,
               work_dir: Path, identities: Sequence[Any]) -> ReplayPlan:
    assert manifest.binlog is not None
    window, start_seq = view.window_of(manifest), view.first_needed_seq(manifest)
    if window is None or start_seq is None:
        raise _UnusableBackupError(f"its snapshot GTID state {manifest.binlog.gtid_state or '(empty)'} is not inside "
                                   "any gap-free window of the binlog archive")
    if until > view.end_of(window):
        raise _UnusableBackupError(_gap_after(view, window))
    # Read only now, and only from the first segment the snapshot lacks: a month of archive costs the
    # rollups of the stretch replayed, not one request per segment.
    before = view.history.record_at(start_seq - 1) if start_seq > window.first_seq else None
    if isinstance(before, SegmentRecord) and before.last_time > until:
        raise _UnusableBackupError("its snapshot holds transactions committed after that second")
    selector = _Selector(parse_state(manifest.binlog.gtid_state), until=until)
    files, seqs, previous = [], [], before
    compacted, read_through = CompactedSegments(storage, view.history.prefix), -1
    for record in view.segments_of(window, from_seq=start_seq):
        try:
            check_continuity(previous, record)  # read_history assumed it for the newest records
        except ArchiveDamageError as exc:
            raise _UnusableBackupError(f"a gap in the binlog archive lies in the range ({exc})") from None
        previous = record
        seqs.append(record.seq)
        if record.seq <= read_through:
            continue  # its transactions came with the compacted segment read at an earlier seq
        segment, read_through = _read_compacted(compacted, view, record, read_through)
        if segment is None:
            segment = _read_checked(storage, view, record, identities=identities)
        picked, fde = selector.select(segment)
        if picked:
            files.append(work_dir / f"replay-{record.seq:012d}.binlog")
            files[-1].write_bytes(build_segment(fde, picked))
        if selector.stopped:
            break
    return selector.plan(manifest, files=tuple(files), seqs=tuple(seqs))


def _gap_after(view: ArchiveView, window: GapFreeWindow) -> str:
    following = view.history.record_at(window.last_seq + 1)
    if isinstance(following, GapRecord):
        return (f"a gap in the binlog archive lies in the range (gaps/{following.seq:012d}: GTID state "
                f"{following.from_gtid_state or '(empty)'}{_at(following.from_time)} to "
                f"{following.to_gtid_state}{_at(following.to_time)}; {following.reason})")
    if following is not None:
        return (f"a gap in the binlog archive lies in the range (segment {following.seq} does not continue from "
                f"{window.end_state})")
    return f"the archive ends at {format_time(view.end_of(window))}"


def _at(moment: str | None) -> str:
    return f" at {moment}" if moment else ""


def _read_compacted(compacted: CompactedSegments, view: ArchiveView, record: SegmentRecord,
                    read_through: int) -> tuple[tuple[list[Transaction], TransactionScanner] | None, int]:
    """The compacted segment covering ``record`` and the last seq it holds; (None, unchanged) when
    there is none, or when it cannot be used (noted: the small segments are read, if still there)."""
    bounds = compacted.covering(record.seq)
    if bounds is None:
        return None, read_through
    try:
        _, transactions, fde = compacted.read(*bounds)
    except CompactionError as exc:
        view.history.note(f"{exc}: its small segments are read instead")
        return None, read_through
    scanner = TransactionScanner()
    scanner.format_description = fde
    return (transactions, scanner), bounds[1]


def _read_checked(storage: Storage, view: ArchiveView, record: SegmentRecord, *,
                  identities: Sequence[Any]) -> tuple[list[Transaction], TransactionScanner]:
    """The segment, checked against its record. When the copy a rollup holds does not match the segment,
    the index record itself decides: a rollup that disagrees with it is noted and passed over."""
    try:
        return _read_segment(storage, record, identities=identities)
    except SegmentDamagedError:
        own = read_segment_record(storage, view.history.prefix, record.seq)
        if own == record:
            raise
        view.history.note(f"binlog archive rollup copy of index record {record.seq} does not match the record: "
                          "the record is used")
        return _read_segment(storage, own, identities=identities)


def _read_segment(storage: Storage, record: SegmentRecord, *,
                  identities: Sequence[Any]) -> tuple[list[Transaction], TransactionScanner]:
    with storage.open_read(record.segment) as stream:
        stored = stream.read()
    sha1 = hashlib.sha1(stored).hexdigest()  # noqa: S324  # the index record's integrity check, not security
    if len(stored) != record.size or sha1 != record.sha1:
        raise SegmentDamagedError(f"binlog segment {record.segment} does not match its index record "
                                  f"({len(stored)} bytes with SHA1 {sha1}; recorded {record.size} bytes, "
                                  f"{record.sha1})")
    data = segment_plaintext(stored, record, identities=identities)  # undoes encryption, if any
    scanner = TransactionScanner()
    try:
        transactions = [done for event in read_file_events(data) if (done := scanner.feed(event)) is not None]
    except BinlogFormatError as exc:
        raise SegmentDamagedError(f"binlog segment {record.segment} is not a readable binlog: {exc}") from None
    return transactions, scanner


class _Selector:
    """Walks the archive's transactions in order: skips what the snapshot holds, keeps the rest up to TIME."""

    def __init__(self, snapshot: dict[int, Gtid], *, until: datetime) -> None:
        self.snapshot = snapshot
        self.applied = dict(snapshot)  # the snapshot plus what is replayed so far: duplicates are skipped
        self.until_ts = until.timestamp()
        self.until = until
        self.stopped = False
        self.picked: list[Transaction] = []
        self.replay_bytes = 0

    def select(self, segment: tuple[list[Transaction], TransactionScanner]) -> tuple[list[Transaction], Event]:
        transactions, scanner = segment
        if scanner.format_description is None:
            raise SegmentDamagedError("a binlog segment has no Format_description event")
        picked = [tx for tx in transactions if self._keep(tx)]
        self.picked += picked
        self.replay_bytes += sum(tx.end - tx.start for tx in picked)
        return picked, scanner.format_description

    def _keep(self, tx: Transaction) -> bool:
        in_snapshot = contains(self.snapshot, tx.gtid)
        if in_snapshot and (self.stopped or tx.timestamp > self.until_ts):
            raise _UnusableBackupError("its snapshot holds transactions committed after that second")
        if in_snapshot or self.stopped:
            return False
        if tx.timestamp > self.until_ts:
            self.stopped = True
            return False
        if contains(self.applied, tx.gtid):
            return False  # archived twice (e.g. around a failover): replay it once
        self.applied[tx.gtid.domain_id] = tx.gtid
        return True

    def plan(self, manifest: Manifest, *, files: tuple[Path, ...], seqs: tuple[int, ...]) -> ReplayPlan:
        first, last = (self.picked[0], self.picked[-1]) if self.picked else (None, None)
        return ReplayPlan(backup=manifest, until=self.until.astimezone(UTC), files=files,
                          start_state=format_state(self.snapshot), end_state=format_state(self.applied),
                          first_gtid=str(first.gtid) if first else None, last_gtid=str(last.gtid) if last else None,
                          last_time=last.time if last else None, transactions=len(self.picked),
                          replay_bytes=self.replay_bytes, segments=seqs)
