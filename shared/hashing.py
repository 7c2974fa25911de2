"""A read-through stream that hashes and counts what passes, so the SHA1 costs no extra pass."""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO


class HashingReader(io.RawIOBase):
    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._sha1 = hashlib.sha1()  # noqa: S324  # integrity check in sha1sum format (the seed's contract), not security
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        if not data:
            return 0
        n = len(data)
        view[:n] = data
        self._sha1.update(data)
        self.count += n
        return n

    def hexdigest(self) -> str:
        return self._sha1.hexdigest()

    def close(self) -> None:
        self._inner.close()
        super().close()
