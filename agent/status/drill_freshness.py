"""Is there a recent enough passed drill? What ``status`` and ``list`` say about drills.

``status`` shows the newest passed drill of any backup, its age (from when the drill finished: the
moment the restore was last proven, whatever the backup's own age) and its measured recovery time;
with ``--max-drill-age`` (``DRILL_MAX_AGE``) it exits 1 when that drill is older or there is none.
Without the flag the drill is shown and not judged: a deployment without drills keeps its exit codes
(and its output).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agent.common.drill_record import DrillRecord, newest_passed
from agent.status.freshness import OK, AgeJudged, human_duration


@dataclass(frozen=True)
class DrillFreshness(AgeJudged):
    newest_passed: DrillRecord | None
    last: DrillRecord | None  # the drill that finished last, passed or not

    @property
    def proven_at(self) -> datetime | None:  # when the restore was last proven, whatever the backup's age
        return self.newest_passed.finished if self.newest_passed else None

    @property
    def ok(self) -> bool:
        return self.max_age is None or self.verdict == OK


def assess_drills(records: dict[str, DrillRecord], *, now: datetime, max_age: timedelta | None) -> DrillFreshness:
    last = max(records.values(), key=lambda r: r.finished, default=None)
    return DrillFreshness(checked_at=now, max_age=max_age, newest_passed=newest_passed(records), last=last)


def drill_status_json(drills: DrillFreshness) -> dict[str, Any]:
    newest = drills.newest_passed
    body: dict[str, Any] = {"verdict": drills.verdict,
                            "max_age_seconds": int(drills.max_age.total_seconds()) if drills.max_age else None,
                            "backup_id": None, "finished_at": None, "age_seconds": None, "restore_seconds": None,
                            "bytes_per_second": None}
    if newest is not None and drills.age is not None:
        body.update(backup_id=newest.backup_id, finished_at=newest.finished_at,
                    age_seconds=int(drills.age.total_seconds()), restore_seconds=newest.restore_seconds,
                    bytes_per_second=newest.bytes_per_second)
    if drills.last is not None and not drills.last.passed:
        body["last_failed"] = {"backup_id": drills.last.backup_id, "finished_at": drills.last.finished_at,
                               "reason": drills.last.reason}
    return body


def drill_status_text(drills: DrillFreshness) -> str:
    """Empty when nothing was ever drilled and no drill age is asked for: the output stays as it was."""
    newest, age = drills.newest_passed, drills.age
    if drills.last is None and drills.max_age is None:
        return ""
    limit = f" (max age {human_duration(drills.max_age)})" if drills.max_age else ""
    if newest is None or age is None:
        lines = [f"  drill       {'NONE: ' if drills.max_age else ''}no passed drill recorded{limit}"]
    else:
        verdict = "" if drills.max_age is None else ("OK: " if drills.verdict == OK else "STALE: ")
        lines = [f"  drill       {verdict}newest passed drill {human_duration(age)} ago{limit}, of backup "
                 f"{newest.backup_id}: restored in {newest.restore_seconds} s "
                 f"({(newest.bytes_per_second or 0) / 2**20:.1f} MiB/s)"]
    if drills.last is not None and not drills.last.passed:
        lines.append(f"  last drill  FAILED on backup {drills.last.backup_id} at {drills.last.finished_at}: "
                     f"{drills.last.reason}")
    return "\n".join(lines)


def drill_cell(record: DrillRecord | None, *, now: datetime) -> str:
    """``list``'s DRILLED column: ``passed 2d ago``, ``FAILED 3h ago`` or ``-``."""
    if record is None:
        return "-"
    return f"{'passed' if record.passed else 'FAILED'} {human_duration(now - record.finished).split()[0]} ago"
