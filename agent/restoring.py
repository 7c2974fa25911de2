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

import contextlib
import functools
import io
import logging
import os
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from agent.database_filter import DatabaseSection
from agent.dumpfile import DumpSyntaxError, read_units
from agent.parallel_loading import ParallelLoader, SessionFailedError, one_database
from agent.unpacking import DumpReader, ReadReport, open_dump
from agent.verifying import VerifyFailedError, raise_if_failed, sha1_problems, verify_backup
from shared.config import RESTORE_YES_ENV
from shared.errors import BackupFailedError, BadInputError
from shared.manifest import Manifest
from shared.mariadb_client import child_env, classify_failure, client_argv, run_client_query
from shared.processes import stop_process
from shared.readers import CHUNK_BYTES as CHUNK
from shared.readers import Progress
from shared.server_info import SYSTEM_SCHEMAS
from shared.storage import Storage

log = logging.getLogger("mariadb_ha_backup.restore")

# --binary-mode: load the dump byte for byte (no '\r\n' translation, NUL allowed) and ignore client
# commands such as '\!' (shell) that a dump should never contain. --comments: send comments to the
# server, so routine, trigger and event bodies keep the comments mariadb-dump printed; without it the
# client strips them or not depending on what it parsed earlier in the stream (seen here: a function
# kept its comment in a whole-dump load and lost it when its unit was sent to a parallel session).
CLIENT_FLAGS = ("--binary-mode", "--comments", "--connect-timeout=10")
# Sessions loading at once unless --parallel says otherwise: one per CPU here, at least 2 (the server,
# often on another machine, applies each session's statements on one of its cores), at most 8 (each
# holds ~2 row batches in memory; measured: docs/PERFORMANCE.md).
DEFAULT_SESSIONS = min(8, max(2, os.cpu_count() or 1))


class RestoreRefusedError(BadInputError):
    """The target holds data the restore would overwrite and the user has not confirmed."""


class RestoreFailedError(BackupFailedError):
    """The ``mariadb`` client stopped with an error part-way; the target may be partially restored."""


@dataclass(frozen=True)
class RestoreRequest:
    database: str | None = None  # one database out of the all-databases dump; None = everything
    verify_first: bool = True
    confirmed: bool = False  # --yes or MARIADB_HA_RESTORE_YES=1
    sessions: int = DEFAULT_SESSIONS  # --parallel: client sessions loading at once; 1 = one plain client


@dataclass(frozen=True)
class RestoreResult:
    backup_id: str
    database: str | None
    verified_first: bool
    sha1: str
    stored_bytes: int
    loaded_bytes: int


def restore_backup(storage: Storage, manifest: Manifest, *, defaults_file: Path, request: RestoreRequest,
                   run_dir: Path, progress: Progress | None = None, identities: Sequence[Any] = ()) -> RestoreResult:
    check_database_in_backup(manifest, request.database)
    check_target(defaults_file, database=request.database, confirmed=request.confirmed)
    if request.verify_first:
        log.info("verifying backup %s before restoring", manifest.id,
                 extra={"event": "verify", "backup_id": manifest.id})
        raise_if_failed(verify_backup(storage, manifest, identities=identities))
    log.info("restoring backup %s", manifest.id, extra={"event": "restore", "backup_id": manifest.id,
                                                        "database": request.database})
    read = load_dump(storage, manifest, defaults_file=defaults_file, database=request.database, run_dir=run_dir,
                     sessions=request.sessions, progress=progress, identities=identities)
    return RestoreResult(backup_id=manifest.id, database=request.database, verified_first=request.verify_first,
                         sha1=read.sha1, stored_bytes=read.stored_bytes, loaded_bytes=read.raw_bytes)


def check_database_in_backup(manifest: Manifest, database: str | None) -> None:
    if database is not None and database not in manifest.inventory.databases:
        have = ", ".join(manifest.inventory.databases) or "none"
        raise BadInputError(f"backup {manifest.id} has no database {database!r} (it has: {have})")


def check_target(defaults_file: Path, *, database: str | None, confirmed: bool) -> None:
    """Refuse to overwrite data unless confirmed. This is also the connection and credentials check."""
    existing = user_databases(defaults_file)
    clashing = [d for d in existing if d == database] if database is not None else existing
    if clashing and not confirmed:
        raise RestoreRefusedError(
            f"the target already has database(s) {', '.join(clashing)} that the restore would overwrite; "
            f"pass --yes (or set {RESTORE_YES_ENV}=1) to restore anyway"
        )


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
              run_dir: Path, sessions: int = DEFAULT_SESSIONS, progress: Progress | None = None,
              identities: Sequence[Any] = ()) -> ReadReport:
    """Stream the dump (or one database of it) into ``sessions`` clients; fail if the loaded bytes differ
    from the manifest's SHA1. Used by ``restore`` and by the restore drill."""
    # The dump is opened (an encrypted one's age header checked against the identities) before any
    # client starts, so a wrong identity never reaches the target.
    with open_dump(storage, manifest, identities=identities) as reader:
        try:
            load = _load_serially if sessions == 1 else functools.partial(_load_in_parallel, sessions=sessions)
            found = load(reader, defaults_file=defaults_file, database=database, run_dir=run_dir, progress=progress)
        except DumpSyntaxError as exc:
            found = _unparsable(reader, manifest, exc)
        read = reader.finish()
    problems = read.problems + sha1_problems(read, manifest=manifest, sidecar_sha1=None)
    if problems:
        raise VerifyFailedError(f"backup {manifest.id} was loaded but failed verification: {'; '.join(problems)}")
    if not found:
        raise RestoreFailedError(f"the dump of {manifest.id} has no section for database {database!r}")
    return read


def _load_serially(reader: DumpReader, *, defaults_file: Path, database: str | None, run_dir: Path,
                   progress: Progress | None) -> bool:
    """One plain client, as ``mariadb < dump.sql`` (``--parallel 1``); True if ``database`` was found."""
    with MariadbClient(defaults_file, run_dir=run_dir) as client:
        section = DatabaseSection(io.BufferedReader(reader, CHUNK), database) if database is not None else None
        client.feed(section.chunks() if section is not None else _chunks(reader), progress=progress)
        client.finish()
    return section is None or section.found


def _load_in_parallel(reader: DumpReader, *, defaults_file: Path, database: str | None, run_dir: Path,
                      progress: Progress | None, sessions: int) -> bool:
    loader = ParallelLoader(client_argv(defaults_file, *CLIENT_FLAGS), sessions=sessions, run_dir=run_dir,
                            progress=progress)
    units = read_units(reader)
    found = [database is None]
    try:
        loader.load(one_database(units, database, found) if database is not None else units)
    except SessionFailedError as exc:
        raise RestoreFailedError(str(exc)) from None
    return found[0]


def _unparsable(reader: DumpReader, manifest: Manifest, exc: DumpSyntaxError) -> NoReturn:
    """A dump that ends mid-statement is usually a damaged artifact: say so if the checks agree."""
    read = reader.finish()
    problems = read.problems + sha1_problems(read, manifest=manifest, sidecar_sha1=None)
    if problems:
        raise VerifyFailedError(f"backup {manifest.id} failed verification while loading: {'; '.join(problems)}")
    raise RestoreFailedError(f"the dump of {manifest.id} cannot be cut into statements ({exc}); "
                             "--parallel 1 loads it as one stream — the target may be partially restored")


def _chunks(reader: DumpReader) -> Iterator[bytes]:
    while data := reader.read(CHUNK):
        yield data


class MariadbClient:
    """``mariadb`` reading SQL from our pipe. stderr goes to a file (a chatty client cannot deadlock us);
    leaving the ``with`` block on an error terminates the client before it reads more."""

    def __init__(self, defaults_file: Path, *, run_dir: Path) -> None:
        self._argv = client_argv(defaults_file, *CLIENT_FLAGS)
        self._stderr_path = run_dir / "restore-client.err"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MariadbClient:
        with open(self._stderr_path, "wb") as err:
            self._process = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                             stderr=err, env=child_env())
        return self

    def feed(self, chunks: Iterable[bytes], *, progress: Progress | None = None) -> None:
        assert self._process is not None and self._process.stdin is not None
        try:
            for chunk in chunks:
                self._process.stdin.write(chunk)
                if progress is not None:
                    progress(len(chunk))
        except BrokenPipeError:
            self.finish()  # the client exited early: report its own error
            raise RestoreFailedError("the mariadb client stopped reading the dump") from None

    def finish(self) -> None:
        assert self._process is not None
        if self._process.stdin is not None and not self._process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # the exit code and stderr below tell why
                self._process.stdin.close()
        code = self._process.wait()
        if code != 0:
            stderr = self._stderr_path.read_text(errors="replace")
            cause = classify_failure(stderr or f"exit code {code}", what="mariadb client")
            raise RestoreFailedError(f"{cause} — the target may be partially restored") from None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._process is not None:
            stop_process(self._process, grace_seconds=10)
