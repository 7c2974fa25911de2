"""Stream wrappers every storage adapter needs (adapters must not import each other)."""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, BinaryIO, cast

from shared.readers import PullReader


class TranslatingReader(PullReader):
    """A download body whose mid-stream SDK errors (reset, timeout) become storage errors.

    ``guard()`` returns the adapter's context manager that re-raises SDK exceptions as
    ``StorageError`` subclasses, so callers never see an SDK type while reading.
    """

    def __init__(self, body: Any, *, guard: Callable[[], AbstractContextManager[None]]) -> None:
        self._body = body
        self._guard = guard

    def _pull(self, size: int) -> bytes:
        with self._guard():
            data: bytes = self._body.read(size)
        return data

    def close(self) -> None:
        if not self.closed and hasattr(self._body, "close"):
            self._body.close()  # returns the connection to the pool
        super().close()


def buffered_download(body: Any, *, guard: Callable[[], AbstractContextManager[None]]) -> BinaryIO:
    return cast(BinaryIO, io.BufferedReader(TranslatingReader(body, guard=guard)))
