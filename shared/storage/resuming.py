"""A download that survives the network: a read broken at byte N goes on from byte N, same version.

Restores run during incidents, over networks that drop connections, and take hours at size; a reset
(or a stalled peer, cut off by the adapter's read timeout) must not throw the work away. When reading
raises ``TransientStorageError``, or the stream ends before the object's size, the reader waits (the
retry policy's backoff) and re-opens the object at the offset it reached, pinned to the version it
started on (``ResumableReads.open_read_from``): an object replaced meanwhile raises
``ObjectChangedError`` instead of splicing two versions. The policy's ``attempts`` bounds the
consecutive failures without a byte of progress (and ``max_seconds`` their duration); any progress
starts the count again, so a multi-hour read can ride out several unrelated resets, while a dead
endpoint fails within the policy's budget.
"""

from __future__ import annotations

import contextlib
import io
import logging
import random
import time
from typing import BinaryIO, cast

from shared.readers import PullReader
from shared.retry import RetryPolicy
from shared.storage.base import OpenedRead, ResumableReads, TransientStorageError

log = logging.getLogger("mariadb_ha_backup.storage")

# Backoff between re-opens: full jitter up to 0.5 s, doubling per consecutive failure, at most 30 s
# (the same shape as shared.retry, whose tenacity loop cannot wrap a read that is already under way).
_FIRST_BACKOFF_S = 0.5
_MAX_BACKOFF_S = 30.0


class ResumingReader(PullReader):
    def __init__(self, storage: ResumableReads, key: str, first: OpenedRead, *, policy: RetryPolicy) -> None:
        self._storage, self._key, self._policy = storage, key, policy
        self._opened = first
        self._offset = 0
        self._failures = 0
        self._streak_started = 0.0  # when the current run of failures without progress began

    def _pull(self, size: int) -> bytes:
        while True:
            if self._offset >= self._opened.size:
                return b""
            try:
                data = self._opened.stream.read(size)
                if not data:
                    raise TransientStorageError(f"reading {self._key}: the stream ended at byte {self._offset} "
                                                f"of {self._opened.size}")
            except TransientStorageError as exc:
                self._resume_after(exc)
                continue
            self._offset += len(data)
            self._failures = 0
            return data

    def _resume_after(self, exc: TransientStorageError) -> None:
        """Re-open at the current offset, retrying the re-open itself; raise once the budget is spent."""
        while True:
            self._failures += 1
            if self._failures == 1:
                self._streak_started = time.monotonic()
            spent = time.monotonic() - self._streak_started
            if self._failures >= self._policy.attempts or spent > self._policy.max_seconds:
                raise exc
            log.warning("reading %s failed at byte %d (attempt %d of %d), resuming: %s", self._key, self._offset,
                        self._failures, self._policy.attempts, exc,
                        extra={"event": "retry", "attempt": self._failures, "what": f"reading {self._key}"})
            time.sleep(random.uniform(0, min(_MAX_BACKOFF_S, _FIRST_BACKOFF_S * 2 ** (self._failures - 1))))  # noqa: S311  # jitter, not crypto
            self._close_stream()
            try:
                self._opened = self._storage.open_read_from(self._key, offset=self._offset,
                                                            version=self._opened.version)
                return
            except TransientStorageError as again:
                exc = again

    def _close_stream(self) -> None:
        # A broken connection may fail to close; it is dropped either way.
        with contextlib.suppress(Exception):
            self._opened.stream.close()

    def close(self) -> None:
        if not self.closed:
            self._close_stream()
        super().close()


def resuming_read(storage: ResumableReads, key: str, first: OpenedRead, *, policy: RetryPolicy) -> BinaryIO:
    return cast(BinaryIO, io.BufferedReader(ResumingReader(storage, key, first, policy=policy)))
