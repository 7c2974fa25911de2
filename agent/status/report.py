"""What ``mariadb-ha-backup status`` prints: the verdict, the newest complete backup and the PITR window,
as text for a person or one JSON object for a script."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agent.common.bucket import Bucket
from agent.common.catalog import BackupEntry
from agent.pitr import ArchiveView, current_range
from agent.status.freshness import OK, Freshness, human_duration, is_encrypted
from shared.manifest import Manifest
from shared.times import format_time


def status_json(freshness: Freshness, bucket: Bucket) -> dict[str, Any]:
    newest = freshness.newest
    body: dict[str, Any] = {
        "verdict": freshness.verdict,
        "checked_at": freshness.checked_at.isoformat(timespec="seconds"),
        "max_age_seconds": int(freshness.max_age.total_seconds()),
        "storage_url": bucket.storage.url,
        "prefix": bucket.prefix,
        "newest": None,
        "failed_since": [e.backup_id for e in freshness.failed_since],
    }
    if newest is not None and freshness.age is not None:
        body["newest"] = {**newest_json(newest), "age_seconds": int(freshness.age.total_seconds()),
                          "encrypted": is_encrypted(newest)}
    return body


def status_text(freshness: Freshness, bucket: Bucket) -> str:
    newest, age = freshness.newest, freshness.age
    limit = human_duration(freshness.max_age)
    if newest is None or newest.manifest is None or age is None:
        lines = [f"NONE: no complete backup under {bucket.storage.url} {bucket.prefix}/"]
    else:
        m = newest.manifest
        verdict = "OK" if freshness.verdict == OK else "STALE"
        lines = [
            f"{verdict}: newest complete backup {newest.backup_id} is {human_duration(age)} old (max age {limit})",
            f"  format      {m.format}, {'encrypted' if is_encrypted(newest) else 'not encrypted'}",
            f"  method      {_method(m)}",
            f"  size        {m.artifact.raw_bytes:,} bytes dumped -> {m.artifact.compressed_bytes:,} bytes stored",
            f"  storage     {bucket.storage.url} {bucket.prefix}/",
        ]
    if freshness.failed_since:
        ids = ", ".join(e.backup_id for e in freshness.failed_since[:3])
        lines.append(f"  newer incomplete or damaged backups: {len(freshness.failed_since)} ({ids})")
    return "\n".join(lines)


def pitr_text(view: ArchiveView, backups: list[BackupEntry], *, now: datetime) -> str:
    """The ``pitr`` line: the range ``restore --until`` can reach now (``agent.pitr.current_range``)."""
    if not view.history:
        return "  pitr        no binlogs archived (point-in-time recovery is off)"
    gaps = len(view.gaps)
    if not view.windows:
        return f"  pitr        no segment archived since the last gap ({gaps} gap(s) recorded)"
    newest = view.windows[-1]
    end = view.end_of(newest)  # the last transaction, or the checkpoint of an idle, caught-up archive
    age, until = human_duration(now - end), format_time(end)
    current = current_range(view, backups)
    if current is None:
        return (f"  pitr        NOT restorable: binlogs archived until {until} (last event {age} ago), but no complete "
                "backup's binlog position lies inside the archive since its last gap: take a backup")
    return (f"  pitr        restorable {format_time(current.start)} .. {until} from backup {current.base_backup} "
            f"(last archived event {age} ago; {gaps} gap(s) recorded)")


def _method(m: Manifest) -> str:
    """``logical``, ``physical full`` or ``physical incremental on <parent> (chain from <full>)``."""
    if m.physical is None:
        return m.method
    if m.physical.parent is None:
        return f"{m.method} {m.physical.kind}"
    return f"{m.method} {m.physical.kind} on {m.physical.parent} (chain from {m.physical.base})"


def newest_json(entry: BackupEntry) -> dict[str, Any]:
    """The fields ``list --json`` gives a complete backup, minus the source details."""
    m = entry.manifest
    assert m is not None  # only complete backups are "newest"
    return {"id": entry.backup_id, "state": entry.state, "started_at": entry.started.isoformat(),
            "finished_at": m.finished_at, "method": m.method, "format": m.format, "artifact_key": m.artifact.key,
            "sha1": m.artifact.sha1, "raw_bytes": m.artifact.raw_bytes,
            "compressed_bytes": m.artifact.compressed_bytes, "stored_bytes": entry.stored_bytes}
