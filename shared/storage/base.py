"""The one small interface every storage backend implements.

Four methods, each with a stated contract. Retries, logging and rate limits wrap a backend from the
outside (``shared.storage.retrying``) instead of living in each adapter. Adapters translate their
SDK's errors into the three error classes below, so callers never import an SDK to tell a missing
object from a flaky network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Generic, Protocol, TypeVar, runtime_checkable

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


class ObjectChangedError(StorageError):
    """A resumed read found another version of the object than the one it started on (never retried:
    splicing two versions would give bytes that belong to neither)."""


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


_T = TypeVar("_T")


class Retried(Protocol):
    def __call__(self, what: str, call: Callable[[], _T], /) -> _T: ...


def no_retries(what: str, call: Callable[[], _T], /) -> _T:
    return call()


@runtime_checkable
class HeadLastStorage(Protocol):
    """A backend that can store an object whose first bytes are known only after the rest was sent.

    Kept apart from ``Storage`` (one capability, one method): the streamed ``tar.gz`` needs it, nothing
    else does. All four backends implement it (S3: part 1 uploaded last; Azure: the head's block
    committed first; GCS: the body and the head as temporary objects composed into the key; local:
    the head's bytes rewritten in place).
    """

    def put_head_last(self, key: str, body: BinaryIO, *, head_size: int, head: Callable[[], bytes],
                      retried: Retried = no_retries) -> int:
        """Store ``head() + body`` under ``key``; return the number of bytes stored.

        ``body`` is read once, front to back, and uploaded while it is read (bounded memory, no temp
        disk). When it is at EOF, ``head()`` is called once and must return exactly ``head_size`` bytes;
        they are put in front of the body. Atomic like ``put``: nothing is visible under ``key`` until
        the object is complete; if reading ``body``, ``head()`` or any call fails, everything uploaded
        (parts, blocks, temporary objects) is aborted or deleted and the exception propagates. Not safe
        to retry whole (the body is one-shot); SDK-level per-request retries happen inside, and every
        request whose data is in memory (a part, a block, the head, the commit, a compose) goes through
        ``retried(what, call)``: ``RetryingStorage`` passes its policy there, so a part that fails is
        sent again without sending the body again.
        """


@dataclass(frozen=True)
class OpenedRead:
    stream: BinaryIO
    version: str  # what pins the object: S3/Azure ETag, GCS generation, a local file's inode and mtime
    size: int  # the whole object's size, whatever the offset


@runtime_checkable
class ResumableReads(Protocol):
    """A backend whose reads can start at an offset of one given version of an object, so a long read
    broken at byte N goes on from byte N (``shared.storage.resuming``) instead of failing or starting over.
    All four backends implement it (S3 and Azure: a ranged GET with If-Match on the ETag; GCS: a ranged
    read of a pinned generation; local: a seek, with the file's identity checked)."""

    def open_read_from(self, key: str, *, offset: int, version: str | None) -> OpenedRead:
        """The object's bytes from ``offset`` (0 <= offset < size). ``ObjectNotFoundError`` if missing; with
        ``version``, ``ObjectChangedError`` if the object is no longer that version. Safe to retry."""
        ...


@runtime_checkable
class FolderListing(Protocol):
    """A backend that can list the folders directly under a prefix without listing what is in them
    (S3 and GCS: a delimiter listing; Azure: ``walk_blobs``; local: the directory). The backup catalog
    needs it: the binlog archive beside the backup folders holds a million keys after a busy month,
    which a plain ``list`` of the prefix would page through on every ``list`` and ``status``.
    All four backends implement it; callers check ``isinstance(storage, FolderListing)``."""

    def list_folders(self, prefix: str) -> Iterator[str]:
        """The names of the folders directly under ``prefix`` (which ends with ``/``): for each key
        ``prefix + name + "/" + rest``, ``name``, once. In no particular order. A missing bucket raises
        ``StorageConfigError`` like ``list``. Safe to retry."""
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


_C = TypeVar("_C")


class LazyClient(Generic[_C]):
    """An adapter's SDK client: the one the caller gave (tests, a warm Lambda's), else ``build()`` once, on
    first use, so that making an adapter neither imports its SDK (a cold start's cost) nor touches the
    network. ``build`` raises what the SDK raises; the adapter translates it."""

    def __init__(self, given: _C | None, build: Callable[[], _C]) -> None:
        self._client, self._build = given, build

    def get(self) -> _C:
        if self._client is None:
            self._client = self._build()
        return self._client
