"""The archiver's side of compaction (``BINLOG_COMPACT=on``): each rollup written is compacted on a thread
of its own, so reading and rewriting an hour of segments never delays the stream (the RPO matters more).

Rollups are handed over in order; ``close`` waits until the queue is done, so a one-shot run leaves its
hours compacted. On start, the newest rollup is handed over again: a compaction a ``kill -9`` cut short
is finished (each step is idempotent, ``shared.binlogs.compaction``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from shared.binlogs.compaction import compact_rollup
from shared.binlogs.rollups import Rollup
from shared.errors import BackupFailedError
from shared.storage.base import Storage

log = logging.getLogger("mariadb_ha_backup.archive")


class Compactor:
    def __init__(self, storage: Storage, *, prefix: str, retain: Callable[[str], None]) -> None:
        self.storage, self.prefix, self.retain = storage, prefix, retain
        self._queue: queue.Queue[Rollup | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, daemon=True, name="compaction")
        self._thread.start()

    def submit(self, rollup: Rollup) -> None:
        self._queue.put(rollup)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _work(self) -> None:
        while (rollup := self._queue.get()) is not None:
            try:
                compact_rollup(self.storage, self.prefix, rollup.records, retain=self.retain)
            except BackupFailedError as exc:  # a record that cannot be read: the hour stays as it is
                log.warning("binlog archive rollup %d-%d not compacted: %s", rollup.first_seq, rollup.last_seq, exc,
                            extra={"event": "compaction-failed"})
