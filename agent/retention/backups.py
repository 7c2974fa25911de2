"""Retention: delete whole backups outside the policy, and leftovers of failed runs.

Policy, applied to complete backups (newest first):
- ``keep_last=N``: only the newest N are kept;
- ``max_age_days=D``: backups that started more than D days ago are deleted;
- with both, a backup is deleted when either rule says so (each is a limit);
- the newest complete backup is never deleted, whatever the policy says: a retention setting must
  not be able to leave a cluster with no backup at all;
- a physical backup that a kept incremental is built on (its full and every link between) is kept:
  chains are pruned whole, from the oldest, once no kept backup needs them (agent.common.chains).
Incomplete leftovers (a folder without a manifest: a failed or killed run) are deleted once both their
id and their newest object are more than a day old, so a backup still running is never touched. A
folder with an unreadable manifest is left alone: that needs a person to look at it.

Object lock: a backup any of whose objects is still retained is kept whole and reported (with the
date its retention ends); the check covers every object before the first delete.

Deletion order inside a backup: the manifest first, so a backup stops being "complete" before any of
its data disappears; a prune interrupted half-way leaves an incomplete leftover that the next prune
removes, never a manifest pointing at a missing archive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from agent.common.catalog import COMPLETE, INCOMPLETE, BackupEntry, scan_backups
from agent.common.chains import complete_by_id, needed_by
from agent.retention.binlogs import binlog_keys_to_prune
from shared.layout import MANIFEST_NAME
from shared.storage import Storage
from shared.storage.object_lock import latest_retention

log = logging.getLogger("mariadb_ha_backup.prune")

# A backup run is bounded by the Job's activeDeadlineSeconds (hours); a day leaves a wide margin
# before a folder without a manifest is declared abandoned.
LEFTOVER_AGE = timedelta(days=1)
# The removal standing for old binlog segments (not a backup id: those are timestamps).
BINLOGS_ID = "binlogs"


@dataclass(frozen=True)
class Removal:
    backup_id: str
    state: str  # "complete" or "incomplete"
    reason: str
    keys: tuple[str, ...]
    retained_until: str | None = None  # set when object lock keeps it: nothing of it was deleted


def plan_retention(entries: list[BackupEntry], *, keep_last: int | None, max_age_days: float | None,
                   now: datetime) -> list[Removal]:
    """What a prune would delete, oldest last as listed; pure (no storage calls)."""
    removals = []
    complete = [e for e in entries if e.state == COMPLETE]
    for position, entry in enumerate(complete):
        if position == 0:
            continue  # the newest complete backup is never deleted
        reason = _policy_reason(entry, position=position, keep_last=keep_last, max_age_days=max_age_days, now=now)
        if reason:
            removals.append(_removal(entry, reason))
    removals = _keeping_chains(removals, complete)
    for entry in entries:
        if entry.state == INCOMPLETE and min(now - entry.started, now - entry.last_modified) > LEFTOVER_AGE:
            removals.append(_removal(entry, "incomplete leftover (no manifest) older than a day"))
    return removals


def _keeping_chains(removals: list[Removal], complete: list[BackupEntry]) -> list[Removal]:
    """Physical backups a kept incremental is built on stay (agent.common.chains): deleting a full or a middle
    link would leave every later incremental of its chain unrestorable."""
    going = {r.backup_id for r in removals}
    backups = complete_by_id(e.manifest for e in complete if e.manifest is not None)
    needed = needed_by((m for m in backups.values() if m.id not in going), backups)
    for removal in removals:
        if removal.backup_id in needed:
            log.info("keeping backup %s (%s): a kept incremental is built on it", removal.backup_id, removal.reason,
                     extra={"event": "prune-chain-kept", "backup_id": removal.backup_id})
    return [r for r in removals if r.backup_id not in needed]


def _policy_reason(entry: BackupEntry, *, position: int, keep_last: int | None, max_age_days: float | None,
                   now: datetime) -> str | None:
    if keep_last is not None and position >= keep_last:
        return f"beyond the newest {keep_last}"
    if max_age_days is not None and now - entry.started > timedelta(days=max_age_days):
        return f"older than {max_age_days:g} days"
    return None


def _removal(entry: BackupEntry, reason: str) -> Removal:
    # Manifest first (see module docstring), then everything else in the folder.
    keys = sorted((o.key for o in entry.objects), key=lambda k: (not k.endswith("/" + MANIFEST_NAME), k))
    return Removal(backup_id=entry.backup_id, state=entry.state, reason=reason, keys=tuple(keys))


def prune(storage: Storage, *, prefix: str, keep_last: int | None, max_age_days: float | None,
          dry_run: bool = False, now: datetime | None = None) -> list[Removal]:
    """Apply the policy to the backups under ``prefix``; with ``dry_run`` only report what would go."""
    now = now or datetime.now(UTC)
    entries = scan_backups(storage, prefix=prefix)
    removals = [_unless_retained(storage, r, now=now) for r in plan_retention(
        entries, keep_last=keep_last, max_age_days=max_age_days, now=now)]
    removals += _binlog_removal(storage, prefix=prefix, entries=entries, removals=removals)
    for removal in removals:
        if removal.retained_until is not None:
            log.info("keeping backup %s (%s): object lock retains it until %s", removal.backup_id, removal.reason,
                     removal.retained_until, extra={"event": "prune-retained", "backup_id": removal.backup_id,
                                                    "retained_until": removal.retained_until})
            continue
        log.info("%s backup %s (%s)", "would delete" if dry_run else "deleting", removal.backup_id, removal.reason,
                 extra={"event": "prune", "backup_id": removal.backup_id, "dry_run": dry_run, "reason": removal.reason})
        if not dry_run:
            for key in removal.keys:
                storage.delete(key)
    return removals


def _binlog_removal(storage: Storage, *, prefix: str, entries: list[BackupEntry],
                    removals: list[Removal]) -> list[Removal]:
    """Binlog segments older than what the oldest kept backup needs (agent.retention.binlogs), as one removal."""
    gone = {r.backup_id for r in removals}
    kept = [e for e in entries if e.state == COMPLETE and e.backup_id not in gone]
    cutoff, keys = binlog_keys_to_prune(storage, prefix=prefix, kept=kept)
    if not keys:
        return []
    return [Removal(backup_id=BINLOGS_ID, state="binlog-archive", keys=tuple(keys),
                    reason=f"binlog records and segments before seq {cutoff}: no kept backup needs them")]


def _unless_retained(storage: Storage, removal: Removal, *, now: datetime) -> Removal:
    """Checked for every object before deleting any: a backup is deleted whole or not at all, since a
    retained archive without its manifest would be data nobody can find or restore."""
    until = latest_retention(storage, removal.keys, now=now)
    return replace(removal, retained_until=until.isoformat()) if until is not None else removal


def apply_retention(storage: Storage, *, prefix: str, keep_last: int | None, max_age_days: float | None,
                    dry_run: bool = False, now: datetime | None = None) -> list[str]:
    """The agent's post-backup retention: the ids deleted (or, with ``dry_run``, that would be)."""
    removals = prune(storage, prefix=prefix, keep_last=keep_last, max_age_days=max_age_days, dry_run=dry_run, now=now)
    return [r.backup_id for r in removals if r.retained_until is None and r.backup_id != BINLOGS_ID]
