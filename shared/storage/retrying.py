"""Retries around any storage backend, from the outside (restic's ``retry/`` idea).

Only ``TransientStorageError`` is retried (5xx, throttling, resets, timeouts), per the run's
``RetryPolicy``; a missing bucket, refused credentials or a missing key fail at once. An upload is
retried whole when its stream is ``Rewindable`` (shared/storage/replayable.py): a spool or a byte
string can start over, a pipe from a running dump cannot and is sent once. Create-only puts are
small (a claim marker) and are read into memory so they can be replayed. SDK-level retries of
individual parts/blocks still happen inside each adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import BinaryIO, TypeVar, cast

from shared.retry import RetryPolicy, call_with_retries
from shared.storage.base import (
    FolderListing,
    HeadLastStorage,
    LockingStorage,
    ObjectInfo,
    ObjectLockUnsupportedError,
    ResumableReads,
    Retried,
    Storage,
    StorageError,
    TransientStorageError,
    no_retries,
)
from shared.storage.replayable import Rewindable, replayable_bytes
from shared.storage.resuming import resuming_read

log = logging.getLogger("mariadb_ha_backup.storage")
_T = TypeVar("_T")


class RetryingStorage:
    def __init__(self, inner: Storage, *, policy: RetryPolicy) -> None:
        self.inner = inner
        self.url = inner.url
        self.policy = policy

    def put(self, key: str, stream: BinaryIO, *, if_absent: bool = False) -> int:
        # A lost response to a create-only put followed by a retry shows up as ObjectExistsError;
        # the caller tells its own object from another's by its content.
        source: BinaryIO | Rewindable = replayable_bytes(stream.read()) if if_absent else stream
        if not isinstance(source, Rewindable):
            return self.inner.put(key, stream)
        attempts = 0

        def attempt() -> int:
            nonlocal attempts
            if attempts:
                source.rewind()
            attempts += 1
            stream = cast(BinaryIO, source)
            return self.inner.put(key, stream, if_absent=True) if if_absent else self.inner.put(key, stream)

        return self._call(f"{'creating' if if_absent else 'uploading'} {key}", attempt)

    def put_head_last(self, key: str, body: BinaryIO, *, head_size: int, head: Callable[[], bytes],
                      retried: Retried = no_retries) -> int:
        # The body is one-shot (a running dump), so the upload is not retried whole (a failed dump is
        # retried from the start by the caller); each part/block/commit, held in memory, is retried here.
        if not isinstance(self.inner, HeadLastStorage):
            raise StorageError(f"{self.url} cannot place an object's head after its body")
        return self.inner.put_head_last(key, body, head_size=head_size, head=head, retried=self._call)

    def open_read(self, key: str) -> BinaryIO:
        """Opening is retried; reading resumes at the byte where it broke, on the same object version
        (shared/storage/resuming.py), on every backend that can (all four)."""
        if not isinstance(self.inner, ResumableReads):
            return self._call(f"reading {key}", lambda: self.inner.open_read(key))
        resumable = self.inner
        first = self._call(f"reading {key}", lambda: resumable.open_read_from(key, offset=0, version=None))
        return resuming_read(resumable, key, first, policy=self.policy)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        # Materialised inside the retry so a fault half-way through a paginated listing is retried too.
        return iter(self._call(f"listing {prefix}", lambda: list(self.inner.list(prefix))))

    def list_folders(self, prefix: str) -> Iterator[str]:
        inner = self.inner
        if isinstance(inner, FolderListing):
            return iter(self._call(f"listing folders of {prefix}", lambda: list(inner.list_folders(prefix))))
        # A backend without folder listings (none of ours): the same answer from a whole listing.
        names = {info.key[len(prefix):].partition("/") for info in self.list(prefix)}
        return iter({name for name, sep, _rest in names if sep})

    def delete(self, key: str) -> None:
        self._call(f"deleting {key}", lambda: self.inner.delete(key))

    # Object lock (``LockingStorage``), retried like the other calls. A backend without it (local
    # directories) fails the check with one clear line.

    def check_object_lock(self) -> None:
        if not isinstance(self.inner, LockingStorage):
            raise ObjectLockUnsupportedError(f"{self.url}: this storage cannot lock objects; unset BACKUP_LOCK_DAYS")
        locking = self.inner
        self._call("checking object lock", locking.check_object_lock)

    def set_retention(self, key: str, *, until: datetime, mode: str) -> None:
        locking = self._locking()
        self._call(f"setting retention on {key}", lambda: locking.set_retention(key, until=until, mode=mode))

    def retained_until(self, key: str) -> datetime | None:
        locking = self._locking()
        return self._call(f"reading retention of {key}", lambda: locking.retained_until(key))

    def _locking(self) -> LockingStorage:
        if not isinstance(self.inner, LockingStorage):
            raise ObjectLockUnsupportedError(f"{self.url}: this storage cannot lock objects")
        return self.inner

    def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        return call_with_retries(fn, policy=self.policy, retry_on=(TransientStorageError,), what=what, logger=log)


def read_replayable(storage: Storage, key: str, consume: Callable[[BinaryIO], _T]) -> _T:
    """``consume(open_read(key))``; through a ``RetryingStorage`` a transient fault anywhere in the read
    (not only in opening it) starts the whole read over, per the wrapper's policy."""
    inner = storage.inner if isinstance(storage, RetryingStorage) else storage

    def attempt() -> _T:
        with inner.open_read(key) as stream:
            return consume(stream)

    if not isinstance(storage, RetryingStorage):
        return attempt()
    return call_with_retries(attempt, policy=storage.policy, retry_on=(TransientStorageError,),
                             what=f"reading {key}", logger=log)
