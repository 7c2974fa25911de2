"""The archiver's side of rollups: every record it commits is handed on, closed hours are rolled up.

A rollup is a convenience for readers, never the archive's truth, so failing to write one must not stop
archiving (the RPO matters more): the failure is logged, the records stay pending, and the next commit
tries again. A crash loses nothing either: the next run's ``resume`` reads the records after the newest
rollup. The first run over an archive written before rollups reads every record once to roll them up,
and then reads at most an hour of records on each start.
"""

from __future__ import annotations

import logging

from shared.binlogs.history import ArchiveHistory
from shared.binlogs.index import HistoryRecord
from shared.binlogs.rolling import RollupWriter
from shared.storage.base import StorageError

log = logging.getLogger("mariadb_ha_backup.archive")


class Rollups:
    def __init__(self, history: ArchiveHistory, *, max_records: int) -> None:
        self.writer = RollupWriter.resume(history, max_records=max_records)
        self.roll()  # what closed while no archiver ran (or ever, for an archive from before rollups)

    def committed(self, record: HistoryRecord) -> None:
        self.writer.add(record)
        self.roll()

    def roll(self) -> None:
        try:
            self.writer.roll()
        except StorageError as exc:
            log.warning("could not write a binlog archive rollup (will try again after the next segment): %s", exc,
                        extra={"event": "rollup-failed", "pending": len(self.writer.pending)})
