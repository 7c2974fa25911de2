"""``restore --datadir DIR [ID | --latest | --at TIME]`` from the run's configuration: which physical backup,
its chain, the decryption identities; then ``restore_datadir``.

Everything that can refuse (a logical backup, a broken chain, a missing identity, a DIR that holds files)
is decided before the first byte is downloaded.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from agent.common.bucket import open_bucket
from agent.common.catalog import scan_backups, select_backup
from agent.common.chains import chain_of, complete_by_id
from agent.common.decryption import identities_for
from agent.common.progress import byte_progress
from agent.common.signals import signals_raise_terminated
from agent.restore.physical import DatadirRestoreResult, check_datadir_target, check_owner, restore_datadir
from shared.config import ConfigValues, load_destination, load_retry
from shared.encryption import load_decryption_settings
from shared.errors import BadInputError
from shared.manifest import PHYSICAL


def restore_datadir_configured(config: ConfigValues, *, backup_id: str | None, latest: bool, at: datetime | None,
                               datadir: Path, owner: str | None) -> DatadirRestoreResult:
    """Prepare the physical backup chosen by ``backup_id``, ``latest`` or ``at`` (and its chain) into ``datadir``."""
    check_datadir_target(datadir)
    if owner is not None:
        check_owner(owner)
    decryption = load_decryption_settings(config)
    bucket = open_bucket(load_destination(config), load_retry(config))
    entries = scan_backups(bucket.storage, prefix=bucket.prefix)
    entry = select_backup(entries, backup_id=backup_id, latest=latest, at=at)
    assert entry.manifest is not None  # select_backup returns complete backups only
    if entry.manifest.method != PHYSICAL:
        raise BadInputError(f"backup {entry.backup_id} is a logical backup (SQL): restore it into a server "
                            "(--host), not with --datadir")
    chain = chain_of(entry.manifest, complete_by_id(e.manifest for e in entries if e.manifest is not None))
    identities = [k for m in chain for k in identities_for(m, decryption)]  # exit 2 before any download
    with signals_raise_terminated(), byte_progress("restore") as progress:
        return restore_datadir(bucket.storage, chain, datadir=datadir, identities=identities, progress=progress,
                               owner=owner)


def datadir_summary(result: DatadirRestoreResult) -> str:
    """``restore --datadir``'s text: what was prepared, and how to start it."""
    return (f"restored backup {result.backup_id} into data directory {result.datadir} in {result.seconds} s\n"
            f"  chain {' -> '.join(result.chain)}: {result.stored_bytes:,} bytes downloaded, every SHA1 checked; "
            "prepared\n  start it: mariadbd --datadir=" + result.datadir
            + "".join(f"\n  note: {n}" for n in result.notes))
