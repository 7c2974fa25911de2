"""The archiver's side of rollups: every record it commits is handed on, closed hours are rolled up.

A rollup is a convenience for readers, never the archive's truth, so writing them must neither stop
nor delay archiving (the RPO matters more):

- **Catching up runs beside the stream.** On start, the records after the newest rollup are read and
  rolled up on a thread of their own: usually the last hour, but all of them the first time this
  version meets an archive written before rollups (a month of a busy server is ~500,000 small GETs).
  Records committed meanwhile wait in a queue and are handed over when the catch-up is done.
- **A rollup that cannot be written** (storage down) is logged and tried again after the next commit.
  If the catch-up itself fails, rollups pause until the next start (the queue is dropped: its records
  are in the bucket, and the next run's catch-up reads them).

A crash loses nothing: rollups are single create-only objects, and the next run rolls up what the
bucket's records say has closed. ``close`` waits for the catch-up, so a one-shot run leaves the
rollups complete.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from shared.binlogs.history import ArchiveHistory
from shared.binlogs.index import HistoryRecord
from shared.binlogs.rolling import RollupWriter
from shared.binlogs.rollups import Rollup
from shared.storage.base import StorageError

log = logging.getLogger("mariadb_ha_backup.archive")


class Rollups:
    def __init__(self, history: ArchiveHistory, *, max_records: int,
                 retain: Callable[[str], None] = lambda key: None,
                 on_rollup: Callable[[Rollup], None] = lambda rollup: None) -> None:
        self._on_rollup = on_rollup  # each rollup written (and, on start, the newest one already there)
        self._lock = threading.Lock()
        self._queued: list[HistoryRecord] = []
        self._writer: RollupWriter | None = None
        self._paused = False
        self._thread = threading.Thread(target=self._catch_up, args=(history, max_records, retain), daemon=True,
                                        name="rollup-catch-up")
        self._thread.start()

    def committed(self, record: HistoryRecord) -> None:
        """A record the archiver just committed to the bucket."""
        with self._lock:
            if self._paused:
                return
            if self._writer is None:  # still catching up: handed over when done
                self._queued.append(record)
                return
        self._writer.add(record)
        self._roll(self._writer)

    def close(self) -> None:
        """Wait for the catch-up (a one-shot run ends with its rollups written)."""
        self._thread.join()
        if self._writer is not None:
            self._roll(self._writer)

    def _catch_up(self, history: ArchiveHistory, max_records: int, retain: Callable[[str], None]) -> None:
        try:
            writer = RollupWriter.resume(history, max_records=max_records, retain=retain)
            if history.newest_rollup is not None:
                self._on_rollup(history.newest_rollup)  # finishes what a kill -9 may have cut short
            for rollup in writer.roll():
                self._on_rollup(rollup)
        except StorageError as exc:
            log.warning("binlog archive rollups paused until the next start: %s", exc,
                        extra={"event": "rollup-failed"})
            with self._lock:
                self._paused, self._queued = True, []
            return
        with self._lock:
            for record in self._queued:
                writer.add(record)
            self._queued = []
            self._writer = writer


    def _roll(self, writer: RollupWriter) -> None:
        try:
            for rollup in writer.roll():
                self._on_rollup(rollup)
        except StorageError as exc:
            log.warning("could not write a binlog archive rollup (will try again after the next segment): %s", exc,
                        extra={"event": "rollup-failed", "pending": len(writer.pending)})
