"""The one small interface every storage backend implements.

Four methods, each with a stated contract. Retries, logging and rate limits wrap a backend from the
outside (``shared.storage.retrying``) instead of living in each adapter. Adapters translate their
SDK's errors into the three error classes below, so callers never import an SDK to tell a missing
object from a flaky network.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable

from shared.errors import BackupFailedError, BadInputError


class StorageError(BackupFailedError):
    """A storage call failed for a reason that retrying will not fix by itself (exit 1)."""


class TransientStorageError(StorageError):
    """5xx, throttling, connection reset, timeout: the same call may succeed if retried."""


class StorageConfigError(BadInputError):
    """The bucket/container does not exist, or credentials are missing or refused (exit 2, never retried)."""


class ObjectNotFoundError(StorageError):
    """The key does not exist (never retried)."""


class ObjectLockUnsupportedError(StorageConfigError):
    """Object lock was asked for but the bucket cannot retain objects (exit 2, before any dump)."""


class ObjectExistsError(StorageError):
    """A create-only ``put(..., if_absent=True)`` found the key already there (never retried)."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


@runtime_checkable
class Storage(Protocol):
    """A bucket: keys are ``/``-separated paths relative to the bucket root."""

    url: str

    def put(self, key: str, stream: BinaryIO, *, if_absent: bool = False) -> int:
        """Read ``stream`` to EOF and store it under ``key``; return the number of bytes stored.

        ``if_absent=True`` makes it create-only, decided atomically by the service (S3 If-None-Match,
        GCS if_generation_match=0, Azure If-None-Match, O_EXCL-style link locally): if ``key`` exists,
        nothing is written and ``ObjectExistsError`` is raised. Meant for small objects (a claim
        marker): adapters may read the whole stream into memory for it.

        Atomic: the object becomes visible only after the last byte is stored. If reading the stream
        or any upload call raises, every uploaded part is aborted/discarded, nothing is visible under
        ``key``, and the exception propagates. The stream is read once, front to back, without seek,
        so a whole-object retry is safe only if the caller can produce the stream again. SDK-level
        per-part retries happen inside.
        """
        ...

    def open_read(self, key: str) -> BinaryIO:
        """Return a stream of the object's bytes (not loaded into memory). Raises ``ObjectNotFoundError``
        here, not at the first read. Reading the stream raises storage errors too (a reset mid-download
        is a ``TransientStorageError``), never an SDK exception. Safe to retry."""
        ...

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in no particular order. A missing bucket
        raises ``StorageConfigError`` (callers use this as the preflight check) when iteration starts:
        adapters list lazily. Safe to retry."""
        ...

    def delete(self, key: str) -> None:
        """Delete ``key``; deleting a missing key is not an error (on GCS, neither is a missing bucket:
        both answer 404, so ``list`` is the bucket check). Safe to retry."""
        ...


# Retention modes, spelled as S3 spells them. GOVERNANCE: a principal with a bypass permission can
# shorten or remove it (GCS "Unlocked", Azure "Unlocked"); COMPLIANCE: nobody can, not even the
# account owner, until it expires (GCS "Locked", Azure "Locked").
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")


@runtime_checkable
class LockingStorage(Protocol):
    """A bucket that can retain single objects until a date (S3 Object Lock, GCS object retention,
    Azure version-level immutability). Kept apart from ``Storage`` so backends without it (local)
    stay four methods; callers check ``isinstance(storage, LockingStorage)``."""

    def check_object_lock(self) -> None:
        """Raise ``ObjectLockUnsupportedError`` (one line naming the bucket and what to enable) when the
        bucket cannot retain objects. Safe to retry."""
        ...

    def set_retention(self, key: str, *, until: datetime, mode: str) -> None:
        """Retain the current version of ``key`` until ``until`` (aware UTC) in ``mode`` (``LOCK_MODES``).
        Extending a retention is allowed everywhere; shortening one is refused by the service. Safe to retry."""
        ...

    def retained_until(self, key: str) -> datetime | None:
        """When the current version of ``key`` may be deleted: its retention date (``datetime.max`` for a
        legal/temporary hold), or None if it is not retained. ``ObjectNotFoundError`` if missing. Safe to retry."""
        ...
