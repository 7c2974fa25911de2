"""Chains of physical backups: a full backup and the incrementals applied on it, in LSN order.

Each incremental records its ``parent`` (the backup it applies on) and its ``from_lsn``, which must be
the parent's ``to_lsn``: mariadb-backup copied every page changed since that checkpoint, nothing
earlier. Walking ``parent`` links from any member reaches the chain's full backup (``base``). A chain
is immutable: a new incremental only adds a link, a failed one adds nothing (no manifest, not listed).

Backup (which parent to build on), restore (which backups to prepare, in order), verify (is the chain
unbroken) and retention (which backups a kept one still needs) all read chains from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from shared.errors import BadInputError
from shared.layout import parse_backup_id
from shared.manifest import FULL, PHYSICAL, Manifest


class BrokenChainError(BadInputError):
    """An incremental whose chain back to its full backup has a missing, damaged or mismatched link."""


def complete_by_id(manifests: Iterable[Manifest]) -> dict[str, Manifest]:
    return {m.id: m for m in manifests}


def chain_of(manifest: Manifest, backups: Mapping[str, Manifest]) -> list[Manifest]:
    """The backups to restore ``manifest``: its full first, then each incremental up to itself.
    ``backups`` maps id → manifest of the complete backups; a gap raises ``BrokenChainError``."""
    if manifest.method != PHYSICAL or manifest.physical is None:
        return [manifest]
    chain = [manifest]
    while (link := chain[-1].physical) is not None and link.kind != FULL:
        parent = backups.get(link.parent or "")
        if parent is None or parent.physical is None:
            raise BrokenChainError(f"backup {manifest.id} cannot be restored: its chain needs backup "
                                   f"{link.parent}, which is missing or not a complete physical backup")
        if parent.physical.to_lsn != link.from_lsn or parent.physical.base != link.base:
            raise BrokenChainError(f"backup {manifest.id} cannot be restored: {chain[-1].id} starts at LSN "
                                   f"{link.from_lsn} but its parent {parent.id} ends at {parent.physical.to_lsn}")
        if len(chain) > len(backups):
            raise BrokenChainError(f"backup {manifest.id}: its parent links form a loop")
        chain.append(parent)
    return chain[::-1]


def needed_by(kept: Iterable[Manifest], backups: Mapping[str, Manifest]) -> set[str]:
    """Ids of every backup a kept backup's restore needs (its chain), itself included. A broken chain
    keeps what is left of it: deleting the rest would not make it restorable again."""
    needed: set[str] = set()
    for manifest in kept:
        current: Manifest | None = manifest
        while current is not None and current.id not in needed:
            needed.add(current.id)
            link = current.physical
            current = backups.get(link.parent) if link is not None and link.parent else None
    return needed


def parent_for_incremental(backups: Mapping[str, Manifest], *, now: datetime,
                           full_every: timedelta | None, forced: bool) -> Manifest | None:
    """The backup a new incremental builds on, or None for a full backup.

    The newest complete physical backup, when its chain is whole and its full backup is younger than
    ``full_every``. ``forced`` (``backup --incremental``) ignores the age but still needs a whole chain:
    without one there is nothing to build on (exit 2)."""
    physical = sorted((m for m in backups.values() if m.method == PHYSICAL and m.physical), key=lambda m: m.id)
    if not forced and full_every is None:
        return None
    if not physical:
        if forced:
            raise BrokenChainError("--incremental: there is no physical backup to build on; take a full one first")
        return None
    newest = physical[-1]
    try:
        chain = chain_of(newest, backups)
    except BrokenChainError:
        if forced:
            raise
        return None  # a full backup starts a new, whole chain
    if forced or full_every is None:
        return newest
    return newest if now - parse_backup_id(chain[0].id) < full_every else None
