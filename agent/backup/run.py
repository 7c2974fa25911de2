"""One backup run: password → claim an id → inspect the server → dump/compress/upload → ``.sha1`` → manifest.

A backup exists only when its manifest does. Any failure, including SIGTERM, leaves no manifest:
the artifact upload is aborted (or, if it already completed, deleted again), the claim marker is
removed, and the private temp dir with the password file and the spool is deleted. The roles live
in their own modules (agent/common/credentials.py, run_dir.py, id_claims.py, backup_manifest.py,
pipeline.py); this one only orders them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from agent.backup.cpus import default_dump_threads
from agent.backup.dumpable import DumpPlan, plan_dump
from agent.backup.fidelity import ServerExtras, produce_counted, read_server_extras, store_accounts, with_fidelity
from agent.backup.id_claims import claimed_backup_id
from agent.backup.manifest import build_manifest
from agent.backup.parallel_dump import ParallelPlan, ParallelUnavailableError
from agent.backup.pipeline import ArtifactResult, ArtifactUpload
from agent.common.accounts import accounts_keys
from agent.common.credentials import resolve_password
from agent.common.run_dir import private_run_dir
from shared.binlogs.snapshot import POSITION_FLAGS, DumpSniffer
from shared.config import Settings
from shared.dump import dump_argv
from shared.encryption import NO_ENCRYPTION, EncryptionSettings
from shared.errors import BackupFailedError
from shared.layout import BackupKeys, parse_backup_id, sha1_sidecar_text
from shared.logs import register_secret
from shared.manifest import BinlogPosition
from shared.mariadb_client import ClientConnectionError, write_defaults_file
from shared.readers import Progress
from shared.retry import call_with_retries
from shared.server_info import ServerInfo, inspect_server
from shared.storage import Storage, StorageError, open_storage
from shared.storage.object_lock import NO_LOCK, LockSettings, require_object_lock, retainer
from shared.storage.retrying import RetryingStorage

log = logging.getLogger("mariadb_ha_backup.backup")
_T = TypeVar("_T")


@dataclass(frozen=True)
class DumpCommand:
    """How the run reaches the database, given its client defaults file: the dump's argv and the
    server inspection. The default is mariadb-dump and the mariadb client; tests pass their own to
    run the whole flow in-process without a server."""

    argv: Callable[[Path], list[str]] = dump_argv
    inspect: Callable[[Path], ServerInfo] = inspect_server
    # After the dump: warnings about what will not come back as it was, and the accounts (agent.common.accounts).
    extras: Callable[[Path, ServerInfo], ServerExtras] = read_server_extras
    # Before the dump: what mariadb-dump would refuse, and how the dump avoids it (agent.backup.dumpable).
    plan: Callable[[Path], DumpPlan] = plan_dump
    # With BACKUP_DUMP_THREADS > 1, several ``argv`` sessions share one snapshot (agent.backup.parallel_dump);
    # a canned dump (a test's ``cat``) cannot be split, so it says False.
    parallel: bool = True


@dataclass(frozen=True)
class BackupResult:
    backup_id: str
    storage_url: str
    format: str
    artifact_key: str
    sha1_key: str
    manifest_key: str
    sha1: str
    raw_bytes: int
    compressed_bytes: int
    duration_seconds: float
    warnings: list[str] = field(default_factory=list)


def run_backup(
    settings: Settings, *, storage: Storage | None = None, progress: Progress | None = None,
    dump: DumpCommand = DumpCommand(),  # frozen, stateless default
    lock: LockSettings = NO_LOCK,
    encryption: EncryptionSettings = NO_ENCRYPTION,
) -> BackupResult:
    clock = time.monotonic()
    password = resolve_password(settings.source)
    register_secret(password)
    storage = storage or RetryingStorage(open_storage(settings.destination.storage_url), policy=settings.retry)
    if lock.enabled:
        require_object_lock(storage)  # before any dump: a bucket without object lock is bad input
    with claimed_backup_id(storage, prefix=settings.destination.prefix, format_name=settings.format.name,
                           layers=encryption.layers) as keys, private_run_dir(settings.tmp_dir) as run_dir:
        started = parse_backup_id(keys.backup_id)
        source = settings.source
        defaults = write_defaults_file(run_dir, host=source.host, port=source.port, user=source.user,
                                       password=password)
        info = _with_retries(settings, "connecting to MariaDB", lambda: dump.inspect(defaults))
        plan = _with_retries(settings, "inspecting the schema", lambda: dump.plan(defaults))
        info = replace(info, inventory=plan.inventory(info.inventory))
        _log_start(settings, keys, info)
        # With a binlog, the dump also records its snapshot's position: point-in-time restore starts there.
        position_flags = POSITION_FLAGS if info.log_bin else ()
        dump_argv = plan.apply(dump.argv(defaults))
        upload = ArtifactUpload(dump_argv=[*dump_argv, *position_flags], run_dir=run_dir, storage=storage,
                                key=keys.artifact, mtime=int(started.timestamp()),
                                progress=progress or (lambda n: None), encoders=encryption.encoders(),
                                sniffer=DumpSniffer() if info.log_bin else None,
                                parallel=_parallel_plan(settings, dump, info, defaults=defaults,
                                                        argv=lambda cnf: plan.apply(dump.argv(cnf)),
                                                        position_flags=position_flags))
        retain = retainer(storage, lock, started=started)
        with removed_unless_committed(storage, keys):
            artifact, rows = _with_retries(settings, "mariadb-dump", lambda: _produce(upload, settings))
            retain(keys.artifact)
            extras = dump.extras(defaults, info)
            extras = replace(extras, warnings=[*plan.warnings, *extras.warnings])
            storage.put(keys.sha1, io.BytesIO(sha1_sidecar_text(artifact.sha1, keys.artifact_name)))
            retain(keys.sha1)
            accounts = store_accounts(storage, folder=keys.folder, extras=extras, recipients=encryption.recipients)
            if accounts is not None:
                retain(accounts.key)
            manifest = with_fidelity(build_manifest(settings, keys, info, artifact, started=started, lock=lock,
                                                    encryption=encryption, extra_flags=position_flags,
                                                    binlog=_snapshot_position(upload, info)),
                                     accounts=accounts, rows=rows, warnings=extras.warnings,
                                     history_dumped=plan.dumps_history(dump_argv))
            storage.put(keys.manifest, io.BytesIO(manifest.to_json()))
            retain(keys.manifest)
    result = replace(_result(settings, keys, artifact, seconds=time.monotonic() - clock), warnings=extras.warnings)
    log.info("backup %s complete", keys.backup_id, extra={"event": "complete", **asdict(result)})
    return result


def _parallel_plan(settings: Settings, dump: DumpCommand, info: ServerInfo, *, defaults: Path,
                   argv: Callable[[Path], list[str]], position_flags: tuple[str, ...]) -> ParallelPlan | None:
    """Several sessions when configured and safe; else the seed's single mariadb-dump.

    Galera: only when BACKUP_DUMP_THREADS is set, and only with a binary log. Behind a Service the
    sessions may reach different nodes, and a snapshot on one node says nothing of another; with a binary
    log every session's position is compared (a mismatch fails the attempt, which is retried), without
    one nothing could prove the sessions share a snapshot. No temp disk is needed: the sessions' output
    waits in bounded memory (agent.backup.parallel_dump).
    """
    # Default from the usable CPUs (agent.backup.cpus): 1 up to 2 (not measured faster there), else one per
    # CPU beyond the compressor's. On Galera only when asked: the commit block holds up the whole cluster.
    threads = settings.dump_threads or (1 if info.galera else default_dump_threads())
    if threads <= 1 or not dump.parallel:
        return None
    if info.galera and not info.log_bin:
        _one_session("a Galera node without a binary log cannot prove its sessions share one snapshot", threads,
                     asked=True)
        return None
    return ParallelPlan(argv=argv, defaults_file=defaults, threads=threads, extra_flags=position_flags)


def _produce(upload: ArtifactUpload, settings: Settings) -> tuple[ArtifactResult, dict[str, int] | None]:
    """One attempt; a parallel dump that cannot be done (commits could not be blocked, a session could not
    open its snapshot while commits waited, or one waited on the stitcher until the server dropped it) is
    done again at once as the seed's single dump."""
    try:
        return produce_counted(upload, settings.format)
    except ParallelUnavailableError as exc:
        if upload.parallel is None:
            raise
        _one_session(str(exc), upload.parallel.threads, asked=settings.dump_threads is not None)
        return produce_counted(replace(upload, parallel=None), settings.format)


def _one_session(reason: str, threads: int, *, asked: bool) -> None:
    """A warning when BACKUP_DUMP_THREADS asked for the sessions; by default (from the CPU count) only info:
    e.g. an account without RELOAD gets the single dump on every run, which is what it always had."""
    log.log(logging.WARNING if asked else logging.INFO,
            "one dump session instead of %d: %s (BACKUP_DUMP_THREADS=1 silences this)", threads, reason,
            extra={"event": "parallel_dump_skipped"})


def _with_retries(settings: Settings, what: str, fn: Callable[[], _T]) -> _T:
    """Retry ``fn`` when the server is unreachable or the connection drops (a failover)."""
    return call_with_retries(fn, policy=settings.retry, retry_on=(ClientConnectionError,), what=what, logger=log)


def _snapshot_position(upload: ArtifactUpload, info: ServerInfo) -> BinlogPosition | None:
    return upload.sniffer.position(node=info.hostname, server_id=info.server_id) if upload.sniffer else None


def _log_start(settings: Settings, keys: BackupKeys, info: ServerInfo) -> None:
    log.info("backup %s starting", keys.backup_id,
             extra={"event": "start", "backup_id": keys.backup_id, "host": settings.source.host,
                    "server_version": info.version, "galera": info.galera, "format": settings.format.name})


@contextmanager
def removed_unless_committed(storage: Storage, keys: BackupKeys) -> Iterator[None]:
    """If anything fails before the backup is committed, delete what this run already stored (the
    manifest too: setting its retention may have failed after it was written). Objects already retained
    stay in the bucket's version history until their date, invisible to list, restore and prune."""
    try:
        yield
    except BaseException:
        for key in (keys.manifest, keys.sha1, keys.artifact, *accounts_keys(keys.folder)):
            with contextlib.suppress(StorageError, BackupFailedError, OSError):
                storage.delete(key)
        raise


def _result(settings: Settings, keys: BackupKeys, artifact: ArtifactResult, *, seconds: float) -> BackupResult:
    return BackupResult(backup_id=keys.backup_id, storage_url=settings.destination.storage_url,
                        format=settings.format.name, artifact_key=keys.artifact, sha1_key=keys.sha1,
                        manifest_key=keys.manifest, sha1=artifact.sha1, raw_bytes=artifact.raw_bytes,
                        compressed_bytes=artifact.compressed_bytes, duration_seconds=round(seconds, 3))


def backup_summary(r: BackupResult) -> str:
    rate = r.raw_bytes / r.duration_seconds / 1e6 if r.duration_seconds else 0.0
    ratio = r.raw_bytes / r.compressed_bytes if r.compressed_bytes else 0.0
    return "\n".join(
        [
            f"backup {r.backup_id} complete in {r.duration_seconds:.1f} s ({rate:.0f} MB/s of dump)",
            f"  storage     {r.storage_url}",
            f"  archive     {r.artifact_key}",
            f"  sha1        {r.sha1}  ({r.sha1_key})",
            f"  manifest    {r.manifest_key}",
            f"  size        {r.raw_bytes:,} bytes dumped -> {r.compressed_bytes:,} bytes stored ({ratio:.1f}x)",
            # What will not come back exactly as it was (agent/backup/checks.py), also in the manifest.
            *(f"  warning     {w}" for w in r.warnings),
        ]
    )
