"""The small sections: retry policy, retention, the run's temp dir, the artifact format, restore consent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.config.options import RESTORE_YES_ENV
from shared.config.parsing import ConfigError, positive_number, safe, whole_number
from shared.formats import DEFAULT_DUMP_FORMAT, DUMP_FORMATS, PHYSICAL_FORMAT, ArtifactFormat, artifact_format
from shared.retry import RetryPolicy

FORMATS = DUMP_FORMATS  # the BACKUP_FORMAT values: the dump rows of shared/formats.py
DEFAULT_RETRY = RetryPolicy(attempts=5, max_seconds=600.0)


@dataclass(frozen=True)
class KeepPolicy:
    """Which backups ``prune`` (and a backup's own retention pass) keeps: the newest N, those younger than
    D days. Not object lock: that is ``shared.manifest.ObjectLockHold`` / ``shared.storage.object_lock``."""

    keep_last: int | None = None
    max_age_days: float | None = None

    @property
    def configured(self) -> bool:
        return (self.keep_last, self.max_age_days) != (None, None)


def load_retry(values: Mapping[str, str]) -> RetryPolicy:
    """Bounds every retried call: the database connection, the dump and each storage operation."""
    attempts = whole_number(values, "BACKUP_RETRY_ATTEMPTS", low=1, high=100)
    seconds = positive_number(values, "BACKUP_RETRY_SECONDS")
    return RetryPolicy(attempts=attempts or DEFAULT_RETRY.attempts, max_seconds=seconds or DEFAULT_RETRY.max_seconds)


def load_keep_policy(values: Mapping[str, str]) -> KeepPolicy:
    return KeepPolicy(keep_last=whole_number(values, "BACKUP_KEEP_LAST", low=1, high=100_000),
                     max_age_days=positive_number(values, "BACKUP_MAX_AGE_DAYS"))


def load_tmp_dir(values: Mapping[str, str]) -> Path | None:
    """Parent of the run's private directory (password file, spool); None: the system temp dir."""
    return Path(values["BACKUP_TMPDIR"]) if "BACKUP_TMPDIR" in values else None


def load_dump_threads(values: Mapping[str, str]) -> int | None:
    """``BACKUP_DUMP_THREADS``: 1 is the seed's single mariadb-dump; more share one snapshot. None: not set,
    which is one session (agent.backup.run)."""
    return whole_number(values, "BACKUP_DUMP_THREADS", low=1, high=64)


def load_format(values: Mapping[str, str], *, physical: bool = False) -> ArtifactFormat:
    """The artifact format: BACKUP_FORMAT for a logical backup; a physical one has its own (mbstream.zst)."""
    if physical:
        if "BACKUP_FORMAT" in values:
            raise ConfigError("BACKUP_FORMAT (--format) applies to logical backups; BACKUP_METHOD=physical "
                              f"always writes {PHYSICAL_FORMAT}")
        return artifact_format(PHYSICAL_FORMAT)
    name = values.get("BACKUP_FORMAT", DEFAULT_DUMP_FORMAT)
    if name not in DUMP_FORMATS:
        raise ConfigError(f"BACKUP_FORMAT must be one of {', '.join(DUMP_FORMATS)}, not {safe(name)!r}")
    return artifact_format(name)


def load_restore_confirmed(values: Mapping[str, str]) -> bool:
    return values.get(RESTORE_YES_ENV) == "1"
