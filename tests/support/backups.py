"""Build backups in tests exactly as the agent lays them out (same format table, archive and layout code)."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from shared.compression import open_compressor
from shared.formats import DUMP_TAR_MEMBER, TAR, artifact_format
from shared.layout import BackupKeys, backup_id_at, sha1_sidecar_text
from shared.manifest import Artifact, BinlogPosition, Inventory, Manifest, Source
from shared.storage import Storage
from shared.tarball import TarGzBody, tar_end


def targz_bytes(sql: bytes, *, member: str = DUMP_TAR_MEMBER, mtime: int = 0) -> bytes:
    """The archive the agent stores for this dump: the compressor's member turned into head + body."""
    member_bytes = io.BytesIO()
    writer = open_compressor("gzip", member_bytes)
    writer.write(sql)
    writer.write(tar_end(len(sql)))
    writer.close()
    body = TarGzBody(io.BytesIO(member_bytes.getvalue()), member=member, mtime=mtime, raw_size=lambda: len(sql))
    data = body.read()
    return body.head() + data


SQL = b"".join(b"INSERT INTO t VALUES (%d, 'row %d \xe2\x9c\x93');\n" % (i, i) for i in range(20_000))


def compress_bytes(codec: str, data: bytes) -> bytes:
    """``data`` as one complete compressed member, written by the agent's own compressor."""
    sink = io.BytesIO()
    compressor = open_compressor(codec, sink)
    compressor.write(data)
    compressor.close()
    return sink.getvalue()


def artifact_bytes(fmt: str, sql: bytes, tmp: Path, *, member: str | None = None) -> bytes:
    """The stored bytes of ``sql`` in format ``fmt``; ``member`` overrides the tar member name."""
    spec = artifact_format(fmt)
    if spec.reading == TAR:
        return targz_bytes(sql, member=member or spec.tar_member or DUMP_TAR_MEMBER)
    return compress_bytes(spec.codec, sql)


def store_backup(storage: Storage, *, prefix: str, started: datetime, fmt: str = "tar.gz", sql: bytes = SQL,
                 tmp: Path, databases: tuple[str, ...] = ("shop",), manifest: bool = True,
                 gtid_state: str | None = None) -> BackupKeys:
    """Write one backup with the contract's layout and a manifest that matches it; ``gtid_state``: the
    snapshot's binlog position (None: a server without binlogs)."""
    keys = BackupKeys(prefix=prefix, backup_id=backup_id_at(started), format=fmt)
    data = artifact_bytes(fmt, sql, tmp)
    sha1 = hashlib.sha1(data).hexdigest()  # the contract's checksum
    storage.put(keys.artifact, io.BytesIO(data))
    storage.put(keys.sha1, io.BytesIO(sha1_sidecar_text(sha1, keys.artifact_name)))
    if manifest:
        made = make_manifest(keys, sha1=sha1, stored=len(data), raw=len(sql), started=started, databases=databases)
        if gtid_state is not None:
            made = replace(made, binlog=BinlogPosition(gtid_state=gtid_state, file="bin.000001", position=4, node="db-0"))
        storage.put(keys.manifest, io.BytesIO(made.to_json()))
    return keys


def make_manifest(keys: BackupKeys, *, sha1: str, stored: int, raw: int, started: datetime,
                  databases: tuple[str, ...] = ("shop",)) -> Manifest:
    return Manifest(
        id=keys.backup_id, started_at=started.isoformat(), finished_at=started.isoformat(), format=keys.format,
        artifact=Artifact(key=keys.artifact, name=keys.artifact_name, sha1=sha1, compressed_bytes=stored,
                          raw_bytes=raw, compression=artifact_format(keys.format).codec,
                          tar_member=artifact_format(keys.format).tar_member),
        sha1_key=keys.sha1,
        source=Source(host="db", port=3306, server_version="10.11", namespace="ns", service="db"),
        dump_command=["mariadb-dump"], tool_version="test",
        inventory=Inventory(databases=list(databases)),
    )


def repack_backup(storage: Storage, summary: dict, sql: bytes) -> None:
    """Replace a stored tar.gz backup's dump with ``sql`` and make every checksum match again (artifact,
    ``.sha1`` sidecar, manifest): tampering only a restore can reveal. ``summary`` is ``backup --json``'s."""
    with storage.open_read(summary["manifest_key"]) as stream:
        manifest = Manifest.from_json(stream.read(), key=summary["manifest_key"])
    archive = targz_bytes(sql)
    sha1 = hashlib.sha1(archive).hexdigest()  # the contract's checksum
    storage.put(summary["artifact_key"], io.BytesIO(archive))
    storage.put(summary["sha1_key"], io.BytesIO(sha1_sidecar_text(sha1, "mariadb-ha-backup.tar.gz")))
    patched = json.loads(manifest.to_json())
    patched["artifact"].update(sha1=sha1, compressed_bytes=len(archive), raw_bytes=len(sql))
    storage.put(summary["manifest_key"], io.BytesIO(json.dumps(patched).encode()))
