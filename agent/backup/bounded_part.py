"""One parallel dump session's output, held in a bounded buffer in memory: no temp disk, no growth.

A session (``mariadb-dump``) writes into a pipe; a thread moves what it wrote into a queue of at most
``limit`` bytes, which the stitcher drains in the order it needs. When the queue is full the thread
stops reading, the pipe fills, and the session blocks on its write: backpressure, so a session that is
ahead of the stitcher waits instead of being spooled to disk (the seed's single dump streams with no
temp disk at all; a parallel dump now keeps that bound, and its memory is ``limit`` per session).

A session that waits stops reading from the server, and the server drops a client it could not write to
for ``net_write_timeout`` seconds (60 by default). The longest wait is kept (``longest_hold``) so that
such a failure is told apart from a lost server (``agent.backup.parallel_dump``).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import IO

from shared.readers import CHUNK_BYTES

# Bytes of the start kept apart: the binlog position comment every session writes before its data.
HEAD_BYTES = 64 << 10


class BoundedPart:
    """``BoundedPart(stdout, limit=...)``: ``chunks()`` yields the output in order; ``close()`` stops the reader."""

    def __init__(self, stdout: IO[bytes], *, limit: int, name: str) -> None:
        self._fd = stdout.fileno()
        self._stdout = stdout
        self._limit = limit
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._peak = 0
        self._cond = threading.Condition()
        self._eof = False
        self._closed = False
        self._head = bytearray()
        self.started = threading.Event()  # set on the first byte (the session's snapshot is open) or at EOF
        self.longest_hold = 0.0
        self._thread = threading.Thread(target=self._pump, name=f"part {name}", daemon=True)
        self._thread.start()

    @property
    def head(self) -> bytes:
        return bytes(self._head)

    @property
    def peak_bytes(self) -> int:
        """The most this part ever held in memory (at most ``limit`` plus one read)."""
        return self._peak

    def _pump(self) -> None:
        try:
            while chunk := os.read(self._fd, CHUNK_BYTES):
                if len(self._head) < HEAD_BYTES:
                    self._head += chunk[: HEAD_BYTES - len(self._head)]
                self.started.set()
                with self._cond:
                    if self._queued >= self._limit:
                        since = time.monotonic()
                        while self._queued >= self._limit and not self._closed:
                            self._cond.wait()
                        self.longest_hold = max(self.longest_hold, time.monotonic() - since)
                    if self._closed:
                        return
                    self._queue.append(chunk)
                    self._queued += len(chunk)
                    self._peak = max(self._peak, self._queued)
                    self._cond.notify_all()
        except OSError:
            pass  # the pipe was closed under us (close()): the session is being stopped
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()
            self.started.set()

    def chunks(self) -> Iterator[bytes]:
        """The output, in order, until the session closed its end of the pipe."""
        while True:
            with self._cond:
                while not self._queue and not self._eof:
                    self._cond.wait()
                if not self._queue:
                    return
                chunk = self._queue.popleft()
                self._queued -= len(chunk)
                self._cond.notify_all()
            yield chunk

    def close(self) -> None:
        """Stop reading and drop what is held (the session is stopped first, so the pipe ends)."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._queued = 0
            self._cond.notify_all()
        self._thread.join(timeout=30)
        self._stdout.close()
