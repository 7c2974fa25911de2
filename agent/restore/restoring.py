"""``restore``: stream a backup from the bucket into a MariaDB server through the ``mariadb`` client.

    bucket → SHA1 → decompress → (tar) → [one database's sections] → mariadb client → target

Order matters, because a restore cannot be undone:
1. everything that can be refused is refused before any download: an unknown ``--database``, and a
   target that already holds user databases without ``--yes`` (a restore overwrites what it loads);
2. by default a first streaming pass verifies SHA1, sizes and the archive structure, so a corrupted
   backup never reaches the target (nothing is spooled to disk, at the price of downloading twice);
3. the second pass feeds the client, and checks the SHA1 again on the bytes it actually loaded.

The password reaches the client only through a 0600 ``--defaults-extra-file`` in a private 0700
directory (``shared.mariadb_client.write_defaults_file``): never argv, never the child's environment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from agent.common.accounts import (
    account_grants,
    accounts_file,
    create_accounts,
    give_grants,
    list_accounts,
    missing_definers,
)
from agent.common.dumpfile import DumpSyntaxError, read_units
from agent.common.kept_grants import give_back_lost, grants_of_existing, missing_object_grants, settle_role_admins
from agent.restore.parallel_loading import ParallelLoader
from agent.restore.selection import Selection
from agent.restore.target import packet_limit, reference_notes, undo_failed_database
from agent.verify.integrity import raise_if_failed, sha1_problems, verify_backup
from agent.verify.unpacking import DumpReader, ReadReport, open_dump
from shared.config import RESTORE_YES_ENV
from shared.errors import BackupFailedError, BadInputError, VerifyFailedError
from shared.manifest import Manifest
from shared.mariadb_client import PipedClient, client_argv, run_client_query
from shared.readers import CHUNK_BYTES as CHUNK
from shared.readers import Progress
from shared.server_info import SYSTEM_SCHEMAS
from shared.storage import Storage

log = logging.getLogger("mariadb_ha_backup.restore")

# --binary-mode: load the dump byte for byte (no '\r\n' translation, NUL allowed) and ignore client
# commands such as '\!' (shell) that a dump should never contain. --comments: send comments to the
# server, else the client strips them out of trigger and routine bodies (they come back as blank
# lines). --max-allowed-packet: the client's own limit (default 16 MiB) must not refuse a row the
# source could dump; the server's limit is raised for the restore by ``packet_limit``.
# check_constraint_checks=0: rows the source holds although they violate a CHECK added later (with
# checks off) load as they are, like FOREIGN_KEY_CHECKS=0 in the dump's header; the backup warns.
CLIENT_FLAGS = (
    "--binary-mode",
    "--comments",
    "--max-allowed-packet=1G",
    "--init-command=SET SESSION check_constraint_checks=0",
    "--connect-timeout=10",
)
# Sessions loading at once unless --parallel says otherwise: one per CPU here, at least 2 (the server,
# often on another machine, applies each session's statements on one of its cores), at most 8 (each
# holds ~2 row batches in memory; measured: docs/PERFORMANCE.md).
DEFAULT_SESSIONS = min(8, max(2, os.cpu_count() or 1))


class RestoreRefusedError(BadInputError):
    """The target holds data the restore would overwrite and the user has not confirmed."""


class RestoreFailedError(BackupFailedError):
    """The dump cannot be loaded as asked (no section for the database, not cut into statements); a
    failing client is a ``ClientError`` (``shared.mariadb_client``)."""


@dataclass(frozen=True)
class RestoreRequest:
    database: str | None = None  # one database out of the all-databases dump; None = everything
    verify_first: bool = True
    confirmed: bool = False  # --yes or MARIADB_HA_RESTORE_YES=1
    accounts: str = "restore"  # --accounts: restore (create the backup's missing accounts) | keep
    sessions: int = DEFAULT_SESSIONS  # --parallel: client sessions loading at once; 1 = one plain client


@dataclass(frozen=True)
class RestoreResult:
    backup_id: str
    database: str | None
    verified_first: bool
    sha1: str
    stored_bytes: int
    loaded_bytes: int
    accounts_created: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user should know: references, missing definers


def restore_backup(storage: Storage, manifest: Manifest, *, defaults_file: Path, request: RestoreRequest,
                   run_dir: Path, progress: Progress | None = None, identities: Sequence[Any] = ()) -> RestoreResult:
    check_database_in_backup(manifest, request.database)
    existing = check_target(defaults_file, database=request.database, confirmed=request.confirmed)
    if request.verify_first:
        log.info("verifying backup %s before restoring", manifest.id,
                 extra={"event": "verify", "backup_id": manifest.id})
        raise_if_failed(verify_backup(storage, manifest, identities=identities))
    log.info("restoring backup %s", manifest.id, extra={"event": "restore", "backup_id": manifest.id,
                                                        "database": request.database})
    selection = Selection(request.database, known_databases=frozenset(manifest.inventory.databases))
    accounts_sql, notes = accounts_file(storage, manifest, mode=request.accounts, identities=identities)
    kept = grants_of_existing(defaults_file)  # before any account is created: only the target's own
    created = create_accounts(defaults_file, accounts_sql) if accounts_sql else []
    early = give_grants(defaults_file, account_grants(accounts_sql, created)) if accounts_sql else []
    early += settle_role_admins(defaults_file, accounts_sql, created=created) if accounts_sql else []
    with packet_limit(defaults_file, needed=manifest.source.max_allowed_packet):
        try:
            read = load_selection(storage, manifest, selection, defaults_file=defaults_file, run_dir=run_dir,
                                  progress=progress, identities=identities, sessions=request.sessions)
        except BackupFailedError as exc:
            left = undo_failed_database(defaults_file, database=request.database,
                                        existed=request.database in existing)
            made = [f"accounts created before the failure: {', '.join(created)}"] if created else []
            hint = ["restore with --accounts restore, or create the account first"] if "1449" in str(exc) else []
            said = [left] if left not in str(exc) else []  # a loader may already have said what is left
            raise type(exc)("; ".join([str(exc), *said, *made, *hint, *reference_notes(selection)])) from None
    late = give_grants(defaults_file, [g for g, _ in early])
    notes += [f"grant not given: {g} ({e})" for g, e in late]
    notes += [f"grant lost by the load, not given back: {g} ({e})" for g, e in give_back_lost(defaults_file, kept)]
    if accounts_sql:
        notes += [f"grant in the backup, not held after the restore: {g}" for g in
                  missing_object_grants(defaults_file, accounts_sql, databases=_restored(manifest, request),
                                        not_given=[g for g, _ in late])]
    notes += reference_notes(selection)
    notes += [f"definer missing: {m}" for m in missing_definers(defaults_file, _restored(manifest, request))]
    return RestoreResult(backup_id=manifest.id, database=request.database, verified_first=request.verify_first,
                         sha1=read.sha1, stored_bytes=read.stored_bytes, loaded_bytes=read.raw_bytes,
                         accounts_created=created, notes=notes)


def _restored(manifest: Manifest, request: RestoreRequest) -> list[str]:
    return [request.database] if request.database is not None else list(manifest.inventory.databases)


def check_database_in_backup(manifest: Manifest, database: str | None) -> None:
    if database is not None and database not in manifest.inventory.databases:
        have = ", ".join(manifest.inventory.databases) or "none"
        raise BadInputError(f"backup {manifest.id} has no database {database!r} (it has: {have})")


def check_target(defaults_file: Path, *, database: str | None, confirmed: bool) -> list[str]:
    """Refuse to overwrite data unless confirmed; returns the target's user databases. This is also the
    connection and credentials check. A full restore also needs the confirmation when the target has
    accounts of its own (users other than root): it adds the backup's accounts next to them."""
    existing = user_databases(defaults_file)
    clashing = [d for d in existing if d == database] if database is not None else existing
    if clashing and not confirmed:
        raise RestoreRefusedError(
            f"the target already has database(s) {', '.join(clashing)} that the restore would overwrite; "
            f"pass --yes (or set {RESTORE_YES_ENV}=1) to restore anyway"
        )
    accounts = [a.sql_name for a in list_accounts(defaults_file) if a.user != "root"]
    if database is None and accounts and not confirmed:
        raise RestoreRefusedError(
            f"the target already has account(s) {', '.join(accounts[:5])}{' ...' if len(accounts) > 5 else ''}; "
            f"a full restore adds the backup's accounts and grants next to them: pass --yes "
            f"(or set {RESTORE_YES_ENV}=1) to restore anyway"
        )
    return existing


def user_databases(defaults_file: Path) -> list[str]:
    """Databases other than the system ones; an empty ``test`` (created by mariadb-install-db) is not data."""
    excluded = ",".join(f"'{s}'" for s in SYSTEM_SCHEMAS)
    # Only our own constant schema names are interpolated.
    sql = (
        "SELECT s.schema_name FROM information_schema.schemata s "  # noqa: S608
        f"WHERE s.schema_name NOT IN ({excluded}) AND NOT (s.schema_name = 'test' AND NOT EXISTS "
        "(SELECT 1 FROM information_schema.tables t WHERE t.table_schema = 'test')) ORDER BY 1"
    )
    rows = run_client_query(defaults_file, sql)
    return [row[0] for row in rows]


def load_dump(storage: Storage, manifest: Manifest, *, defaults_file: Path, database: str | None,
              run_dir: Path, progress: Progress | None = None, identities: Sequence[Any] = (),
              sessions: int = DEFAULT_SESSIONS) -> ReadReport:
    """Stream the dump (or one database of it) into ``sessions`` clients; fail if the loaded bytes differ
    from the manifest's SHA1. Used by ``restore`` and by the restore drill."""
    selection = Selection(database, known_databases=frozenset(manifest.inventory.databases))
    return load_selection(storage, manifest, selection, defaults_file=defaults_file, run_dir=run_dir,
                          progress=progress, identities=identities, sessions=sessions)


def load_selection(storage: Storage, manifest: Manifest, selection: Selection, *, defaults_file: Path,
                   run_dir: Path, progress: Progress | None = None, identities: Sequence[Any] = (),
                   sessions: int = DEFAULT_SESSIONS) -> ReadReport:
    """``load_dump`` with the caller's ``Selection`` (which then tells what was loaded and referenced)."""
    # The dump is opened (an encrypted one's age header checked against the identities) before any
    # client starts, so a wrong identity never reaches the target.
    with open_dump(storage, manifest, identities=identities) as reader:
        try:
            if sessions == 1:
                _load_serially(reader, selection, defaults_file=defaults_file, run_dir=run_dir, progress=progress)
            else:
                _load_in_parallel(reader, selection, defaults_file=defaults_file, run_dir=run_dir,
                                  progress=progress, sessions=sessions)
        except DumpSyntaxError as exc:
            _unparsable(reader, manifest, exc)
        read = reader.finish()
    problems = read.problems + sha1_problems(read, manifest=manifest, sidecar_sha1=None)
    if problems:
        raise VerifyFailedError(f"backup {manifest.id} was loaded but failed verification: {'; '.join(problems)}")
    if selection.database is not None and not selection.found:
        raise RestoreFailedError(f"the dump of {manifest.id} has no section for database {selection.database!r}")
    return read


def _load_serially(reader: DumpReader, selection: Selection, *, defaults_file: Path, run_dir: Path,
                   progress: Progress | None) -> None:
    """One plain client, as ``mariadb < dump.sql`` (``--parallel 1``)."""
    with restore_client(defaults_file, run_dir=run_dir) as client:
        client.feed(selection.chunks(_chunks(reader)), progress=progress)
        client.finish()


def _load_in_parallel(reader: DumpReader, selection: Selection, *, defaults_file: Path, run_dir: Path,
                      progress: Progress | None, sessions: int) -> None:
    """``sessions`` clients fed unit by unit (agent/restore/parallel_loading.py); the selection keeps the units."""
    loader = ParallelLoader(client_argv(defaults_file, *CLIENT_FLAGS), sessions=sessions, run_dir=run_dir,
                            progress=progress)
    loader.load(unit for unit in read_units(_chunks(reader)) if selection.keeps(unit))


def restore_client(defaults_file: Path, *, run_dir: Path) -> PipedClient:
    """The ``mariadb`` client a restore (and a binlog replay) streams SQL into, with ``CLIENT_FLAGS``."""
    return PipedClient(client_argv(defaults_file, *CLIENT_FLAGS), stderr_path=run_dir / "restore-client.err")


def _unparsable(reader: DumpReader, manifest: Manifest, exc: DumpSyntaxError) -> NoReturn:
    """A dump that ends mid-statement is usually a damaged artifact: say so if the checks agree."""
    read = reader.finish()
    problems = read.problems + sha1_problems(read, manifest=manifest, sidecar_sha1=None)
    if problems:
        raise VerifyFailedError(f"backup {manifest.id} failed verification while loading: {'; '.join(problems)}")
    raise RestoreFailedError(f"the dump of {manifest.id} cannot be cut into statements ({exc}) — the target "
                             "may be partially restored")


def _chunks(reader: DumpReader) -> Iterator[bytes]:
    # Every byte read counts for the SHA1, even those of units that are not loaded.
    while data := reader.read(CHUNK):
        yield data
