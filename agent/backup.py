"""One backup run: password → preflight → dump/compress/upload → ``.sha1`` → manifest (last).

A backup exists only when its manifest does. Any failure, including SIGTERM, leaves no manifest:
the artifact upload is aborted (or, if it already completed, deleted again), and the private temp
dir with the password file and the spool is removed.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.pipeline import ArtifactResult, DumpJob, Progress, produce
from shared import __version__
from shared.config import ConfigError, Settings, SourceSettings
from shared.dump import DUMP_FLAGS, DumpConnectionError, write_defaults_file
from shared.errors import AlreadyRunningError, BackupFailedError
from shared.layout import BackupKeys, backup_id_at, parse_backup_id, sha1_sidecar_text
from shared.logs import register_secret
from shared.manifest import Artifact, Manifest, Source
from shared.retry import call_with_retries
from shared.server_info import ServerInfo, inspect_server
from shared.storage import ObjectExistsError, Storage, StorageError, open_storage
from shared.storage.retrying import RetryingStorage

log = logging.getLogger("mariadb_ha_backup.backup")

# Created create-only when a run claims its id, deleted when the run ends (committed or not): the
# per-second id alone cannot tell two agents that start in the same second apart.
CLAIM_NAME = ".in-progress"

# How many consecutive seconds to try for a free backup id before concluding another run is active.
_ID_ATTEMPTS = 5


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


def run_backup(
    settings: Settings,
    *,
    storage: Storage | None = None,
    progress: Progress | None = None,
) -> BackupResult:
    clock = time.monotonic()
    password = resolve_password(settings.source)
    register_secret(password)
    storage = storage or RetryingStorage(open_storage(settings.destination.storage_url), policy=settings.retry)
    with _claimed_backup_id(storage, settings) as keys, private_run_dir(settings.tmp_dir) as run_dir:
        started = parse_backup_id(keys.backup_id)
        defaults = write_defaults_file(
            run_dir, host=settings.source.host, port=settings.source.port, user=settings.source.user, password=password
        )
        info = _inspect_with_retries(defaults, settings)
        log.info(
            "backup %s starting",
            keys.backup_id,
            extra={
                "event": "start",
                "backup_id": keys.backup_id,
                "host": settings.source.host,
                "server_version": info.version,
                "galera": info.galera,
                "format": settings.format.name,
            },
        )
        job = DumpJob(
            defaults_file=defaults,
            run_dir=run_dir,
            storage=storage,
            key=keys.artifact,
            mtime=int(started.timestamp()),
            progress=progress or (lambda n: None),
        )
        with _removed_unless_committed(storage, keys):
            artifact = call_with_retries(lambda: produce(job, settings.format), policy=settings.retry,
                                         retry_on=(DumpConnectionError,), what="mariadb-dump", logger=log)
            storage.put(keys.sha1, io.BytesIO(sha1_sidecar_text(artifact.sha1, keys.artifact_name)))
            manifest = _manifest(settings, keys, info, artifact, started=started)
            storage.put(keys.manifest, io.BytesIO(manifest.to_json()))
    result = BackupResult(
        backup_id=keys.backup_id,
        storage_url=settings.destination.storage_url,
        format=settings.format.name,
        artifact_key=keys.artifact,
        sha1_key=keys.sha1,
        manifest_key=keys.manifest,
        sha1=artifact.sha1,
        raw_bytes=artifact.raw_bytes,
        compressed_bytes=artifact.compressed_bytes,
        duration_seconds=round(time.monotonic() - clock, 3),
    )
    log.info("backup %s complete", keys.backup_id, extra={"event": "complete", **result.__dict__})
    return result


def resolve_password(source: SourceSettings) -> str:
    """MARIADB_PASSWORD, else MARIADB_PASSWORD_FILE, else the Kubernetes Secret (key root-password)."""
    if source.password is not None:
        return source.password
    if source.password_file is not None:
        try:
            return source.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"MARIADB_PASSWORD_FILE {source.password_file}: cannot read it ({type(exc).__name__})"
            ) from None
    from shared.k8s.secret import read_root_password  # the kubernetes client is heavy: import only when used

    assert source.namespace and source.secret_name  # guaranteed by load_source
    return read_root_password(namespace=source.namespace, secret_name=source.secret_name)


@contextmanager
def private_run_dir(parent: Path | None) -> Iterator[Path]:
    """A 0700 directory for the password file and the spool, removed however the run ends."""
    try:
        path = Path(tempfile.mkdtemp(prefix="mariadb-ha-backup-", dir=parent))
    except OSError as exc:
        raise ConfigError(f"cannot create a temp dir in {parent or tempfile.gettempdir()}: {exc.strerror}") from None
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def _claimed_backup_id(storage: Storage, settings: Settings) -> Iterator[BackupKeys]:
    """A backup id this run owns until the block ends; the claim marker is removed however it ends."""
    keys = _claim_backup_id(storage, settings)
    try:
        yield keys
    finally:
        # Best effort: a leftover marker (e.g. after SIGKILL) only marks an incomplete folder.
        with contextlib.suppress(StorageError, BackupFailedError, OSError):
            storage.delete(_claim_key(keys))


def _claim_key(keys: BackupKeys) -> str:
    return keys.folder + CLAIM_NAME


def _claim_backup_id(storage: Storage, settings: Settings) -> BackupKeys:
    """Fail before dumping if the bucket is missing/refused, and pick an id no other run uses.

    The id is the start second. A second is taken if its folder holds anything (an earlier backup)
    or if creating its claim marker fails because another agent created it first: the create-only
    put is decided by the storage service, so two agents starting in the same second cannot both
    win. The loser moves on to the next second instead of touching the other run's keys.
    """
    prefix = settings.destination.prefix
    next(iter(storage.list(prefix + "/")), None)  # raises StorageConfigError for a missing bucket
    for _ in range(_ID_ATTEMPTS):
        keys = BackupKeys(prefix=prefix, backup_id=backup_id_at(datetime.now(UTC)), format=settings.format.name)
        if next(iter(storage.list(keys.folder)), None) is None and _create_claim(storage, keys):
            return keys
        time.sleep(1.0 - time.time() % 1.0)
    raise AlreadyRunningError(f"backups under {prefix}/ keep appearing each second: another backup is running")


def _create_claim(storage: Storage, keys: BackupKeys) -> bool:
    """Create this id's claim marker, create-only; False if another run holds it."""
    token = uuid.uuid4().hex
    marker = json.dumps({"backup_id": keys.backup_id, "host": socket.gethostname(), "pid": os.getpid(),
                         "token": token}).encode()
    try:
        storage.put(_claim_key(keys), io.BytesIO(marker), if_absent=True)
        return True
    except ObjectExistsError:
        # Ours after all if a retried create found the marker its lost first attempt had stored.
        with contextlib.suppress(StorageError, OSError), storage.open_read(_claim_key(keys)) as stream:
            if stream.read() == marker:
                return True
    log.info("backup id %s was just claimed by another run", keys.backup_id, extra={"event": "id-taken"})
    return False


def _inspect_with_retries(defaults: Path, settings: Settings) -> ServerInfo:
    return call_with_retries(lambda: inspect_server(defaults), policy=settings.retry,
                             retry_on=(DumpConnectionError,), what="connecting to MariaDB", logger=log)


@contextmanager
def _removed_unless_committed(storage: Storage, keys: BackupKeys) -> Iterator[None]:
    """If anything fails before the manifest is stored, delete what this run already stored."""
    try:
        yield
    except BaseException:
        for key in (keys.sha1, keys.artifact):
            with contextlib.suppress(StorageError, BackupFailedError, OSError):
                storage.delete(key)
        raise


def _manifest(
    settings: Settings, keys: BackupKeys, info: ServerInfo, artifact: ArtifactResult, *, started: datetime
) -> Manifest:
    return Manifest(
        id=keys.backup_id,
        started_at=started.isoformat(timespec="seconds"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        format=settings.format.name,
        artifact=Artifact(
            key=keys.artifact,
            name=keys.artifact_name,
            sha1=artifact.sha1,
            compressed_bytes=artifact.compressed_bytes,
            raw_bytes=artifact.raw_bytes,
            compression=settings.format.codec,
            tar_member=settings.format.tar_member,
        ),
        sha1_key=keys.sha1,
        source=Source(
            host=settings.source.host,
            port=settings.source.port,
            server_version=info.version,
            namespace=settings.source.namespace,
            service=settings.source.service,
            server_hostname=info.hostname,
            gtid_binlog_pos=info.gtid_binlog_pos,
            galera=info.galera,
        ),
        dump_command=["mariadb-dump", *DUMP_FLAGS],
        tool_version=__version__,
        inventory=info.inventory,
    )
