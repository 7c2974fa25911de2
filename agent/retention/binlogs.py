"""Retention for the binlog archive: drop segments no kept backup can use, never the window of the oldest.

A restore from a backup reads the archive from the first segment its snapshot does not already hold
(``ArchiveView.first_needed_seq``), and checks the segment just before it; everything older is dead
weight once the backups it could start from are gone. So after the backup retention decided what it
keeps, the cut-off is the smallest first-needed seq of any kept backup, minus that one segment. The
newest record always stays: an archiver resumes from it. When no kept backup lies inside the archive
(no base for a restore yet), nothing is deleted.

Order, as for backups (manifest first): per ``seq``, the index (or gap) record goes before the segment,
so a prune interrupted half-way leaves a segment without its record, which nothing reads and the next
prune removes, never a record pointing at a missing segment.

Rollups go whole, before their records: a rollup is deleted only with every record it holds, so the
cut-off moves back to the first seq of the rollup that holds it (and the records after the newest
rollup, the last hour or so, are never pruned). Deleting the rollup first means readers start at the
next one at once: their windows never claim a segment that is about to go. The keys to delete come
from the rollups' own records, not from listing the folders; what an interrupted prune left (records
and segments below the oldest rollup) is found by listing ``seq`` blocks downwards from it.

Object lock (``BACKUP_LOCK_DAYS`` on the archiver): every segment, record and rollup is retained from
when it was written, so retention only ends later along ``seq``. Prune deletes oldest first and stops
at the first rollup (or, without rollups, the first record) still retained: the archive keeps one
contiguous stretch, never a hole where a locked part was skipped over.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

from agent.common.catalog import BackupEntry
from agent.pitr.windows import read_archive
from shared.binlogs import layout
from shared.binlogs.compaction import CompactedSegments
from shared.binlogs.history import ArchiveHistory, RollupEntry
from shared.binlogs.records import SegmentRecord
from shared.storage import Storage
from shared.storage.object_lock import retention_check

log = logging.getLogger("mariadb_ha_backup.prune")

# In each seq, the order of deletion: commit markers first (see the module docstring).
_ORDER = (layout.INDEX, layout.GAPS, layout.SEGMENTS)


def binlog_keys_to_prune(storage: Storage, *, prefix: str, kept: list[BackupEntry],
                         now: datetime | None = None) -> tuple[int, list[str]]:
    """The cut-off seq and the keys older than it, in deletion order."""
    view = read_archive(storage, prefix)
    needed = [seq for e in kept if e.manifest and (seq := view.first_needed_seq(e.manifest)) is not None]
    if not view.history or not needed:
        return 0, []
    assert view.history.last is not None
    cutoff = min(min(needed) - 1, view.history.last.seq)
    retained = retention_check(storage, now=now or datetime.now(UTC))
    if view.history.chain:
        return _by_rollups(view.history, cutoff, retained)
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for folder in _ORDER:
        for info in storage.list(layout.folder_prefix(prefix, folder)):
            seq = layout.seq_of(info.key)
            if seq is not None and seq < cutoff:
                found[seq][folder] = info.key
    return _unretained(found, cutoff, retained)


def _by_rollups(history: ArchiveHistory, cutoff: int, retained: Callable[[str], bool]) -> tuple[int, list[str]]:
    chain = history.chain
    cutoff = next((e.first_seq for e in chain if e.last_seq >= cutoff), chain[-1].last_seq + 1)
    # Oldest first, up to the first rollup object lock still retains (it was written after its records,
    # so one free to delete says they are too; everything from a retained one on stays).
    doomed = [e for e in chain if e.last_seq < cutoff]
    compacted = CompactedSegments(history.storage, history.prefix).ranges if doomed else []

    def inside(entry: RollupEntry) -> list[tuple[int, int]]:  # the compactions of a rollup's segments
        return [(first, last) for first, last in compacted if entry.first_seq <= first <= entry.last_seq]

    # A compaction is written after its rollup, so it is retained later: asked too.
    stop = next((i for i, e in enumerate(doomed) if retained(e.key) or any(
        retained(layout.compaction_key(history.prefix, *bounds)) for bounds in inside(e))), len(doomed))
    if stop < len(doomed):
        cutoff = doomed[stop].first_seq
        log.info("keeping the binlog archive from seq %d: object lock retains rollup %s", cutoff, doomed[stop].key,
                 extra={"event": "prune-retained", "key": doomed[stop].key})
    leftovers_cutoff, keys = _unretained(_leftovers(history, below=chain[0].first_seq), chain[0].first_seq, retained)
    if leftovers_cutoff < chain[0].first_seq:
        return leftovers_cutoff, keys  # an older leftover is still retained: nothing above it goes either
    for entry in doomed[:stop]:
        keys.append(entry.key)
        for bounds in inside(entry):  # its record first, like an index record before its segment
            keys += [layout.compaction_key(history.prefix, *bounds),
                     layout.compacted_segment_key(history.prefix, *bounds)]
        for record in history.records(entry.first_seq, entry.last_seq):
            if isinstance(record, SegmentRecord):
                keys += [layout.index_key(history.prefix, record.seq), record.segment]
            else:
                keys.append(layout.gap_key(history.prefix, record.seq))
    return cutoff, keys


def _leftovers(history: ArchiveHistory, *, below: int) -> dict[int, dict[str, str]]:
    """Records and segments an interrupted prune left below the oldest rollup, block by block downwards
    until a block holds none (a prune deletes oldest first, so what is left lies just below)."""
    found: dict[int, dict[str, str]] = defaultdict(dict)
    block = (below - 1) // layout.SEQ_BLOCK
    while block >= 0:
        listed = 0
        for folder in _ORDER:
            for info in history.storage.list(layout.block_prefix(history.prefix, folder, block)):
                seq = layout.seq_of(info.key)
                if seq is not None and seq < below:
                    found[seq][folder] = info.key
                    listed += 1
        if not listed:
            break
        block -= 1
    return found


def _unretained(found: dict[int, dict[str, str]], cutoff: int,
                retained: Callable[[str], bool]) -> tuple[int, list[str]]:
    """The keys of the seqs in ``found`` (seq -> folder -> key), oldest first, up to the first seq whose
    commit marker (its record, written after its segment) object lock still retains; and the cut-off."""
    keys: list[str] = []
    for seq in sorted(found):
        marker = found[seq].get(layout.INDEX) or found[seq].get(layout.GAPS) or found[seq][layout.SEGMENTS]
        if retained(marker):
            return seq, keys
        keys += [found[seq][f] for f in _ORDER if f in found[seq]]
    return cutoff, keys

