"""The backup's additions for a faithful restore: rows counted in the dump, ``accounts.sql``, warnings.

Kept apart from ``agent.backup`` (which runs the dump, the upload and the manifest) so that the backup
flow only calls three functions: ``produce_counted`` around each dump attempt, ``store_accounts``
after the artifact, ``with_fidelity`` on the manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
from collections.abc import Callable
from pathlib import Path

from agent.accounts import ACCOUNTS_NAME, dump_accounts
from agent.dump_evidence import RowCounter
from agent.pipeline import ArtifactResult, DumpJob
from shared.dump import DumpError, dump_supports_history
from shared.manifest import AccountsFile, Evidence, Manifest
from shared.storage import Storage

log = logging.getLogger("mariadb_ha_backup.backup")


def produce_counted(
    job: DumpJob, produce: Callable[[DumpJob, str], ArtifactResult], fmt: str
) -> tuple[ArtifactResult, dict[str, int] | None]:
    """One dump attempt with a fresh row counter watching its chunks."""
    counter = RowCounter()
    try:
        artifact = produce(dataclasses.replace(job, observe=counter.feed), fmt)
    finally:
        rows = counter.finish()
    return artifact, rows


def store_accounts(storage: Storage, *, folder: str, defaults_file: Path, warnings: list[str]) -> AccountsFile | None:
    """Dump users, roles and grants to ``<folder>accounts.sql``; on failure add a warning and return None."""
    try:
        sql, names, skipped = dump_accounts(defaults_file)
    except DumpError as exc:
        warnings.append(f"accounts were not backed up (a restore will not recreate users or roles): {exc}")
        return None
    warnings += [f"account not backed up, the server cannot describe it: {s}" for s in skipped]
    key = folder + ACCOUNTS_NAME
    storage.put(key, io.BytesIO(sql))
    return AccountsFile(key=key, sha1=hashlib.sha1(sql, usedforsecurity=False).hexdigest(), accounts=names)


def with_fidelity(
    manifest: Manifest, *, accounts: AccountsFile | None, rows: dict[str, int] | None, warnings: list[str]
) -> Manifest:
    for warning in warnings:
        log.warning("%s", warning, extra={"event": "warning", "backup_id": manifest.id})
    evidence = Evidence(rows=rows, history_dumped=dump_supports_history()) if rows is not None else None
    return dataclasses.replace(manifest, accounts=accounts, evidence=evidence, warnings=list(warnings))
