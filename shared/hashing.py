"""A read-through stream that hashes and counts what passes, so the SHA1 costs no extra pass."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

from shared.readers import PullReader


class HashingReader(PullReader):
    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._sha1 = hashlib.sha1()  # noqa: S324  # integrity check in sha1sum format (the seed's contract), not security
        self.count = 0

    def _pull(self, size: int) -> bytes:
        data = self._inner.read(size)
        self._sha1.update(data)
        self.count += len(data)
        return data

    def hexdigest(self) -> str:
        return self._sha1.hexdigest()

    def close(self) -> None:
        self._inner.close()
        super().close()
