"""Retries around any storage backend, from the outside (restic's ``retry/`` idea).

Only ``TransientStorageError`` is retried (5xx, throttling, resets, timeouts), with exponential
backoff and jitter bounded by attempts and total time; a missing bucket, refused credentials or a
missing key fail at once. ``put`` is not retried as a whole here because its stream is one-shot;
``put_replayable`` retries a whole upload when the caller can produce the stream again. SDK-level
retries of individual parts/blocks still happen inside each adapter.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from typing import BinaryIO, TypeVar

from shared.retry import retrying
from shared.storage.base import HeadLastStorage, ObjectInfo, Storage, StorageError, TransientStorageError

log = logging.getLogger("mariadb_ha_backup.storage")
_T = TypeVar("_T")


class RetryingStorage:
    def __init__(self, inner: Storage, *, attempts: int, max_seconds: float) -> None:
        self.inner = inner
        self.url = inner.url
        self.attempts = attempts
        self.max_seconds = max_seconds

    def put(self, key: str, stream: BinaryIO, *, if_absent: bool = False) -> int:
        if not if_absent:
            return self.inner.put(key, stream)
        # Create-only objects are small (a claim marker): read once, then retried whole like the other
        # calls. A lost response followed by a retry shows up as ObjectExistsError; the caller tells
        # its own object from another's by its content.
        data = stream.read()
        return self._call(f"creating {key}", lambda: self.inner.put(key, io.BytesIO(data), if_absent=True))

    def put_head_last(self, key: str, body: BinaryIO, *, head_size: int, head: Callable[[], bytes]) -> int:
        # The body is one-shot (a running dump), so the upload is not retried whole: the adapters retry
        # each part/block/request themselves, and a failed dump is retried from the start by the caller.
        if not isinstance(self.inner, HeadLastStorage):
            raise StorageError(f"{self.url} cannot place an object's head after its body")
        return self.inner.put_head_last(key, body, head_size=head_size, head=head)

    def open_read(self, key: str) -> BinaryIO:
        return self._call(f"reading {key}", lambda: self.inner.open_read(key))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        # Materialised inside the retry so a fault half-way through a paginated listing is retried too.
        return iter(self._call(f"listing {prefix}", lambda: list(self.inner.list(prefix))))

    def delete(self, key: str) -> None:
        self._call(f"deleting {key}", lambda: self.inner.delete(key))

    def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        for attempt in retrying(
            retry_on=(TransientStorageError,),
            attempts=self.attempts,
            max_seconds=self.max_seconds,
            what=what,
            logger=log,
        ):
            with attempt:
                return fn()
        raise AssertionError("unreachable: tenacity re-raises the last error")


def put_replayable(
    storage: Storage, key: str, make_stream: Callable[[], BinaryIO], *, attempts: int, max_seconds: float
) -> int:
    """``put`` with whole-upload retries: ``make_stream`` must return the same bytes from the start each call."""
    inner = storage.inner if isinstance(storage, RetryingStorage) else storage
    for attempt in retrying(
        retry_on=(TransientStorageError,),
        attempts=attempts,
        max_seconds=max_seconds,
        what=f"uploading {key}",
        logger=log,
    ):
        with attempt:
            stream = make_stream()
            try:
                return inner.put(key, stream)
            finally:
                stream.close()
    raise AssertionError("unreachable: tenacity re-raises the last error")


def read_replayable(
    storage: Storage, key: str, consume: Callable[[BinaryIO], _T], *, attempts: int, max_seconds: float
) -> _T:
    """``consume(open_read(key))`` with whole-read retries: a reset half-way through starts the read over."""
    inner = storage.inner if isinstance(storage, RetryingStorage) else storage
    for attempt in retrying(
        retry_on=(TransientStorageError,),
        attempts=attempts,
        max_seconds=max_seconds,
        what=f"reading {key}",
        logger=log,
    ):
        with attempt, inner.open_read(key) as stream:
            return consume(stream)
    raise AssertionError("unreachable: tenacity re-raises the last error")
