"""``status`` from the run's configuration: one read of the bucket's backups, of the binlog archive and
of the drill records, judged at one moment, rendered as text for a person or one JSON object for a script."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.common.bucket import Bucket, open_bucket
from agent.common.catalog import BackupEntry, scan_backups
from agent.common.drill_record import latest_drills
from agent.pitr import ArchiveView, pitr_status_json, read_archive
from agent.status.drill_freshness import DrillFreshness, assess_drills, drill_status_json, drill_status_text
from agent.status.freshness import DEFAULT_MAX_AGE, OK, Freshness, assess
from agent.status.report import pitr_text, status_json, status_text
from shared.config import ConfigValues, load_destination, load_retry
from shared.config.parsing import parse_duration


@dataclass(frozen=True)
class StatusCheck:
    bucket: Bucket
    backups: list[BackupEntry]
    freshness: Freshness
    archive: ArchiveView
    now: datetime
    drills: DrillFreshness

    @property
    def ok(self) -> bool:
        """The newest backup is fresh and, when --max-drill-age is given, a drill passed within it."""
        return self.freshness.verdict == OK and self.drills.ok

    def as_json(self) -> dict[str, Any]:
        pitr = pitr_status_json(self.archive, self.backups, now=self.now) if self.archive.history else None
        return {**status_json(self.freshness, self.bucket), "pitr": pitr, "drill": drill_status_json(self.drills)}

    def as_text(self) -> str:
        lines = [status_text(self.freshness, self.bucket), pitr_text(self.archive, self.backups, now=self.now),
                 drill_status_text(self.drills)]
        return "\n".join(line for line in lines if line)


def check_status(config: ConfigValues, *, now: datetime | None = None) -> StatusCheck:
    max_age = parse_duration(config.get("BACKUP_MAX_AGE", DEFAULT_MAX_AGE), name="--max-age")
    drill_age = config.get("DRILL_MAX_AGE")
    max_drill_age = parse_duration(drill_age, name="--max-drill-age") if drill_age else None
    bucket = open_bucket(load_destination(config), load_retry(config))
    backups = scan_backups(bucket.storage, prefix=bucket.prefix)
    now = now or datetime.now(UTC)
    drills = assess_drills(latest_drills(bucket.storage, backups), now=now, max_age=max_drill_age)
    return StatusCheck(bucket=bucket, backups=backups, freshness=assess(backups, now=now, max_age=max_age),
                       archive=read_archive(bucket.storage, bucket.prefix), now=now, drills=drills)
