"""``status`` from the run's configuration: one read of the bucket's backups and of the binlog archive,
judged at one moment, rendered as text for a person or one JSON object for a script."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.common.bucket import Bucket, open_bucket
from agent.common.catalog import BackupEntry, scan_backups
from agent.pitr import ArchiveView, pitr_status_json, read_archive
from agent.status.freshness import DEFAULT_MAX_AGE, OK, Freshness, assess, parse_duration
from agent.status.report import pitr_text, status_json, status_text
from shared.config import ConfigValues, load_destination, load_retry


@dataclass(frozen=True)
class StatusCheck:
    bucket: Bucket
    backups: list[BackupEntry]
    freshness: Freshness
    archive: ArchiveView
    now: datetime

    @property
    def ok(self) -> bool:
        return self.freshness.verdict == OK

    def as_json(self) -> dict[str, Any]:
        pitr = pitr_status_json(self.archive, self.backups, now=self.now) if self.archive.history else None
        return {**status_json(self.freshness, self.bucket), "pitr": pitr}

    def as_text(self) -> str:
        return status_text(self.freshness, self.bucket) + "\n" + pitr_text(self.archive, self.backups, now=self.now)


def check_status(config: ConfigValues, *, now: datetime | None = None) -> StatusCheck:
    max_age = parse_duration(config.get("BACKUP_MAX_AGE", DEFAULT_MAX_AGE), name="--max-age")
    bucket = open_bucket(load_destination(config), load_retry(config))
    backups = scan_backups(bucket.storage, prefix=bucket.prefix)
    now = now or datetime.now(UTC)
    return StatusCheck(bucket=bucket, backups=backups, freshness=assess(backups, now=now, max_age=max_age),
                       archive=read_archive(bucket.storage, bucket.prefix), now=now)
