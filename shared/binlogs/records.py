"""The two kinds of record in the binlog archive's history: a segment's index record and a gap.

Both are small JSON documents named by the archive-wide ``seq`` (see ``shared.binlogs.layout``). GTID
states are stored as MariaDB writes them (``0-1-42,1-2-7``) and times as ISO 8601 UTC with a ``Z``.
Event times are the binlog header timestamps (whole seconds, UTC): a transaction's commit time is the
timestamp of the event that ends it (XID, COMMIT query, or the DDL itself).
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import datetime
from functools import cache
from typing import Any, ClassVar, Self, cast

from shared.errors import BackupFailedError
from shared.times import parse_time

RECORD_VERSION = 1


class RecordError(BackupFailedError):
    """An index or gap record is unreadable or lacks required fields."""


class _JsonRecord:
    """How both kinds of record are written and read: sorted, indented JSON; ``_KIND`` is the document's
    ``kind``, checked on reading together with the required fields and the version."""

    _KIND: ClassVar[str]

    def to_json(self) -> bytes:
        return (json.dumps(asdict(cast(Any, self)), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> Self:
        try:
            raw = json.loads(data)
        except ValueError as exc:
            raise RecordError(f"binlog archive {cls._KIND} record is not JSON: {exc}") from None
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: object) -> Self:
        """The record from parsed JSON (an object's, or a rollup's copy of it)."""
        checked = _checked(raw, cls, cls._KIND)
        checked["source"] = SourceNode(**checked["source"])
        return cls(**checked)


# The base of every kind of JSON record in the archive (shared.binlogs.compaction's too).
JsonRecord = _JsonRecord


@dataclass(frozen=True)
class SourceNode:
    """The server a segment was read from."""

    host: str  # the address the archiver connected to
    node: str  # @@hostname of the server (the Galera node / pod)
    server_id: int


@dataclass(frozen=True)
class SegmentRecord(_JsonRecord):
    """``index/<seq>.json``: one archived segment; its existence is what makes the segment count."""

    _KIND: ClassVar[str] = "segment"

    seq: int
    segment: str  # the object key of the segment
    sha1: str  # of the whole segment object
    size: int
    transactions: int
    first_gtid: str
    last_gtid: str
    gtid_state_before: str  # the archive's GTID state before this segment's first transaction
    gtid_state_after: str  # ... and after its last one (per domain)
    first_event_time: str  # commit time of the first transaction
    last_event_time: str  # commit time of the last transaction
    source: SourceNode
    source_file: str  # the server's binlog file the transactions came from
    start_offset: int  # offset of the first transaction's GTID event in source_file
    end_offset: int  # offset just past the last transaction's last event
    archived_at: str
    kind: str = "segment"
    version: int = RECORD_VERSION
    # Layers over the stored segment (shared.formats.LAYERS, "age" when BACKUP_ENCRYPT_RECIPIENTS is set):
    # ``segment``, ``sha1`` and ``size`` are those of the stored bytes, like a backup's .sha1 sidecar.
    layers: list[str] = field(default_factory=list)

    @property
    def first_time(self) -> datetime:
        return parse_time(self.first_event_time, what="index record first_event_time")

    @property
    def last_time(self) -> datetime:
        return parse_time(self.last_event_time, what="index record last_event_time")


@dataclass(frozen=True)
class GapRecord(_JsonRecord):
    """``gaps/<seq>.json``: transactions the archive never got (the server purged them first).

    ``from_*`` is where the archive stood (the last archived GTID state and commit time, empty when the
    archive was empty); ``to_*`` is where archiving resumed (the server's oldest available state and the
    time of its first event). Restore refuses any range that crosses a gap.
    """

    _KIND: ClassVar[str] = "gap"

    seq: int
    from_gtid_state: str
    from_time: str | None
    to_gtid_state: str
    to_time: str | None
    reason: str
    source: SourceNode
    detected_at: str
    kind: str = "gap"
    version: int = RECORD_VERSION


@cache
def _field_names(cls: type) -> tuple[frozenset[str], frozenset[str]]:
    """All field names and the required ones (a rollup parses ~700 records: asked once per class)."""
    return (frozenset(f.name for f in fields(cls)),
            frozenset(f.name for f in fields(cls) if f.default is MISSING))


def _checked(raw: object, cls: type, kind: str) -> dict[str, Any]:
    names, required = _field_names(cls)
    if not isinstance(raw, dict) or raw.get("kind", kind) != kind:
        raise RecordError(f"binlog archive {kind} record is not a {kind} record")
    if not required <= raw.keys():
        raise RecordError(f"binlog archive {kind} record lacks fields: {sorted(required - raw.keys())}")
    if raw.get("version", RECORD_VERSION) > RECORD_VERSION:
        raise RecordError(f"binlog archive {kind} record version {raw['version']} is newer than this tool")
    return {key: value for key, value in raw.items() if key in names}
