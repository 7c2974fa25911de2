"""``drill.json``: what one drill of one backup found, stored beside the backup for good.

``<prefix>/<backup-id>/drill.json`` is written create-only (``put(..., if_absent=True)``) so a record is
never rewritten, and retained under the backup's own object lock when the backup has one, so a
deleter cannot remove the proof that a backup restored while the backup itself stays. A backup drilled
again (the drill schedule ran while no newer backup existed) gets ``drill-<YYYYMMDDTHHMMSSZ>.json``
beside the first record; readers take the record that finished last.

A record is written for a failed drill too: "this backup did not restore, because ..." is the most
important thing a drill can leave behind.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from agent.common.catalog import BackupEntry
from shared.layout import ID_FORMAT
from shared.manifest import Manifest
from shared.storage import Storage
from shared.storage.base import ObjectExistsError
from shared.storage.object_lock import require_object_lock

RECORD_NAME = "drill.json"
_RECORD = re.compile(r"^drill(-\d{8}T\d{6}Z)?\.json$")
BACKUP, POINT = "backup", "point"  # what was drilled: the backup as taken, or a point in time after it


class DrillRecordError(ValueError):
    """A stored drill record that cannot be read (shown as such, never trusted)."""


@dataclass(frozen=True)
class DrillRecord:
    backup_id: str
    kind: str  # BACKUP | POINT
    started_at: str  # ISO 8601 UTC
    finished_at: str
    passed: bool
    reason: str | None  # why it failed; None when passed
    restore_seconds: float | None  # the restore's wall time (None when it did not get that far)
    restored_bytes: int | None  # bytes of SQL loaded
    bytes_per_second: float | None
    server: str  # where it restored: "throwaway server on this machine", "drill server 127.0.0.1:3306"
    server_version: str | None = None
    until: str | None = None  # POINT drills: the time restored to
    checked: dict[str, int] = field(default_factory=dict)
    not_checked: list[str] = field(default_factory=list)
    tool_version: str = ""

    @property
    def finished(self) -> datetime:
        return datetime.fromisoformat(self.finished_at)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: bytes | str) -> DrillRecord:
        try:
            raw = json.loads(text)
            return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError) as exc:
            raise DrillRecordError(f"unreadable drill record: {exc}") from None


def rate(restored_bytes: int | None, seconds: float | None) -> float | None:
    if not restored_bytes or not seconds:
        return None
    return round(restored_bytes / seconds, 1)


def store_record(storage: Storage, *, prefix: str, manifest: Manifest, record: DrillRecord) -> str:
    """Write ``record`` create-only beside the backup, retain it like the backup; return its key."""
    folder = f"{prefix.strip('/')}/{manifest.id}/"
    key = folder + RECORD_NAME
    try:
        storage.put(key, io.BytesIO(record.to_json().encode()), if_absent=True)
    except ObjectExistsError:
        stamp = datetime.fromisoformat(record.started_at).astimezone(UTC).strftime(ID_FORMAT)
        key = f"{folder}drill-{stamp}.json"
        storage.put(key, io.BytesIO(record.to_json().encode()), if_absent=True)
    if manifest.retention is not None:
        until = datetime.fromisoformat(manifest.retention.until)
        require_object_lock(storage).set_retention(key, until=until, mode=manifest.retention.mode)
    return key


def record_keys(entry: BackupEntry) -> list[str]:
    return [o.key for o in entry.objects if _RECORD.match(o.key.rsplit("/", 1)[-1])]


def latest_record(storage: Storage, entry: BackupEntry) -> DrillRecord | None:
    """The drill of ``entry`` that finished last, or None if it was never drilled (one GET per record)."""
    records = []
    for key in record_keys(entry):
        with storage.open_read(key) as stream:
            try:
                records.append(DrillRecord.from_json(stream.read()))
            except DrillRecordError:
                continue  # a damaged record proves nothing; the others still count
    return max(records, key=lambda r: r.finished, default=None)


def latest_drills(storage: Storage, entries: Iterable[BackupEntry]) -> dict[str, DrillRecord]:
    """backup id → its latest drill record, for the complete backups that were drilled."""
    found = {}
    for entry in entries:
        if entry.complete and record_keys(entry) and (record := latest_record(storage, entry)) is not None:
            found[entry.backup_id] = record
    return found


def newest_passed(records: dict[str, DrillRecord]) -> DrillRecord | None:
    return max((r for r in records.values() if r.passed), key=lambda r: r.finished, default=None)
