"""Which seconds can be restored: the binlog archive's recoverable windows matched with the backups.

A window (``shared.binlogs.index.recoverable_windows``) is a stretch of the archive without a gap. A
backup can start a point-in-time restore when its snapshot's GTID state lies inside a window; from it,
any second up to the window's last archived transaction is reachable. So the restorable range of a
window runs from the oldest such backup's snapshot to the window's end. ``list`` shows it, ``prune``
keeps what the oldest kept backup needs, ``restore --until`` plans inside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from agent.common.catalog import BackupEntry
from shared.binlogs.gtid import GtidState, covered_by, parse_state
from shared.binlogs.index import HistoryRecord, RecoverableWindow, iter_history, recoverable_windows
from shared.binlogs.records import GapRecord, SegmentRecord, format_time
from shared.manifest import Manifest
from shared.storage import Storage


@dataclass(frozen=True)
class ArchiveView:
    history: list[HistoryRecord]
    windows: list[RecoverableWindow]

    @property
    def gaps(self) -> list[GapRecord]:
        return [r for r in self.history if isinstance(r, GapRecord)]

    def segments_of(self, window: RecoverableWindow) -> list[SegmentRecord]:
        return [r for r in self.history
                if isinstance(r, SegmentRecord) and window.first_seq <= r.seq <= window.last_seq]

    def window_of(self, manifest: Manifest) -> RecoverableWindow | None:
        if manifest.binlog is None:
            return None
        return window_holding(self.windows, parse_state(manifest.binlog.gtid_state))

    def first_needed_seq(self, manifest: Manifest) -> int | None:
        """The seq of the first segment a restore from ``manifest`` reads (None: not restorable from it)."""
        window = self.window_of(manifest)
        if window is None or manifest.binlog is None:
            return None
        snapshot = parse_state(manifest.binlog.gtid_state)
        needed = (r.seq for r in self.segments_of(window) if not covered_by(parse_state(r.gtid_state_after), snapshot))
        return next(needed, window.last_seq + 1)


def read_archive(storage: Storage, prefix: str) -> ArchiveView:
    history = list(iter_history(storage, prefix))
    return ArchiveView(history=history, windows=recoverable_windows(history))


def window_holding(windows: list[RecoverableWindow], snapshot: GtidState) -> RecoverableWindow | None:
    """The window whose span holds ``snapshot``. Domains the archive never saw (another Galera node's own
    domain) cannot be checked, so they are left out of the comparison."""
    for window in windows:
        end = parse_state(window.end_state)
        if covered_by(parse_state(window.start_state), snapshot) and covered_by(
                {d: g for d, g in snapshot.items() if d in end}, end):
            return window
    return None


@dataclass(frozen=True)
class RestorableRange:
    start: datetime  # the oldest usable backup's start (its snapshot is taken moments later)
    end: datetime  # the last archived transaction of the window
    base_backup: str
    backups: int
    first_seq: int
    last_seq: int


def restorable_ranges(view: ArchiveView, backups: list[BackupEntry]) -> list[RestorableRange]:
    ranges = []
    for window in view.windows:
        usable = [e for e in backups if e.complete and e.manifest and view.window_of(e.manifest) == window]
        if usable:
            oldest = usable[-1]  # backups come newest first
            ranges.append(RestorableRange(start=oldest.started, end=window.end_time, base_backup=oldest.backup_id,
                                          backups=len(usable), first_seq=window.first_seq, last_seq=window.last_seq))
    return ranges


def windows_text(view: ArchiveView, backups: list[BackupEntry]) -> str:
    """``list``'s section on the binlog archive: what can be restored to the second, and every gap."""
    ranges = restorable_ranges(view, backups)
    segments = sum(isinstance(r, SegmentRecord) for r in view.history)
    lines = [f"point-in-time restore (binlog archive: {segments} segment(s), {len(view.gaps)} gap(s)):"]
    lines += [f"  restorable {format_time(r.start)} .. {format_time(r.end)}  from backup {r.base_backup} "
              f"({r.backups} usable backup(s), segments {r.first_seq}-{r.last_seq})" for r in ranges]
    if not ranges:
        lines.append("  nothing restorable to a point yet: no complete backup with a binlog position lies inside "
                     "the archive")
    lines += [f"  gap gaps/{g.seq:012d}: GTID state {g.from_gtid_state or '(empty)'} to {g.to_gtid_state} "
              f"({g.reason})" for g in view.gaps]
    return "\n".join(lines)


def pitr_json(entry: BackupEntry, view: ArchiveView) -> dict[str, object]:
    """``list --json``: each backup's binlog position and the last second it can be restored to."""
    if entry.manifest is None:
        return {}
    window = view.window_of(entry.manifest)
    binlog = entry.manifest.binlog
    return {"binlog": asdict(binlog) if binlog else None,
            "restorable_until": format_time(window.end_time) if window else None}
