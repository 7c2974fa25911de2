"""Is there a recent enough backup? The verdict behind ``mariadb-ha-backup status``.

A backup's age counts from its id (the UTC start of the dump): with ``--single-transaction`` that is
the moment its data is from, so "younger than 26 h" means "we can restore data at most 26 h old".
Only complete backups (with a manifest) count; incomplete or damaged folders newer than the newest
complete one are reported, since they usually mean the recent runs are failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from agent.common.catalog import BackupEntry

DEFAULT_MAX_AGE = "26h"  # a daily schedule plus two hours of slack for a slow or retried run

OK, STALE, NONE = "ok", "stale", "none"


def verdict_on(age: timedelta | None, *, max_age: timedelta | None) -> str:
    """The one rule for backups and drills alike: none without one, OK under ``max_age`` (always OK
    when nothing is judged), stale at or over it."""
    if age is None:
        return NONE
    return OK if max_age is None or age < max_age else STALE


@dataclass(frozen=True)
class AgeJudged:
    """What ``status`` judges by age, backups and drills alike: the age runs from ``proven_at`` (when the
    data was last known restorable) to ``checked_at``, and ``verdict_on`` judges it."""

    checked_at: datetime
    max_age: timedelta | None  # None: shown, not judged

    @property
    def proven_at(self) -> datetime | None:
        raise NotImplementedError

    @property
    def age(self) -> timedelta | None:
        proven = self.proven_at
        return self.checked_at - proven if proven else None

    @property
    def verdict(self) -> str:
        return verdict_on(self.age, max_age=self.max_age)


@dataclass(frozen=True)
class Freshness(AgeJudged):
    max_age: timedelta  # backups are always judged
    newest: BackupEntry | None
    failed_since: tuple[BackupEntry, ...]  # incomplete/damaged folders newer than ``newest``

    @property
    def proven_at(self) -> datetime | None:
        return self.newest.started if self.newest else None


def assess(entries: list[BackupEntry], *, now: datetime, max_age: timedelta) -> Freshness:
    """``entries`` newest first, as ``agent.common.catalog.scan_backups`` returns them."""
    newest = next((e for e in entries if e.complete), None)
    newer = tuple(e for e in entries if not e.complete and (newest is None or e.started > newest.started))
    return Freshness(checked_at=now, max_age=max_age, newest=newest, failed_since=newer)


def is_encrypted(entry: BackupEntry) -> bool:
    """Read defensively: manifests written before encryption existed have no ``encryption`` field
    (None or absent means stored unencrypted)."""
    manifest = entry.manifest
    if manifest is None:
        return False
    return any(getattr(holder, name, None) for holder in (manifest, manifest.artifact)
               for name in ("encryption", "encrypted"))


def human_duration(delta: timedelta) -> str:
    """``3d 4h``, ``2h 5m``, ``45s``: the two largest units, enough to read at a glance."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return f"-{human_duration(-delta)}"
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])
