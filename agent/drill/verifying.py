"""``verify [ID | --latest] [--restore-test]`` from the run's configuration: pick the backup, check its
bytes (``agent.verify``: a logical backup alone, a physical one with every link of its chain), and with
``--restore-test`` restore it into a throwaway server (the drill).

The drill runs only when the bytes check out: a backup that fails its SHA1 is reported as such, not
as a failed restore.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from agent.common.bucket import open_bucket
from agent.common.catalog import BackupEntry, scan_backups, select_backup
from agent.common.chains import BrokenChainError, chain_of, complete_by_id
from agent.common.decryption import identities_for
from agent.common.run_dir import private_run_dir
from agent.common.signals import signals_raise_terminated
from agent.drill.backup_drill import run_drill
from agent.drill.physical_drill import run_physical_drill
from agent.verify.chains import verify_chain
from agent.verify.integrity import verify_backup
from shared.config import ConfigValues, load_destination, load_retry, load_tmp_dir
from shared.encryption import load_decryption_settings
from shared.errors import VerifyFailedError
from shared.manifest import PHYSICAL, Manifest
from shared.storage import Storage


@dataclass(frozen=True)
class VerifyOutcome:
    """What ``verify`` found: ``result`` is what ``--json`` prints (``restore_test`` in it when drilled)."""

    result: dict[str, Any]
    chain: tuple[str, ...] = ()  # a physical backup's chain, full first; () for a logical backup

    @property
    def ok(self) -> bool:
        return bool(self.result["ok"])

    def as_text(self) -> str:
        chain = f"chain {' -> '.join(self.chain)}: unbroken, every backup checked\n" if len(self.chain) > 1 else ""
        return chain + verify_summary(self.result)

    def raise_if_failed(self) -> None:
        if not self.ok:
            raise VerifyFailedError(f"backup {self.result['backup_id']} failed verification: "
                                    + "; ".join(self.result["problems"]))


def verify_configured(config: ConfigValues, *, backup_id: str | None, restore_test: bool) -> VerifyOutcome:
    """``backup_id``, or the newest complete backup: verified, and drilled too with ``restore_test``."""
    bucket = open_bucket(load_destination(config), load_retry(config))
    entries = scan_backups(bucket.storage, prefix=bucket.prefix)
    entry = select_backup(entries, backup_id=backup_id, latest=True)
    assert entry.manifest is not None  # select_backup returns complete backups only
    verify = _verify_physical if entry.manifest.method == PHYSICAL else _verify_logical
    return verify(config, bucket.storage, entry.manifest, entries=entries, restore_test=restore_test)


def _verify_logical(config: ConfigValues, storage: Storage, manifest: Manifest, *, entries: list[BackupEntry],
                    restore_test: bool) -> VerifyOutcome:
    # Without an identity, plain verify checks what needs no key; the drill needs the content.
    identities = identities_for(manifest, load_decryption_settings(config), required=restore_test)
    with signals_raise_terminated():
        report = verify_backup(storage, manifest, identities=identities)
        result: dict[str, Any] = {**asdict(report), "ok": report.ok}
        if report.ok and restore_test:
            with private_run_dir(load_tmp_dir(config)) as run_dir:
                result["restore_test"] = asdict(run_drill(storage, manifest, run_dir=run_dir, identities=identities))
    return VerifyOutcome(result=result)


def _verify_physical(config: ConfigValues, storage: Storage, manifest: Manifest, *, entries: list[BackupEntry],
                     restore_test: bool) -> VerifyOutcome:
    """The chain checked link by link; with ``restore_test`` prepared and started in a throwaway server."""
    decryption = load_decryption_settings(config)
    backups = complete_by_id(e.manifest for e in entries if e.manifest is not None)
    try:
        needed = chain_of(manifest, backups)
    except BrokenChainError:
        needed = [manifest]  # verify_chain reports the break
    identities = {m.id: identities_for(m, decryption, required=restore_test) for m in needed}
    with signals_raise_terminated():
        report = verify_chain(storage, manifest, backups=backups, identities=identities)
        result = report.as_json()
        if report.ok and restore_test:
            with private_run_dir(load_tmp_dir(config)) as run_dir:
                keys = [k for m in report.chain for k in identities[m.id]]
                result["restore_test"] = asdict(run_physical_drill(storage, report.chain, run_dir=run_dir,
                                                                   identities=keys))
    return VerifyOutcome(result=result, chain=tuple(m.id for m in report.chain))


def verify_summary(result: dict[str, Any]) -> str:
    """``verify``'s text for its JSON ``result`` (a logical backup's report, or a chain's last link)."""
    if not result["ok"]:
        problems = "\n".join(f"  - {p}" for p in result["problems"])
        return f"backup {result['backup_id']} FAILED verification:\n{problems}"
    lines = [f"backup {result['backup_id']} OK: SHA1 {result['sha1']} matches the .sha1 sidecar and the manifest"]
    if result["content_checked"]:
        lines.append(f"  {result['stored_bytes']:,} bytes stored, {result['raw_bytes']:,} bytes of dump, "
                     "archive read to the end")
    else:
        lines.append(f"  {result['stored_bytes']:,} bytes stored; content NOT checked: the backup is encrypted and "
                     "no identity was given (BACKUP_DECRYPT_IDENTITY_FILE or BACKUP_DECRYPT_IDENTITY_SECRET)")
    drill = result.get("restore_test")
    if drill:
        checked = ", ".join(f"{n} {kind}" for kind, n in drill["checked"].items())
        lines.append(f"  restore test passed in {drill['seconds']} s: restored into a throwaway server and found "
                     f"every object the manifest lists, with its rows ({checked})")
        lines += [f"  not checked: {item}" for item in drill.get("not_checked", [])]
    return "\n".join(lines)
