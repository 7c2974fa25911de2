"""``verify [ID | --latest] [--restore-test]`` from the run's configuration: pick the backup, check its
bytes (``agent.verify``), and with ``--restore-test`` restore it into a throwaway server (the drill).

The drill runs only when the bytes check out: a backup that fails its SHA1 is reported as such, not
as a failed restore.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.common.bucket import open_bucket
from agent.common.catalog import BackupEntry, scan_backups, select_backup
from agent.common.decryption import identities_for
from agent.common.run_dir import private_run_dir
from agent.common.signals import signals_raise_terminated
from agent.drill.backup_drill import DrillReport, run_drill
from agent.verify.integrity import VerifyReport, verify_backup
from shared.config import ConfigValues, load_destination, load_retry, load_tmp_dir
from shared.encryption import load_decryption_settings
from shared.manifest import Manifest
from shared.storage import Storage


@dataclass(frozen=True)
class VerifyOutcome:
    report: VerifyReport
    drill: DrillReport | None  # None: no --restore-test, or the bytes failed first


@dataclass(frozen=True)
class Selection:
    """The backup ``verify`` checks, with the catalog it came from (a physical chain needs its links)."""

    storage: Storage
    entries: list[BackupEntry]
    entry: BackupEntry

    @property
    def manifest(self) -> Manifest:
        assert self.entry.manifest is not None  # select_backup returns complete backups only
        return self.entry.manifest


def select_for_verify(config: ConfigValues, *, backup_id: str | None) -> Selection:
    """``backup_id``, or the newest complete backup."""
    bucket = open_bucket(load_destination(config), load_retry(config))
    entries = scan_backups(bucket.storage, prefix=bucket.prefix)
    return Selection(storage=bucket.storage, entries=entries,
                     entry=select_backup(entries, backup_id=backup_id, latest=True))


def verify_configured(config: ConfigValues, selected: Selection, *, restore_test: bool) -> VerifyOutcome:
    """Verify a logical backup; drill it too with ``restore_test``."""
    decryption = load_decryption_settings(config)
    # Without an identity, plain verify checks what needs no key; the drill needs the content.
    identities = identities_for(selected.manifest, decryption, required=restore_test)
    with signals_raise_terminated():
        report = verify_backup(selected.storage, selected.manifest, identities=identities)
        if not (report.ok and restore_test):
            return VerifyOutcome(report=report, drill=None)
        with private_run_dir(load_tmp_dir(config)) as run_dir:
            drill = run_drill(selected.storage, selected.manifest, run_dir=run_dir, identities=identities)
    return VerifyOutcome(report=report, drill=drill)
