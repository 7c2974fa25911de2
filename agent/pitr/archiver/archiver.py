"""The archiving loop: resume from the bucket, follow a node, cut segments, fail over, record gaps.

There is no local state: the bucket's last index or gap record says which ``seq`` comes next and
which GTID state is archived, and the stream restarts after that state (``kill -9`` loses at most
the transactions not yet committed to the bucket, and those are read again). A new archive starts at
the server's oldest binlog file. When the server no longer has the archived state (purged), the
other nodes are asked; if none has it, a gap record says what was lost, an error is logged, and the
archive resumes at the oldest file that remains: a gap is never papered over.

A follower rides out a storage outage (``_flush``): uploads that fail after the storage retries are
kept in the segmenter's bounded in-memory queue while the stream goes on being read; they are tried
again with a backoff that doubles up to the upload interval, and the lag metric keeps growing
meanwhile. When storage answers, the queue goes up in order, with no gap. It exits only when the
buffer is full (``MAX_BUFFERED_BYTES``) or for what does not heal (credentials, configuration: not
``TransientStorageError``). A one-shot run fails as before: it is not meant to wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from agent.pitr.archiver.compacting import Compactor
from agent.pitr.archiver.metrics import REFRESH_SECONDS
from agent.pitr.archiver.nodes import (
    Node,
    NodeUnavailableError,
    binlog_files,
    current_position,
    inspect_node,
    node_defaults,
)
from agent.pitr.archiver.rolling import Rollups
from agent.pitr.archiver.segmenter import MAX_BUFFERED_BYTES, ArchivePosition, Segmenter
from agent.pitr.archiver.stream import BinlogStream, FileEvent, StartAt, StreamError, dump_argv, file_order
from agent.pitr.archiver.watchdog import Watchdog
from shared.binlogs.checkpoint import write_checkpoint
from shared.binlogs.events import GTID_LIST_EVENT, TransactionScanner, gtid_list_of
from shared.binlogs.gtid import Gtid, advance, format_state, parse_state
from shared.binlogs.history import ArchiveHistory, read_history
from shared.binlogs.index import archived_state, next_seq
from shared.binlogs.records import GapRecord, SegmentRecord, SourceNode
from shared.config.binlog import ArchiveSettings, Endpoint
from shared.encryption import NO_ENCRYPTION, EncryptionSettings
from shared.errors import BackupFailedError
from shared.mariadb_client import ClientError, run_client_query
from shared.storage.base import Storage, TransientStorageError
from shared.times import parse_time

log = logging.getLogger("mariadb_ha_backup.archive")

# How often the child's output is checked: well under a second, so reading adds little to the lag.
POLL_SECONDS = 0.1
# Waiting for any node to come back: start at 1 s, double, never more than 10 s between tries.
_BACKOFF_FIRST, _BACKOFF_MAX = 1.0, 10.0


class NoNodeError(BackupFailedError):
    """No configured node could be followed within the retry budget (exit 1; the Deployment restarts)."""


@dataclass
class ArchiveResult:
    segments: int = 0
    transactions: int = 0
    gaps: list[GapRecord] = field(default_factory=list)
    state: str = ""
    nodes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str


def resume_position(history: ArchiveHistory) -> ArchivePosition:
    record = history.last
    last_time = None
    if isinstance(record, SegmentRecord):
        last_time = record.last_time
    elif isinstance(record, GapRecord) and record.to_time:
        last_time = parse_time(record.to_time, what="gap record to_time")
    return ArchivePosition(seq=next_seq(record), state=parse_state(archived_state(record)), last_time=last_time)


class ArchiveObserver(Protocol):
    """What the archiver reports as it goes (``agent.pitr.archiver.metrics.MetricsPublisher`` turns it into
    gauges): each committed segment, each recorded gap, and the lag behind the newest binlog event."""

    def segment(self, record: SegmentRecord) -> None: ...

    def gap(self, record: GapRecord) -> None: ...

    def lag(self, seconds: float) -> None: ...


class _Unobserved:
    def segment(self, record: SegmentRecord) -> None:
        pass

    def gap(self, record: GapRecord) -> None:
        pass

    def lag(self, seconds: float) -> None:
        pass


class Archiver:
    """One archiving run over the configured nodes; ``result`` says what it did."""

    def __init__(self, storage: Storage, *, prefix: str, settings: ArchiveSettings, credentials: Credentials,
                 run_dir: Path, retry_seconds: float, stop: threading.Event,
                 observer: ArchiveObserver | None = None, encryption: EncryptionSettings = NO_ENCRYPTION,
                 retain: Callable[[str], None] = lambda key: None) -> None:
        self.settings, self.credentials, self.run_dir = settings, credentials, run_dir
        self.retry_seconds = retry_seconds
        self.stop = stop
        self.observer = observer or _Unobserved()
        self._lag_reported = 0.0
        self.result = ArchiveResult()
        history = read_history(storage, prefix)  # the rollups and the records after them, not every record
        # Compaction (BINLOG_COMPACT) takes each rollup as it is written, on a thread of its own.
        self.compactor = Compactor(storage, prefix=prefix, retain=retain) if settings.compact else None
        self.rollups = Rollups(history, max_records=settings.rollup_records, retain=retain,
                               on_rollup=self.compactor.submit if self.compactor else lambda rollup: None)
        self.segmenter = Segmenter(storage, prefix=prefix, position=resume_position(history),
                                   cut_after_seconds=settings.upload_seconds / 2, on_commit=self._committed,
                                   encryption=encryption, retain=retain)
        self._order = list(settings.sources)
        self._purged_on: set[Endpoint] = set()
        self._gap_reason: str | None = None
        self._awaiting_file_state = False
        self._upload_retry_at = 0.0  # storage down: monotonic time of the next upload attempt
        self._upload_backoff = 0.0
        self._storage, self._prefix = storage, prefix
        self._checked_at = 0.0  # monotonic time of the last checkpoint check

    def run(self, *, follow: bool) -> ArchiveResult:
        """Archive until caught up (one-shot) or until ``stop`` is set (``--follow``)."""
        while not self.stop.is_set():
            node = self._pick_node()
            if node is None:
                break
            try:
                if self._follow(node, start=self._start_point(node), follow=follow):
                    break
            except StreamError as exc:
                self._stream_ended(node, exc)
        self.segmenter.flush()
        self.rollups.close()
        if self.compactor is not None:
            self.compactor.close()
        self.result.state = format_state(self.segmenter.position.state)
        return self.result

    def _pick_node(self) -> Node | None:
        """The first followable node in preference order, waiting (with backoff) while none is."""
        delay, waited = _BACKOFF_FIRST, 0.0
        while not self.stop.is_set():
            for endpoint in self._order:
                defaults = node_defaults(self.run_dir, endpoint, user=self.credentials.user,
                                         password=self.credentials.password)
                try:
                    return inspect_node(endpoint, defaults)
                except NodeUnavailableError as exc:
                    log.warning("cannot follow %s: %s", endpoint, exc, extra={"event": "node-unavailable"})
            if waited >= self.retry_seconds:
                raise NoNodeError(f"no node to archive binlogs from after {waited:.0f} s: "
                                  f"{', '.join(map(str, self._order))}")
            self.stop.wait(delay)
            waited, delay = waited + delay, min(delay * 2, _BACKOFF_MAX)
        return None

    def _start_point(self, node: Node) -> StartAt:
        position = self.segmenter.position
        if self._gap_reason is not None or (position.seq == 0 and not position.state):
            self._awaiting_file_state = True
            return StartAt(file=binlog_files(node)[0])
        return StartAt(gtid_state=format_state(position.state))

    def _follow(self, node: Node, *, start: StartAt, follow: bool) -> bool:
        """Stream from ``node`` until caught up (True), stopped (True) or the stream ends (StreamError)."""
        target = None if follow else current_position(node)
        source = SourceNode(host=str(node.endpoint), node=node.hostname, server_id=node.server_id)
        log.info("following %s (%s) from %s, next seq %d", node.endpoint, node.hostname,
                 start.gtid_state or start.file, self.segmenter.position.seq,
                 extra={"event": "follow", "node": node.hostname, "target": target, "follow": follow})
        if node.hostname not in self.result.nodes:
            self.result.nodes.append(node.hostname)
        out_dir = self.run_dir / "stream"
        argv = dump_argv(node.binlog_defaults_file, out_dir=out_dir, server_id=self.settings.server_id, start=start)
        with BinlogStream(argv, out_dir=out_dir) as stream:
            try:
                return self._pump(stream, Watchdog(node), source=source, target=target, node=node)
            finally:
                _clear(out_dir)

    def _pump(self, stream: BinlogStream, watchdog: Watchdog, *, source: SourceNode,
              target: tuple[str, int] | None, node: Node | None = None) -> bool:
        """Read, cut and upload until caught up or stopped (True); a dead or stalled stream raises."""
        scanner = TransactionScanner()
        while True:
            events = stream.read()
            watchdog.saw(events)
            reached = self._consume(events, scanner, source=source, target=target)
            if (reached and not scanner.in_transaction) or self.stop.is_set():
                return True
            if self.segmenter.due():
                self._flush(ride_out=target is None)
            if target is None and node is not None and not scanner.in_transaction:
                self._checkpoint(node)
            self._report_lag()
            failure = stream.failure() or watchdog.check()
            if failure is not None:
                self._consume(stream.read(), scanner, source=source, target=target)
                raise failure
            self.stop.wait(POLL_SECONDS)

    def _checkpoint(self, node: Node) -> None:
        """Once per upload interval, while nothing waits to be uploaded: if the server's GTID position is the
        archived state, record that the archive is complete up to the server's current time
        (shared/binlogs/checkpoint.py): an idle database stays restorable up to about now."""
        if time.monotonic() - self._checked_at < self.settings.upload_seconds or self.segmenter.buffered_bytes:
            return
        self._checked_at = time.monotonic()
        try:
            ((position, now),) = run_client_query(node.defaults_file, "SELECT @@gtid_binlog_pos, UTC_TIMESTAMP()")
            if parse_state(position) != self.segmenter.position.state:
                return  # a transaction is on its way (or read but not yet cut): the next check
            write_checkpoint(self._storage, self._prefix, gtid_state=format_state(self.segmenter.position.state),
                             complete_at=parse_time(now.replace(" ", "T") + "Z", what="server UTC_TIMESTAMP()"),
                             node=node.hostname)
        except (ClientError, TransientStorageError) as exc:  # a later check will do; the window only lags
            log.warning("archive checkpoint skipped: %s", exc, extra={"event": "checkpoint-skipped"})

    def _flush(self, *, ride_out: bool) -> None:
        """Upload what is due; a follower keeps what storage refused and tries again later."""
        if time.monotonic() < self._upload_retry_at:
            return
        try:
            self.segmenter.flush()
        except TransientStorageError as exc:
            if not ride_out:
                raise
            if self.segmenter.buffer_full():
                raise BackupFailedError(f"storage unreachable and {MAX_BUFFERED_BYTES >> 20} MiB of binlog buffered "
                                        f"in memory: stopping (a restart resumes from the bucket): {exc}") from exc
            cap = max(1.0, self.settings.upload_seconds)
            self._upload_backoff = min(cap, max(1.0, self._upload_backoff * 2))
            self._upload_retry_at = time.monotonic() + self._upload_backoff
            log.warning("storage unavailable, %d bytes of binlog kept in memory, next upload in %.0f s: %s",
                        self.segmenter.buffered_bytes, self._upload_backoff, exc,
                        extra={"event": "storage-unavailable", "buffered_bytes": self.segmenter.buffered_bytes})
            return
        self._upload_backoff = 0.0

    def _report_lag(self) -> None:
        """Every REFRESH_SECONDS: how old the oldest received-but-unstored transaction is (0: none)."""
        if time.monotonic() - self._lag_reported < REFRESH_SECONDS:
            return
        self._lag_reported = time.monotonic()
        oldest = self.segmenter.oldest_pending_time
        self.observer.lag(time.time() - oldest.timestamp() if oldest else 0.0)

    def _consume(self, events: list[FileEvent], scanner: TransactionScanner, *, source: SourceNode,
                 target: tuple[str, int] | None) -> bool:
        """Feed events to the scanner and the segmenter; True once ``target`` is reached."""
        reached = False
        for item in events:
            if item.event.type_code == GTID_LIST_EVENT and self._awaiting_file_state and not item.artificial:
                self._file_start_state(item, source)
            done = scanner.feed(item.event)
            if done is not None:
                assert scanner.format_description is not None
                if self.segmenter.add(done, source=source, source_file=item.file,
                                      format_description=scanner.format_description):
                    self.result.transactions += 1
            reached = reached or (target is not None and _at_or_past(item, target))
        return reached

    def _file_start_state(self, item: FileEvent, source: SourceNode) -> None:
        """The first Gtid_list of a stream started at a file: the state before that file's transactions."""
        self._awaiting_file_state = False
        listed = gtid_list_of(item.event)
        if self._gap_reason is None:
            if self.segmenter.position.seq == 0 and not self.segmenter.position.state:
                self.segmenter.reset_state(advance({}, listed))
            return
        self._record_gap(advance(self.segmenter.position.state, _newer(self.segmenter.position.state, listed)),
                         to_time=item.event.time, source=source)

    def _record_gap(self, to_state: dict[int, Gtid], *, to_time: datetime, source: SourceNode) -> None:
        reason, self._gap_reason = self._gap_reason or "", None
        gap = self.segmenter.record_gap(to_state=to_state, to_time=to_time, reason=reason, source=source)
        self.rollups.committed(gap)
        self.result.gaps.append(gap)
        self.observer.gap(gap)
        log.error("GAP in the binlog archive (seq %d): transactions after %r up to %r are lost; %s",
                  gap.seq, gap.from_gtid_state, gap.to_gtid_state, reason,
                  extra={"event": "gap", "seq": gap.seq, "from_time": gap.from_time, "to_time": gap.to_time})

    def _stream_ended(self, node: Node, exc: StreamError) -> None:
        """Commit what arrived complete, then choose how to go on."""
        try:
            self.segmenter.flush()
        except TransientStorageError as flush_error:  # storage down too: the next stream reads it again
            log.warning("could not store what %s sent before its stream ended: %s", node.endpoint, flush_error,
                        extra={"event": "storage-unavailable"})
        self.segmenter.discard_pending()
        if exc.kind == "purged" and self._gap_reason is None:
            self._purged_on.add(node.endpoint)
            if self._purged_on >= set(self._order):
                archived = format_state(self.segmenter.position.state)
                self._gap_reason = (f"no node still has the binlogs after {archived!r} "
                                    f"(purged on {', '.join(sorted(map(str, self._purged_on)))}): {exc}")
                self._purged_on.clear()
        else:
            log.warning("stream from %s ended: %s", node.endpoint, exc, extra={"event": "stream-ended",
                                                                               "kind": exc.kind})
        if exc.kind == "failed":
            raise BackupFailedError(f"mariadb-binlog failed on {node.endpoint}: {exc}")
        self._order.remove(node.endpoint)
        self._order.append(node.endpoint)  # try the others first: this one just failed us

    def _committed(self, record: SegmentRecord) -> None:
        self.rollups.committed(record)
        self.result.segments += 1
        self._purged_on.clear()
        self.observer.segment(record)


def _newer(state: dict[int, Gtid], listed: list[Gtid]) -> list[Gtid]:
    """Entries of a Gtid_list that move the state forward (never back)."""
    return [g for g in listed if g.domain_id not in state or g.seq_no > state[g.domain_id].seq_no]


def _at_or_past(item: FileEvent, target: tuple[str, int]) -> bool:
    file, position = target
    if item.event.next_position == 0:
        return False
    key = file_order(item.file)
    return key > file_order(file) or (key == file_order(file) and item.event.next_position >= position)


def _clear(directory: Path) -> None:
    """Local copies go as soon as their stream ends: the bucket is the only state we keep."""
    if directory.exists():
        for path in directory.iterdir():
            path.unlink(missing_ok=True)
        directory.rmdir()
