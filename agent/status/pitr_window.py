"""The point-in-time recovery window ``status`` shows, read from the binlog archive's history
(``shared/binlogs/index.py``: index and gap records, split into gap-free windows).

A time T is recoverable when some complete backup started at or before T and the archive has no gap
from that backup to T (``restore --until``). So the window is the newest gap-free stretch of the
archive, starting at the oldest complete backup taken inside it. Matching backups to the stretch by
time (the backup's start ≥ the stretch's first archived commit) is the reading a person needs here;
``restore --until`` checks the exact GTID positions itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.common.catalog import BackupEntry
from shared.binlogs.index import iter_history, recoverable_windows
from shared.binlogs.layout import binlogs_root
from shared.binlogs.records import GapRecord
from shared.storage import Storage


@dataclass(frozen=True)
class PitrWindow:
    archived_from: datetime | None  # first archived commit of the newest gap-free stretch
    archived_to: datetime | None  # last archived commit
    recoverable_from: datetime | None  # start of the oldest complete backup inside that stretch
    gaps: int  # recorded gaps in the whole archive

    @property
    def recoverable(self) -> bool:
        return self.recoverable_from is not None and self.archived_to is not None


def read_pitr_window(storage: Storage, *, prefix: str, backups: list[BackupEntry]) -> PitrWindow | None:
    """None when nothing is archived under ``<prefix>/binlogs/``."""
    if next(iter(storage.list(binlogs_root(prefix))), None) is None:
        return None
    history = list(iter_history(storage, prefix))
    gaps = sum(isinstance(record, GapRecord) for record in history)
    windows = recoverable_windows(history)
    if not windows:
        return PitrWindow(archived_from=None, archived_to=None, recoverable_from=None, gaps=gaps)
    newest = windows[-1]
    inside = [e.started for e in backups if e.complete and newest.start_time <= e.started <= newest.end_time]
    return PitrWindow(archived_from=newest.start_time, archived_to=newest.end_time,
                      recoverable_from=min(inside) if inside else None, gaps=gaps)
