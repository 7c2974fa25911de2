"""Upload a one-shot stream as numbered pieces with bounded concurrency (S3 parts, Azure blocks).

Both services accept pieces in any order and assemble them by number at commit time, which is what
lets the streamed ``tar.gz`` send its body while the dump runs and its head last. SDK-free: each
adapter passes its own ``send(number, data)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO, Generic, TypeVar

_R = TypeVar("_R")


class BodyPieces(Generic[_R]):
    """``body`` cut into ``piece_size`` pieces numbered ``first_number``, ``first_number + 1``, ...

    The first ``held_bytes`` are not sent but kept (``held``) for the caller to send with the head
    (S3 needs every part but the last to be >= 5 MiB, so the head cannot travel alone). At most
    ``threads`` pieces are in flight and one more is being read, so memory stays at about
    ``(threads + 1) x piece_size + held_bytes`` (like s3transfer's buffered parts for ``put``).
    """

    def __init__(self, *, piece_size: int, held_bytes: int, threads: int, first_number: int) -> None:
        self.piece_size = piece_size
        self.held_bytes = held_bytes
        self.threads = threads
        self.first_number = first_number
        self.held = b""
        self.body_bytes = 0

    def send_all(self, body: BinaryIO, send: Callable[[int, bytes], _R]) -> list[_R]:
        """Read ``body`` to EOF, send every piece after the held bytes; results in piece order."""
        self.held = read_exactly(body, self.held_bytes)
        self.body_bytes = len(self.held)
        slots = threading.BoundedSemaphore(self.threads)
        failed: list[Future[_R]] = []

        def done(future: Future[_R]) -> None:
            if not future.cancelled() and future.exception() is not None:
                failed.append(future)
            slots.release()

        futures: list[Future[_R]] = []
        with ThreadPoolExecutor(self.threads, thread_name_prefix="upload-piece") as pool:
            try:
                while data := read_exactly(body, self.piece_size):
                    self.body_bytes += len(data)
                    slots.acquire()
                    if failed:  # stop reading the dump as soon as a piece could not be sent
                        failed[0].result()
                    futures.append(pool.submit(send, self.first_number + len(futures), data))
                    futures[-1].add_done_callback(done)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            return [future.result() for future in futures]


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    """``size`` bytes, fewer only at end of stream (a pipe returns short reads)."""
    parts: list[bytes] = []
    remaining = size
    while remaining and (chunk := stream.read(remaining)):
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


class HeadSizeError(ValueError):
    """``head()`` returned a different number of bytes than announced (a bug in the caller)."""


def head_of_size(head: Callable[[], bytes], size: int) -> bytes:
    data = head()
    if len(data) != size:
        raise HeadSizeError(f"the head has {len(data)} bytes, {size} were announced")
    return data
