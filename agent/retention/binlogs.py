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
"""

from __future__ import annotations

from collections import defaultdict

from agent.common.catalog import BackupEntry
from agent.pitr.windows import read_archive
from shared.binlogs import layout
from shared.storage import Storage

# In each seq, the order of deletion: commit markers first (see the module docstring).
_ORDER = (layout.INDEX, layout.GAPS, layout.SEGMENTS)


def binlog_keys_to_prune(storage: Storage, *, prefix: str, kept: list[BackupEntry]) -> tuple[int, list[str]]:
    """The cut-off seq and the keys older than it, in deletion order."""
    view = read_archive(storage, prefix)
    needed = [seq for e in kept if e.manifest and (seq := view.first_needed_seq(e.manifest)) is not None]
    if not view.history or not needed:
        return 0, []
    cutoff = min(min(needed) - 1, view.history[-1].seq)
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for folder in _ORDER:
        for info in storage.list(layout.folder_prefix(prefix, folder)):
            seq = layout.seq_of(info.key)
            if seq is not None and seq < cutoff:
                found[seq][folder] = info.key
    return cutoff, [found[seq][f] for seq in sorted(found) for f in _ORDER if f in found[seq]]
