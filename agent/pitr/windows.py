"""Which seconds can be restored: the binlog archive's gap-free windows matched with the backups.

A window (``shared.binlogs.index.gap_free_windows``) is a stretch of the archive without a gap. A
backup can start a point-in-time restore when its snapshot's GTID state lies inside a window; from it,
any second up to the window's last archived transaction is reachable. So the restorable range of a
window runs from the oldest such backup's snapshot to the window's end. ``list`` and ``status`` show
it, ``prune`` keeps what the oldest kept backup needs, ``restore --until`` plans inside it: one
definition, so ``status`` never promises a second that ``restore --until`` then refuses.

A window ends at its last archived transaction, or later: the newest window reaches the archive's
checkpoint (``shared.binlogs.checkpoint``) when the checkpoint's GTID state is still the window's end
state, i.e. the follower saw the server hold nothing newer at that time (an idle database stays
restorable up to "now minus the upload interval"). ``ArchiveView.end_of`` is that end; everything
here uses it.

The archive is read through its rollups (``shared.binlogs.history``): the windows cost a constant number
of requests however long the archive, and the records of a window are read only by those who need them
(``restore --until`` the stretch it replays, ``prune`` what it deletes).

JSON field names (``status --json``'s ``pitr`` object and ``list --json``'s per-backup fields), all times
ISO 8601 UTC with ``Z``: ``restorable``, ``restorable_from``, ``restorable_until``, ``base_backup``,
``archived_from``, ``archived_until``, ``last_archived_age_seconds``, ``gaps``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

from agent.common.catalog import BackupEntry
from shared.binlogs.checkpoint import Checkpoint, read_checkpoint
from shared.binlogs.gtid import GtidState, covered_by, parse_state
from shared.binlogs.history import ArchiveHistory, read_history
from shared.binlogs.index import GapFreeWindow
from shared.binlogs.records import GapRecord, SegmentRecord
from shared.manifest import Manifest
from shared.storage import Storage
from shared.times import format_time


@dataclass(frozen=True)
class ArchiveView:
    """The archive as ``read_history`` found it (rollups plus the records after them, a constant number
    of requests): the windows and gaps at once, the records of a window read when asked for."""

    history: ArchiveHistory  # truthy when anything is archived
    checkpoint: Checkpoint | None = None

    @property
    def windows(self) -> list[GapFreeWindow]:
        return self.history.windows

    def end_of(self, window: GapFreeWindow) -> datetime:
        """The last second ``window`` can restore: its last transaction, or the checkpoint's time when the
        archive was known complete later than that with nothing newer committed."""
        checkpoint = self.checkpoint
        if (checkpoint is not None and self.windows and window == self.windows[-1]
                and parse_state(checkpoint.gtid_state) == parse_state(window.end_state)
                and checkpoint.time > window.end_time):
            return checkpoint.time
        return window.end_time

    @property
    def gaps(self) -> list[GapRecord]:
        return self.history.gaps

    def segments_of(self, window: GapFreeWindow, *, from_seq: int | None = None) -> Iterator[SegmentRecord]:
        return self.history.segments_of(window, from_seq=from_seq)

    def window_of(self, manifest: Manifest) -> GapFreeWindow | None:
        if manifest.binlog is None:
            return None
        return window_holding(self.windows, parse_state(manifest.binlog.gtid_state))

    def first_needed_seq(self, manifest: Manifest) -> int | None:
        """The seq of the first segment a restore from ``manifest`` reads (None: not restorable from it)."""
        window = self.window_of(manifest)
        if window is None or manifest.binlog is None:
            return None
        return self.history.first_needed_seq(window, parse_state(manifest.binlog.gtid_state))


def read_archive(storage: Storage, prefix: str) -> ArchiveView:
    return ArchiveView(history=read_history(storage, prefix), checkpoint=read_checkpoint(storage, prefix))


def window_holding(windows: list[GapFreeWindow], snapshot: GtidState) -> GapFreeWindow | None:
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
            ranges.append(RestorableRange(start=oldest.started, end=view.end_of(window), base_backup=oldest.backup_id,
                                          backups=len(usable), first_seq=window.first_seq, last_seq=window.last_seq))
    return ranges


def current_range(view: ArchiveView, backups: list[BackupEntry]) -> RestorableRange | None:
    """The range that reaches the newest archived transaction: what an operator can restore to *now*.
    None when no complete backup lies inside the archive's newest window (take a backup)."""
    if not view.windows:
        return None
    newest = view.windows[-1]
    return next((r for r in restorable_ranges(view, backups) if r.last_seq == newest.last_seq), None)


def pitr_status_json(view: ArchiveView, backups: list[BackupEntry], *, now: datetime) -> dict[str, object]:
    """``status --json``'s ``pitr``: the current range, the newest window, the lag and the gap count."""
    current = current_range(view, backups)
    newest = view.windows[-1] if view.windows else None
    body: dict[str, object] = {
        "restorable": current is not None,
        "restorable_from": format_time(current.start) if current else None,
        "restorable_until": format_time(current.end) if current else None,
        "base_backup": current.base_backup if current else None,
        "archived_from": format_time(newest.start_time) if newest else None,
        "archived_until": format_time(view.end_of(newest)) if newest else None,
        "last_archived_age_seconds": int((now - view.end_of(newest)).total_seconds()) if newest else None,
        "gaps": len(view.gaps),
    }
    # Names status printed before the window had one definition; kept for scripts written against them.
    aliases = {"recoverable": "restorable", "recoverable_from": "restorable_from",
               "recoverable_to": "restorable_until", "archived_to": "archived_until"}
    return {**body, **{old: body[new] for old, new in aliases.items()}}


def windows_text(view: ArchiveView, backups: list[BackupEntry]) -> str:
    """``list``'s section on the binlog archive: what can be restored to the second, and every gap."""
    ranges = restorable_ranges(view, backups)
    lines = [f"point-in-time restore (binlog archive: {view.history.segment_count} segment(s), "
             f"{len(view.gaps)} gap(s)):"]
    lines += [f"  restorable {format_time(r.start)} .. {format_time(r.end)}  from backup {r.base_backup} "
              f"({r.backups} usable backup(s), segments {r.first_seq}-{r.last_seq})" for r in ranges]
    if not ranges:
        lines.append("  nothing restorable to a point yet: no complete backup with a binlog position lies inside "
                     "the archive")
    lines += [f"  gap gaps/{g.seq:012d}: GTID state {g.from_gtid_state or '(empty)'} to {g.to_gtid_state} "
              f"({g.reason})" for g in view.gaps]
    lines += [f"  note: {text}" for text in view.history.notes]  # a rollup read around: never silent
    return "\n".join(lines)


def pitr_json(entry: BackupEntry, view: ArchiveView) -> dict[str, object]:
    """``list --json``: each backup's binlog position and the last second it can be restored to."""
    if entry.manifest is None:
        return {}
    window = view.window_of(entry.manifest)
    binlog = entry.manifest.binlog
    return {"binlog": asdict(binlog) if binlog else None,
            "restorable_until": format_time(view.end_of(window)) if window else None}
