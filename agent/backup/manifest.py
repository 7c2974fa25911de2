"""Assembling a backup's manifest from what the run learnt: settings, keys, server, artifact."""

from __future__ import annotations

from datetime import UTC, datetime

import shared  # shared.__version__ is read when used: looking it up costs ~16 ms
from agent.backup.pipeline import ArtifactResult
from shared.config import Settings
from shared.dump import dump_flags
from shared.encryption import NO_ENCRYPTION, EncryptionSettings
from shared.layout import BackupKeys
from shared.manifest import Artifact, BinlogPosition, Encryption, Manifest, ObjectLockHold, Source
from shared.server_info import ServerInfo
from shared.storage.object_lock import NO_LOCK, LockSettings


def build_manifest(
    settings: Settings, keys: BackupKeys, info: ServerInfo, artifact: ArtifactResult, *, started: datetime,
    lock: LockSettings = NO_LOCK, encryption: EncryptionSettings = NO_ENCRYPTION,
    extra_flags: tuple[str, ...] = (), binlog: BinlogPosition | None = None,
) -> Manifest:
    return Manifest(
        id=keys.backup_id,
        started_at=started.isoformat(timespec="seconds"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        format=settings.format.name,
        artifact=Artifact(key=keys.artifact, name=keys.artifact_name, sha1=artifact.sha1,
                          compressed_bytes=artifact.compressed_bytes, raw_bytes=artifact.raw_bytes,
                          compression=settings.format.codec, tar_member=settings.format.tar_member,
                          layers=list(keys.layers)),
        sha1_key=keys.sha1,
        source=Source(host=settings.source.host, port=settings.source.port, server_version=info.version,
                      namespace=settings.source.namespace, service=settings.source.service,
                      server_hostname=info.hostname, gtid_binlog_pos=info.gtid_binlog_pos, galera=info.galera,
                      max_allowed_packet=info.max_allowed_packet),
        dump_command=["mariadb-dump", *dump_flags(), *extra_flags],
        tool_version=shared.__version__,
        inventory=info.inventory,
        # Public keys only; an identity never reaches the backup.
        encryption=Encryption(scheme="age", recipients=list(encryption.recipients)) if encryption.enabled else None,
        retention=ObjectLockHold(until=lock.until(started).isoformat(), mode=lock.mode) if lock.enabled else None,
        binlog=binlog,
    )
