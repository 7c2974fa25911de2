"""A rollup: the index and gap records of a closed stretch of ``seq``, repeated in one object.

Why: every reader of the archive (``list``, ``status``, ``prune``, ``restore --until``) used to read one
index record per segment, one request each. A busy server writes a segment every few seconds, so a
month of archive is ~500,000 records and ``status`` became a half-hour, half-a-million-request call.
A rollup holds ``first_seq..last_seq`` (an hour of archiving, at most ``ROLLUP_MAX_RECORDS``), and also
what a reader of the newest state needs without reading older rollups: the recoverable windows and the
gap records of the whole archive through ``last_seq``, and how many segments it holds. So ``status``
reads the newest and the oldest rollup and the few records after the newest one, whatever the length
of the archive.

The records stay the source of truth. A rollup is written create-only, after the records it repeats
(like an index record after its segment), and carries the SHA1 of its copy of those records
(``records_sha1``) and of what it says about the whole archive (``summary_sha1``), both over canonical
JSON, so a damaged or edited rollup is noticed: readers then read the records themselves and say so.
A rollup whose copy disagrees with a record in a way its own checksum cannot see (written wrong) is
caught where it matters: a restore checks every segment against the copy and, on a mismatch, asks the
index record itself. Stored as plain JSON like
the records (they name segments, GTIDs and times, never data).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from shared.binlogs.index import GapFreeWindow, HistoryRecord
from shared.binlogs.records import RECORD_VERSION, GapRecord, RecordError, SegmentRecord
from shared.config.binlog import DEFAULT_ROLLUP_RECORDS
from shared.times import TimeFormatError, format_time, parse_time

# The hour, or this many records (BINLOG_ROLLUP_RECORDS), whichever closes first: see shared.config.binlog.
ROLLUP_MAX_RECORDS = DEFAULT_ROLLUP_RECORDS


class RollupError(RecordError):
    """A rollup is unreadable, or its records do not match its own checksum (read the records instead)."""


def _digest(value: object) -> str:
    """SHA1 of a JSON value in one canonical spelling (sorted keys, no spaces): the writer hashes what it
    serializes and the reader what it parsed, so a rollup is checked before anything is built from it."""
    body = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(body.encode()).hexdigest()  # noqa: S324  # detects damage, not a signature


def records_sha1(records: Sequence[HistoryRecord]) -> str:
    """SHA1 of the rollup's copy of the records (each as its ``index/``/``gaps/`` object holds it)."""
    return _digest([asdict(r) for r in records])


def summary_sha1(windows: Sequence[GapFreeWindow], gaps: Sequence[GapRecord], segments_total: int) -> str:
    """SHA1 of what a rollup says about the whole archive (not in any record, so checked on its own)."""
    return _digest(_summary([_window_json(w) for w in windows], [asdict(g) for g in gaps], segments_total))


def _summary(windows: list[Any], gaps: list[Any], segments_total: int) -> dict[str, Any]:
    return {"windows": windows, "gaps": gaps, "segments_total": segments_total}


def written_at(record: HistoryRecord) -> str:
    """When the archiver committed the record (the hour a rollup groups by)."""
    return record.archived_at if isinstance(record, SegmentRecord) else record.detected_at


@dataclass(frozen=True)
class Rollup:
    """``rollups/<first_seq>-<last_seq>.json``."""

    first_seq: int
    last_seq: int
    records: list[HistoryRecord]  # every index and gap record of first_seq..last_seq, in seq order
    # The archive through last_seq, as the writer saw it (older parts may have been pruned since:
    # readers cut these at the oldest rollup left).
    windows: list[GapFreeWindow]
    gaps: list[GapRecord]
    segments_total: int  # segments with seq <= last_seq, counted from the archive's first seq
    created_at: str
    kind: str = "rollup"
    version: int = RECORD_VERSION
    records_sha1: str = field(default="")
    summary_sha1: str = field(default="")

    @property
    def segments(self) -> list[SegmentRecord]:
        return [r for r in self.records if isinstance(r, SegmentRecord)]

    def to_json(self) -> bytes:
        body = {"kind": self.kind, "version": self.version, "first_seq": self.first_seq, "last_seq": self.last_seq,
                "created_at": self.created_at, "segments_total": self.segments_total,
                "records_sha1": records_sha1(self.records),
                "summary_sha1": summary_sha1(self.windows, self.gaps, self.segments_total),
                "records": [asdict(r) for r in self.records],
                "windows": [_window_json(w) for w in self.windows],
                "gaps": [asdict(g) for g in self.gaps]}
        # Compact: an hour of a busy archive is ~700 records; indentation would add a third.
        return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes, *, first_seq: int, last_seq: int) -> Rollup:
        """Parse and check a rollup stored under the key for ``first_seq..last_seq``."""
        try:
            raw = json.loads(data)
            # Checked on the parsed JSON, before anything is built from it (cheap: C-speed dumps + SHA1).
            if _digest(raw["records"]) != raw["records_sha1"] or _digest(
                    _summary(raw["windows"], raw["gaps"], raw["segments_total"])) != raw["summary_sha1"]:
                raise RollupError(f"binlog archive rollup {first_seq}-{last_seq} does not match its checksum "
                                  "(damaged or edited)")
            records = [_record(item) for item in raw["records"]]
            rollup = cls(first_seq=raw["first_seq"], last_seq=raw["last_seq"], records=records,
                         windows=[_window(item) for item in raw["windows"]],
                         gaps=[_record(item) for item in raw["gaps"]],  # type: ignore[misc]  # checked below
                         segments_total=int(raw["segments_total"]), created_at=raw["created_at"],
                         version=int(raw.get("version", RECORD_VERSION)), records_sha1=raw["records_sha1"],
                         summary_sha1=raw["summary_sha1"])
        except RollupError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, RecordError, TimeFormatError) as exc:
            raise RollupError(f"binlog archive rollup {first_seq}-{last_seq} is unreadable: "
                              f"{str(exc)[:200]}") from None
        rollup.check(first_seq=first_seq, last_seq=last_seq)
        return rollup

    def check(self, *, first_seq: int, last_seq: int) -> None:
        """The rollup is what its key says, and its records are the ones it was written with."""
        seqs = [r.seq for r in self.records]
        if (self.first_seq, self.last_seq) != (first_seq, last_seq) or not seqs or seqs[0] != first_seq \
                or seqs[-1] != last_seq or seqs != sorted(set(seqs)):
            raise RollupError(f"binlog archive rollup {first_seq}-{last_seq} does not hold the records its name says")
        if self.version > RECORD_VERSION:
            raise RollupError(f"binlog archive rollup {first_seq}-{last_seq} has version {self.version}, newer "
                              "than this tool")
        if not all(isinstance(g, GapRecord) for g in self.gaps):
            raise RollupError(f"binlog archive rollup {first_seq}-{last_seq} lists a gap that is not a gap record")


def _record(item: dict[str, Any]) -> HistoryRecord:
    return GapRecord.from_dict(item) if item.get("kind") == "gap" else SegmentRecord.from_dict(item)


def _window_json(window: GapFreeWindow) -> dict[str, Any]:
    return {**asdict(window), "start_time": format_time(window.start_time), "end_time": format_time(window.end_time)}


def _window(item: dict[str, Any]) -> GapFreeWindow:
    return GapFreeWindow(first_seq=int(item["first_seq"]), last_seq=int(item["last_seq"]),
                             start_state=str(item["start_state"]), end_state=str(item["end_state"]),
                             start_time=parse_time(item["start_time"], what="rollup window start_time"),
                         end_time=parse_time(item["end_time"], what="rollup window end_time"))
