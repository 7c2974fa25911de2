"""The backup's additions for a faithful restore: rows counted in the dump, ``accounts.sql``, warnings.

Kept apart from ``agent.backup.run`` (which orders the run) so that the backup flow only calls four
functions: ``produce_counted`` for each dump attempt, ``read_server_extras`` after the dump (through
``DumpCommand.extras``, so in-process tests can replace it), ``store_accounts`` after the artifact,
``with_fidelity`` on the manifest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

from agent.backup.checks import backup_warnings
from agent.backup.evidence import RowCounter
from agent.backup.pipeline import ArtifactResult, ArtifactUpload, produce
from agent.common.accounts import ACCOUNTS_NAME, dump_accounts
from shared.encryption import AGE_SUFFIX
from shared.encryption.streams import encrypt_bytes
from shared.formats import ArtifactFormat
from shared.manifest import AccountsFile, Evidence, Manifest
from shared.mariadb_client import ClientError
from shared.server_info import ServerInfo
from shared.storage import Storage

log = logging.getLogger("mariadb_ha_backup.backup")


@dataclass(frozen=True)
class ServerExtras:
    """What the backup learns from the server besides the dump."""

    warnings: list[str] = field(default_factory=list)
    accounts_sql: bytes | None = None  # None: the accounts could not be read (a warning says why)
    account_names: list[str] = field(default_factory=list)


def produce_counted(upload: ArtifactUpload, fmt: ArtifactFormat) -> tuple[ArtifactResult, dict[str, int] | None]:
    """One dump attempt with a fresh row counter watching its chunks (a parallel dump counts its rows while
    stitching: no second parse of the stream)."""
    if upload.parallel is not None:
        counted: list[dict[str, int]] = []
        artifact = produce(dataclasses.replace(upload, parallel=dataclasses.replace(upload.parallel,
                                                                                    counted=counted.append)), fmt)
        return artifact, (counted[-1] if counted else None)
    counter = RowCounter()
    try:
        artifact = produce(dataclasses.replace(upload, observe=counter.feed), fmt)
    finally:
        rows = counter.finish()
    return artifact, rows


def read_server_extras(defaults_file: Path, info: ServerInfo) -> ServerExtras:
    """Warnings and the accounts; run after the dump, so a locked table delays only the dump itself."""
    warnings = backup_warnings(defaults_file, max_allowed_packet=info.max_allowed_packet)
    try:
        sql, names, skipped = dump_accounts(defaults_file)
    except ClientError as exc:
        warnings.append(f"accounts were not backed up (a restore will not recreate users or roles): {exc}")
        return ServerExtras(warnings=warnings)
    warnings += [f"account not backed up: {s}" for s in skipped]
    return ServerExtras(warnings=warnings, accounts_sql=sql, account_names=names)


def store_accounts(
    storage: Storage, *, folder: str, extras: ServerExtras, recipients: tuple[str, ...] = ()
) -> AccountsFile | None:
    """Store ``<folder>accounts.sql`` (``.age``, encrypted to ``recipients``, when the backup is
    encrypted: it holds password hashes); None when there are no accounts to store."""
    if extras.accounts_sql is None:
        return None
    key = folder + ACCOUNTS_NAME + (AGE_SUFFIX if recipients else "")
    stored = encrypt_bytes(extras.accounts_sql, recipients) if recipients else extras.accounts_sql
    storage.put(key, io.BytesIO(stored))
    digest = hashlib.sha1(stored, usedforsecurity=False).hexdigest()
    return AccountsFile(key=key, sha1=digest, accounts=extras.account_names, encrypted=bool(recipients))


def with_fidelity(
    manifest: Manifest, *, accounts: AccountsFile | None, rows: dict[str, int] | None, warnings: list[str],
    history_dumped: bool,
) -> Manifest:
    for warning in warnings:
        log.warning("%s", warning, extra={"event": "warning", "backup_id": manifest.id})
    evidence = Evidence(rows=rows, history_dumped=history_dumped) if rows is not None else None
    return dataclasses.replace(manifest, accounts=accounts, evidence=evidence, warnings=list(warnings))
