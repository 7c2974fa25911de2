"""One physical backup run: mariadb-backup's stream → zstd → [age] → SHA1 → bucket, then the manifest.

The same commit protocol as a logical backup (agent/backup.py): claim an id, stream the artifact,
``.sha1``, manifest last; any failure or SIGTERM deletes what the run stored and writes no manifest.
Nothing is staged on disk: the stream goes from mariadb-backup's stdout through the pipeline's
compressor into a multipart upload. What the manifest needs from inside the stream (the binlog
position, the Galera state) is picked out as it flows past (shared.mbstream).

Full or incremental: ``BACKUP_FULL_EVERY`` (or ``backup --incremental``) decides with agent.common.chains;
an incremental passes its parent's ``to_lsn`` as ``--incremental-lsn``, so no earlier backup is
needed on disk, and records the parent's id.
"""

from __future__ import annotations

import io
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from agent.backup.id_claims import claimed_backup_id
from agent.backup.manifest import build_manifest
from agent.backup.pipeline import ArtifactResult, ArtifactUpload, produce
from agent.backup.run import BackupResult, removed_unless_committed
from agent.common.catalog import scan_backups
from agent.common.chains import complete_by_id, parent_for_incremental
from agent.common.credentials import resolve_password
from agent.common.run_dir import private_run_dir
from shared.config import Settings
from shared.encryption import NO_ENCRYPTION, EncryptionSettings
from shared.layout import BackupKeys, parse_backup_id, sha1_sidecar_text
from shared.logs import register_secret
from shared.manifest import FULL, INCREMENTAL, PHYSICAL, BinlogPosition, Manifest, PhysicalCopy
from shared.mariadb_backup import backup_argv, backup_flags, lsn_dir, read_checkpoints, require_series, tool_version
from shared.mariadb_client import ClientConnectionError, run_client_query, write_defaults_file
from shared.mbstream import BINLOG_INFO, GALERA_INFO, MbstreamSniffer
from shared.readers import Progress
from shared.retry import call_with_retries
from shared.server_info import ServerInfo, inspect_server
from shared.storage import Storage, TransientStorageError, open_storage
from shared.storage.object_lock import NO_LOCK, LockSettings, require_object_lock, retainer
from shared.storage.retrying import RetryingStorage

log = logging.getLogger("mariadb_ha_backup.backup")
_T = TypeVar("_T")


@dataclass(frozen=True)
class _Copied:
    artifact: ArtifactResult
    sniffed: MbstreamSniffer


def run_physical_backup(
    settings: Settings, *, storage: Storage | None = None, progress: Progress | None = None,
    lock: LockSettings = NO_LOCK, encryption: EncryptionSettings = NO_ENCRYPTION, incremental: bool = False,
) -> BackupResult:
    """``incremental``: ``backup --incremental``, an incremental whatever BACKUP_FULL_EVERY says."""
    clock = time.monotonic()
    tool_version()  # exit 2 before anything else when mariadb-backup is missing
    password = resolve_password(settings.source)
    register_secret(password)
    storage = storage or RetryingStorage(open_storage(settings.destination.storage_url), policy=settings.retry)
    if lock.enabled:
        require_object_lock(storage)
    prefix = settings.destination.prefix
    backups = complete_by_id(e.manifest for e in scan_backups(storage, prefix=prefix) if e.manifest is not None)
    parent = parent_for_incremental(backups, now=datetime.now(UTC), full_every=settings.method.full_every,
                                    forced=incremental)
    with claimed_backup_id(storage, prefix=prefix, format_name=settings.format.name,
                           layers=encryption.layers) as keys, private_run_dir(settings.tmp_dir) as run_dir:
        started = parse_backup_id(keys.backup_id)
        source = settings.source
        defaults = write_defaults_file(run_dir, host=source.host, port=source.port, user=source.user,
                                       password=password)
        info = _with_retries(settings, "connecting to MariaDB", lambda: inspect_server(defaults))
        require_series(info.version)
        if parent is not None and not _same_series(parent, info):
            log.info("the server's version changed since backup %s: taking a full backup", parent.id)
            parent = None
        incremental_lsn = parent.physical.to_lsn if parent is not None and parent.physical else None
        argv = backup_argv(defaults, run_dir=run_dir, copy_threads=settings.method.copy_threads,
                           galera=info.galera is not None, incremental_lsn=incremental_lsn,
                           datadir=settings.method.datadir)
        kind = f"incremental on {parent.id}" if parent else "full"
        log.info("physical backup %s starting (%s)", keys.backup_id, kind,
                 extra={"event": "start", "backup_id": keys.backup_id, "host": source.host, "method": PHYSICAL,
                        "server_version": info.version, "parent": parent.id if parent else None})
        retain = retainer(storage, lock, started=started)
        with removed_unless_committed(storage, keys):
            # The stream cannot be replayed into a failed upload: a transient storage fault that the adapter's
            # own per-part retries could not absorb restarts the whole copy, like a lost server connection.
            copied = _with_retries(settings, "mariadb-backup", lambda: _copy(
                settings, argv=argv, run_dir=run_dir, storage=storage, keys=keys, started=started,
                progress=progress, encryption=encryption), also=(TransientStorageError,))
            retain(keys.artifact)
            storage.put(keys.sha1, io.BytesIO(sha1_sidecar_text(copied.artifact.sha1, keys.artifact_name)))
            retain(keys.sha1)
            manifest = _manifest(settings, keys, info, copied, started=started, lock=lock, encryption=encryption,
                                 parent=parent, run_dir=run_dir, defaults=defaults)
            storage.put(keys.manifest, io.BytesIO(manifest.to_json()))
            retain(keys.manifest)
    artifact = copied.artifact
    result = BackupResult(backup_id=keys.backup_id, storage_url=settings.destination.storage_url,
                          format=settings.format.name, artifact_key=keys.artifact, sha1_key=keys.sha1,
                          manifest_key=keys.manifest, sha1=artifact.sha1, raw_bytes=artifact.raw_bytes,
                          compressed_bytes=artifact.compressed_bytes,
                          duration_seconds=round(time.monotonic() - clock, 3))
    log.info("physical backup %s complete", keys.backup_id, extra={"event": "complete", "method": PHYSICAL,
                                                                    "parent": parent.id if parent else None})
    return result


def _copy(settings: Settings, *, argv: list[str], run_dir: Path, storage: Storage, keys: BackupKeys,
          started: datetime, progress: Progress | None, encryption: EncryptionSettings) -> _Copied:
    """One attempt: a fresh lsn dir and sniffer, mariadb-backup streamed through the pipeline."""
    shutil.rmtree(lsn_dir(run_dir), ignore_errors=True)
    sniffer = MbstreamSniffer()
    upload = ArtifactUpload(dump_argv=argv, run_dir=run_dir, storage=storage, key=keys.artifact,
                            mtime=int(started.timestamp()), progress=progress or (lambda n: None),
                            encoders=encryption.encoders(), observe=sniffer.feed, program="mariadb-backup")
    artifact = produce(upload, settings.format)
    sniffer.finish()
    return _Copied(artifact=artifact, sniffed=sniffer)


def _manifest(settings: Settings, keys: BackupKeys, info: ServerInfo, copied: _Copied, *, started: datetime,
              lock: LockSettings, encryption: EncryptionSettings, parent: Manifest | None, run_dir: Path,
              defaults: Path) -> Manifest:
    checkpoints = read_checkpoints(lsn_dir(run_dir))
    physical = PhysicalCopy(
        kind=INCREMENTAL if parent is not None else FULL, from_lsn=checkpoints.from_lsn,
        to_lsn=checkpoints.to_lsn, last_lsn=checkpoints.last_lsn,
        base=(parent.physical.base if parent is not None and parent.physical else keys.backup_id),
        parent=parent.id if parent is not None else None, tool_version=tool_version(),
        galera_info=copied.sniffed.first(GALERA_INFO))
    flags = backup_flags(copy_threads=settings.method.copy_threads, galera=info.galera is not None,
                         incremental_lsn=checkpoints.from_lsn if parent is not None else None)
    logical_shape = build_manifest(settings, keys, info, copied.artifact, started=started, lock=lock,
                                   encryption=encryption)
    return replace(logical_shape, method=PHYSICAL, physical=physical, dump_command=["mariadb-backup", *flags],
                   binlog=_binlog_position(copied.sniffed.first(BINLOG_INFO), info, defaults=defaults))


def _binlog_position(text: str | None, info: ServerInfo, *, defaults: Path) -> BinlogPosition | None:
    """mariadb-backup's binlog info, ``file<TAB>position<TAB>gtid state``, at the copy's consistent point.

    On a Galera node the GTID column is empty (mariadb-backup rotates the binlog there and records the new
    file's start), so the state is asked of the server for that file and offset, as the logical dump does:
    ``BINLOG_GTID_POS`` reads it from the file's Gtid_list event."""
    fields = (text or "").split("\t")
    if len(fields) < 2 or not fields[1].isdigit() or not fields[0]:
        return None  # no binlog on the server: nothing to replay from
    file, position = fields[0], int(fields[1])
    gtid = fields[2].strip() if len(fields) > 2 else ""
    if not gtid:
        quoted = file.replace("\\", "\\\\").replace("'", "\\'")
        rows = run_client_query(defaults, f"SELECT IFNULL(BINLOG_GTID_POS('{quoted}', {position}), '')")
        gtid = rows[0][0] if rows and rows[0] else ""
    if not gtid:
        return None
    return BinlogPosition(gtid_state=gtid, file=file, position=position, node=info.hostname,
                          server_id=info.server_id)


def _same_series(parent: Manifest, info: ServerInfo) -> bool:
    return parent.source.server_version.split(".")[:2] == info.version.split(".")[:2]


def _with_retries(settings: Settings, what: str, fn: Callable[[], _T],
                  also: tuple[type[BaseException], ...] = ()) -> _T:
    """Retry when the server is unreachable or the connection drops (and ``also``); the call starts over."""
    return call_with_retries(fn, policy=settings.retry, retry_on=(ClientConnectionError, *also), what=what,
                             logger=log)
