"""Readable streams built from a ``read(n)``-style pull, and the byte chunk every streaming loop uses.

Each wrapper (hashing, bounding, chaining, rewinding, error translation, archive reading) only says
how to pull the next bytes; ``PullReader`` turns that into the ``io.RawIOBase`` protocol once, so
``io.BufferedReader``, ``tarfile`` and the SDKs can read from any of them.
"""

from __future__ import annotations

import io
from collections.abc import Callable

# 1 MiB: big enough to amortise syscalls and compressor/decompressor calls, small enough that memory
# stays flat whatever the database size. Every streaming loop (dump, upload, download, restore) uses it.
CHUNK_BYTES = 1 << 20

# Called with the number of dump bytes just processed (drives the progress line).
Progress = Callable[[int], None]


class PullReader(io.RawIOBase):
    """A raw readable stream whose subclasses only implement ``_pull(size) -> bytes`` (b"" at EOF)."""

    def _pull(self, size: int) -> bytes:
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]  # any writable buffer
        view = memoryview(buffer).cast("B")
        data = self._pull(len(view))
        view[: len(data)] = data
        return len(data)
