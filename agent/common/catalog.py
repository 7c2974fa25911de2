"""What is in the bucket: backups grouped by id, complete or not, and picking one (id, latest, --at).

One listing of the folders under the prefix, and one ``list`` call under what the backup ids have in
common (``2026``: never the binlog archive's ``binlogs/`` folder beside them) finds every object of
every backup; objects are grouped by their ``<backup-id>/`` folder. A backup is *complete* only when
its ``manifest.json`` exists (the backup writes it last), so a folder without one is an incomplete
leftover of a failed or running backup. A folder whose manifest cannot be parsed is *damaged*: shown,
never used, and never deleted automatically. Folders whose name is not a backup id are not ours and
are ignored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from shared.errors import BadInputError
from shared.layout import ID_FORMAT, MANIFEST_NAME, BackupIdError, parse_backup_id
from shared.manifest import Manifest, ManifestError
from shared.storage import FolderListing, ObjectInfo, Storage

COMPLETE, INCOMPLETE, DAMAGED = "complete", "incomplete", "damaged"


class NoSuchBackupError(BadInputError):
    """The requested backup does not exist (or is not complete) under the prefix."""


@dataclass(frozen=True)
class BackupEntry:
    backup_id: str
    started: datetime
    state: str
    objects: tuple[ObjectInfo, ...]
    manifest: Manifest | None = None
    problem: str | None = None  # why a damaged manifest could not be read

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE

    @property
    def stored_bytes(self) -> int:
        return sum(o.size for o in self.objects)

    @property
    def last_modified(self) -> datetime:
        return max(o.modified for o in self.objects)


def scan_backups(storage: Storage, *, prefix: str) -> list[BackupEntry]:
    """Every backup folder under ``prefix``, newest first (ids sort chronologically as text)."""
    folders: dict[str, list[ObjectInfo]] = defaultdict(list)
    base = prefix.strip("/") + "/"
    common = _ids_prefix(storage, base)
    for info in storage.list(base + common) if common is not None else []:
        backup_id, sep, _rest = info.key[len(base):].partition("/")
        if sep and _is_backup_id(backup_id):
            folders[backup_id].append(info)
    return [_entry(storage, base, backup_id, folders[backup_id]) for backup_id in sorted(folders, reverse=True)]


def _ids_prefix(storage: Storage, base: str) -> str | None:
    """What every backup folder's name starts with (``2026`` for a year of backups), so one listing
    finds them all without paging through the binlog archive beside them (a million keys after a
    busy month). None when there is no backup folder; "" (the whole prefix) for a backend without
    folder listings."""
    if not isinstance(storage, FolderListing):
        return ""
    ids = [name for name in storage.list_folders(base) if _is_backup_id(name)]
    if not ids:
        return None
    first, last = min(ids), max(ids)  # what the two ends share, every name between them shares
    return first[: next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), len(first))]


def _entry(storage: Storage, base: str, backup_id: str, objects: list[ObjectInfo]) -> BackupEntry:
    def entry(state: str, manifest: Manifest | None = None, problem: str | None = None) -> BackupEntry:
        return BackupEntry(backup_id=backup_id, started=parse_backup_id(backup_id), state=state,
                           objects=tuple(sorted(objects, key=lambda o: o.key)), manifest=manifest, problem=problem)

    manifest_key = f"{base}{backup_id}/{MANIFEST_NAME}"
    if not any(o.key == manifest_key for o in objects):
        return entry(INCOMPLETE)
    try:
        with storage.open_read(manifest_key) as stream:
            manifest = Manifest.from_json(stream.read(), key=manifest_key)
    except ManifestError as exc:
        return entry(DAMAGED, problem=str(exc))
    if manifest.id != backup_id:
        return entry(DAMAGED, problem=f"manifest says id {manifest.id!r} but lives in folder {backup_id}")
    return entry(COMPLETE, manifest=manifest)


def _is_backup_id(name: str) -> bool:
    try:
        parse_backup_id(name)
    except BackupIdError:
        return False
    return True


def select_backup(entries: list[BackupEntry], *, backup_id: str | None = None, latest: bool = False,
                  at: datetime | None = None) -> BackupEntry:
    """The one complete backup the user asked for: by id, the newest, or the newest at or before ``at``."""
    complete = [e for e in entries if e.complete]
    if backup_id is not None:
        parse_backup_id(backup_id)  # a clear exit 2 for a malformed id
        found = next((e for e in entries if e.backup_id == backup_id), None)
        if found is None:
            raise NoSuchBackupError(f"no backup {backup_id} under this prefix{_newest_hint(complete)}")
        if not found.complete:
            raise NoSuchBackupError(f"backup {backup_id} is {found.state} ({found.problem or 'no manifest'}): "
                                    "it cannot be used")
        return found
    if not complete:
        raise NoSuchBackupError("there is no complete backup under this prefix")
    if at is None:
        if not latest:
            raise BadInputError("say which backup: an ID, --latest or --at TIME")
        return complete[0]
    candidate = next((e for e in complete if e.started <= at), None)
    if candidate is None:
        oldest = complete[-1].started.strftime(ID_FORMAT)
        raise NoSuchBackupError(f"no complete backup at or before {at.strftime(ID_FORMAT)}; the oldest is {oldest}")
    return candidate


def _newest_hint(complete: list[BackupEntry]) -> str:
    return f" (newest complete: {complete[0].backup_id})" if complete else " (there are no complete backups)"
