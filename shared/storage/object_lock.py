"""Object lock for backups: ``BACKUP_LOCK_DAYS=N`` retains every object of a backup until its start + N days.

A deleter with the bucket's credentials (ransomware, a leaked key, a wrong ``prune``) then cannot
remove a backup before that date: S3 refuses to delete the locked version (a plain DELETE only adds a
delete marker, the data stays), GCS and Azure refuse the delete. ``GOVERNANCE`` (default) can still be
lifted by a principal with the bypass permission; ``COMPLIANCE`` by nobody.

Retention is measured from the backup's *start* (its id), the same clock ``prune --max-age`` uses,
so "locked for N days" and "older than N days" agree about every backup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.errors import BadInputError
from shared.storage.base import LOCK_MODES, LockingStorage, ObjectLockUnsupportedError, ObjectNotFoundError, Storage

LOCK_DAYS_ENV = "BACKUP_LOCK_DAYS"
LOCK_MODE_ENV = "BACKUP_LOCK_MODE"
# S3 accepts retention up to 100 years; more is a typo.
_MAX_DAYS = 36500


class LockConfigError(BadInputError):
    pass


@dataclass(frozen=True)
class LockSettings:
    days: int | None = None
    mode: str = "GOVERNANCE"

    @property
    def enabled(self) -> bool:
        return self.days is not None

    def until(self, started: datetime) -> datetime:
        assert self.days is not None
        return started + timedelta(days=self.days)


NO_LOCK = LockSettings()


def load_lock_settings(raw: Mapping[str, str]) -> LockSettings:
    mode = raw.get(LOCK_MODE_ENV, "GOVERNANCE").upper()
    if mode not in LOCK_MODES:
        raise LockConfigError(f"{LOCK_MODE_ENV} must be GOVERNANCE or COMPLIANCE, not {raw[LOCK_MODE_ENV][:20]!r}")
    if not raw.get(LOCK_DAYS_ENV):
        return LockSettings(mode=mode)
    try:
        days = int(raw[LOCK_DAYS_ENV])
    except ValueError:
        given = raw[LOCK_DAYS_ENV][:20]
        raise LockConfigError(f"{LOCK_DAYS_ENV} must be a whole number of days, not {given!r}") from None
    if not 1 <= days <= _MAX_DAYS:
        raise LockConfigError(f"{LOCK_DAYS_ENV} must be between 1 and {_MAX_DAYS}, not {days}")
    return LockSettings(days=days, mode=mode)


def can_lock(storage: Storage) -> bool:
    """Whether the backend under any wrapper (``RetryingStorage.inner``) implements ``LockingStorage``."""
    inner = getattr(storage, "inner", storage)
    return isinstance(inner, LockingStorage)


def require_object_lock(storage: Storage) -> LockingStorage:
    """The storage as a ``LockingStorage`` whose bucket can retain objects; else one clear line, exit 2."""
    if not can_lock(storage) or not isinstance(storage, LockingStorage):
        raise ObjectLockUnsupportedError(f"{storage.url}: this storage cannot lock objects; unset {LOCK_DAYS_ENV}")
    storage.check_object_lock()
    return storage


def retainer(storage: Storage, lock: LockSettings, *, started: datetime) -> Callable[[str], None]:
    """A function that retains one stored key until ``started`` + the lock's days; a no-op without
    BACKUP_LOCK_DAYS. The backup calls it right after each upload, so the manifest (which makes the
    backup exist) is written only after the objects it names are retained."""
    if not lock.enabled:
        return lambda key: None
    locking = require_object_lock(storage)
    until = lock.until(started)
    return lambda key: locking.set_retention(key, until=until, mode=lock.mode)


def rolling_retainer(storage: Storage, lock: LockSettings) -> Callable[[str], None]:
    """For the binlog archive, which has no start time: a function that retains one stored key until
    now + the lock's days (each segment, record and rollup from when it is written); a no-op without
    BACKUP_LOCK_DAYS. Later objects are retained later, so along ``seq`` retention dates only grow."""
    if not lock.enabled:
        return lambda key: None
    locking = require_object_lock(storage)
    days = timedelta(days=lock.days or 0)
    return lambda key: locking.set_retention(key, until=datetime.now(UTC) + days, mode=lock.mode)


def latest_retention(storage: Storage, keys: Iterable[str], *, now: datetime) -> datetime | None:
    """The latest retention date after ``now`` among ``keys``, or None when all may be deleted now.
    A backend without object lock retains nothing."""
    if not can_lock(storage) or not isinstance(storage, LockingStorage):
        return None
    dates = [until for key in keys if (until := _retained_until(storage, key)) is not None and until > now]
    return max(dates) if dates else None


def retention_check(storage: Storage, *, now: datetime) -> Callable[[str], bool]:
    """Whether a key is still retained by object lock. One request tells whether the bucket can retain
    at all (so a bucket without object lock pays nothing per key); where it can, one per key asked.
    S3 is why it matters: there a plain DELETE of a retained object succeeds (it only adds a delete
    marker), so a prune would hide locked segments instead of failing."""
    if not can_lock(storage) or not isinstance(storage, LockingStorage):
        return lambda key: False
    try:
        storage.check_object_lock()
    except ObjectLockUnsupportedError:
        return lambda key: False
    return lambda key: latest_retention(storage, [key], now=now) is not None


def _retained_until(storage: LockingStorage, key: str) -> datetime | None:
    try:
        return storage.retained_until(key)
    except ObjectNotFoundError:
        return None  # deleted since it was listed: nothing left to retain
