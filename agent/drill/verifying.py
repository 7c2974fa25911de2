"""``verify [ID | --latest] [--restore-test]`` from the run's configuration: pick the backup, check its
bytes (``agent.verify``), and with ``--restore-test`` restore it into a throwaway server (the drill).

The drill runs only when the bytes check out: a backup that fails its SHA1 is reported as such, not
as a failed restore. A physical backup is checked with its whole chain (a missing middle link fails it)
and drilled by preparing the chain and starting a server on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.common.bucket import open_bucket
from agent.common.catalog import scan_backups, select_backup
from agent.common.chains import BrokenChainError, chain_of, complete_by_id
from agent.common.decryption import identities_for
from agent.common.run_dir import private_run_dir
from agent.common.signals import signals_raise_terminated
from agent.drill.backup_drill import DrillReport, run_drill
from agent.drill.physical_drill import run_physical_drill
from agent.verify.chains import verify_chain
from agent.verify.integrity import VerifyReport, verify_backup
from shared.config import ConfigValues, load_destination, load_retry, load_tmp_dir
from shared.encryption import DecryptionSettings, load_decryption_settings
from shared.manifest import PHYSICAL, Manifest
from shared.storage import Storage


@dataclass(frozen=True)
class VerifyOutcome:
    report: VerifyReport  # a physical backup's: its own, with the problems of its whole chain
    drill: DrillReport | None  # None: no --restore-test, or the bytes failed first
    chain: tuple[str, ...] = ()  # a physical backup's chain, full first (each link checked)


def verify_configured(config: ConfigValues, *, backup_id: str | None, restore_test: bool) -> VerifyOutcome:
    """Verify ``backup_id`` (None: the newest complete backup); drill it too with ``restore_test``."""
    decryption = load_decryption_settings(config)
    bucket = open_bucket(load_destination(config), load_retry(config))
    entries = scan_backups(bucket.storage, prefix=bucket.prefix)
    entry = select_backup(entries, backup_id=backup_id, latest=True)
    assert entry.manifest is not None  # select_backup returns complete backups only
    if entry.manifest.method == PHYSICAL:
        backups = complete_by_id(e.manifest for e in entries if e.manifest is not None)
        return _verify_physical(bucket.storage, entry.manifest, backups=backups, restore_test=restore_test,
                                decryption=decryption, tmp_dir=load_tmp_dir(config))
    # Without an identity, plain verify checks what needs no key; the drill needs the content.
    identities = identities_for(entry.manifest, decryption, required=restore_test)
    with signals_raise_terminated():
        report = verify_backup(bucket.storage, entry.manifest, identities=identities)
        if not (report.ok and restore_test):
            return VerifyOutcome(report=report, drill=None)
        with private_run_dir(load_tmp_dir(config)) as run_dir:
            drill = run_drill(bucket.storage, entry.manifest, run_dir=run_dir, identities=identities)
    return VerifyOutcome(report=report, drill=drill)


def _verify_physical(storage: Storage, manifest: Manifest, *, backups: dict[str, Manifest], restore_test: bool,
                     decryption: DecryptionSettings, tmp_dir: Path | None) -> VerifyOutcome:
    """Every link of the chain checked (agent.verify.chains); with ``restore_test`` the chain prepared and
    started in a throwaway server (agent.drill.physical_drill)."""
    try:
        needed = chain_of(manifest, backups)
    except BrokenChainError:
        needed = [manifest]  # verify_chain reports the break
    identities = {m.id: identities_for(m, decryption, required=restore_test) for m in needed}
    with signals_raise_terminated():
        chain = verify_chain(storage, manifest, backups=backups, identities=identities)
        report = chain.as_report()
        if not (chain.ok and restore_test):
            return VerifyOutcome(report=report, drill=None, chain=tuple(m.id for m in chain.chain))
        with private_run_dir(tmp_dir) as run_dir:
            drill = run_physical_drill(storage, chain.chain, run_dir=run_dir,
                                       identities=[k for m in chain.chain for k in identities[m.id]])
    return VerifyOutcome(report=report, drill=drill, chain=tuple(m.id for m in chain.chain))
