"""``list`` from the run's configuration: the backups in the bucket (complete ones, or every folder with
``include_all``) and the binlog archive's restorable ranges (``agent.pitr.windows``), as a table for a
person or one JSON array for a script."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from agent.common.bucket import Bucket, open_bucket
from agent.common.catalog import BackupEntry, scan_backups
from agent.common.drill_record import DrillRecord, latest_drills
from agent.pitr import ArchiveView, pitr_json, read_archive, windows_text
from agent.status.drill_freshness import drill_cell
from shared.config import ConfigValues, load_destination, load_retry
from shared.manifest import FULL, Manifest

_HEADER = (f"{'ID':<17} {'STATE':<10} {'METHOD':<16} {'FORMAT':<12} {'DUMP':>10} {'STORED':>10}  "
           f"{'DRILLED':<15} {'SHA1':<40}  SOURCE")


@dataclass(frozen=True)
class Listing:
    bucket: Bucket
    backups: list[BackupEntry]  # newest first
    archive: ArchiveView
    drills: dict[str, DrillRecord]  # the newest drill record of each backup that has one

    def as_json(self) -> str:
        return json.dumps([{**_entry_json(e), **pitr_json(e, self.archive),
                            "drill": asdict(self.drills[e.backup_id]) if e.backup_id in self.drills else None}
                           for e in self.backups], indent=2, ensure_ascii=False)

    def as_text(self) -> str:
        if not self.backups:
            lines = [f"no backups under {self.bucket.storage.url} {self.bucket.prefix}/"]
        else:
            now = datetime.now(UTC)
            lines = [_HEADER, *(_line(e, drill_cell(self.drills.get(e.backup_id), now=now)) for e in self.backups)]
        if self.archive.history:
            lines += ["", windows_text(self.archive, self.backups)]
        return "\n".join(lines)


def list_backups(config: ConfigValues, *, include_all: bool) -> Listing:
    bucket = open_bucket(load_destination(config), load_retry(config))
    backups = [e for e in scan_backups(bucket.storage, prefix=bucket.prefix) if include_all or e.complete]
    return Listing(bucket=bucket, backups=backups, archive=read_archive(bucket.storage, bucket.prefix),
                   drills=latest_drills(bucket.storage, backups))


def _entry_json(entry: BackupEntry) -> dict[str, Any]:
    base: dict[str, Any] = {"id": entry.backup_id, "state": entry.state, "complete": entry.complete,
                            "started_at": entry.started.isoformat(), "stored_bytes": entry.stored_bytes}
    if entry.manifest is None:
        return {**base, "problem": entry.problem, "keys": [o.key for o in entry.objects],
                "last_modified": entry.last_modified.isoformat()}
    m = entry.manifest
    return {**base, "finished_at": m.finished_at, "format": m.format, "artifact_key": m.artifact.key,
            "sha1": m.artifact.sha1, "raw_bytes": m.artifact.raw_bytes, "compressed_bytes": m.artifact.compressed_bytes,
            "layers": m.artifact.layers, "method": m.method,
            "physical": asdict(m.physical) if m.physical else None,
            "encryption": asdict(m.encryption) if m.encryption else None,
            "retention": asdict(m.retention) if m.retention else None,
            "source": {"host": m.source.host, "port": m.source.port, "server_version": m.source.server_version,
                       "namespace": m.source.namespace, "service": m.source.service,
                       "server_hostname": m.source.server_hostname, "gtid_binlog_pos": m.source.gtid_binlog_pos}}


def _line(entry: BackupEntry, drilled: str) -> str:
    m = entry.manifest
    if m is None:
        state = entry.state.upper()
        return f"{entry.backup_id:<17} {state:<10} {'-':<16} {'-':<12} {'-':>10} {_size(entry.stored_bytes):>10}  " \
               f"{'-':<15} {'-':<40}  {entry.problem or f'{len(entry.objects)} object(s), no manifest'}"
    source = f"{m.source.host}:{m.source.port} ({m.source.server_hostname or '?'}, {m.source.server_version})"
    return (f"{entry.backup_id:<17} {entry.state:<10} {method_text(m):<16} {m.format:<12} "
            f"{_size(m.artifact.raw_bytes):>10} "
            f"{_size(m.artifact.compressed_bytes):>10}  {drilled:<15} {m.artifact.sha1:<40}  {source}")


def method_text(m: Manifest) -> str:
    """``logical``, ``physical full`` or ``physical incr`` (an incremental: its chain is in --json)."""
    if m.physical is None:
        return m.method
    return f"{m.method} {'full' if m.physical.kind == FULL else 'incr'}"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
