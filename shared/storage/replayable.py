"""A stream that can start over (restic's ``RewindReader`` idea), so a failed upload is retried whole.

``RetryingStorage.put`` retries an upload only when its stream is ``Rewindable``: before each new
attempt it calls ``rewind()``, which must make the stream yield the same bytes from the start. A
one-shot stream (a pipe from a running dump) is not rewindable and is never retried half-consumed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar, runtime_checkable

from shared.readers import PullReader

_S = TypeVar("_S", bound=io.RawIOBase | io.BufferedIOBase)


@runtime_checkable
class Rewindable(Protocol):
    def rewind(self) -> None:
        """Start over: the next read returns the first byte again."""


class ReopeningReader(PullReader, Generic[_S]):
    """Reads from ``open_stream()``; ``rewind()`` closes that stream and reads from a fresh one.

    ``current`` is the stream of the latest attempt (e.g. a ``HashingReader`` whose digest the caller
    wants once the upload has succeeded).
    """

    def __init__(self, open_stream: Callable[[], _S]) -> None:
        self._open_stream = open_stream
        self.current: _S = open_stream()

    def rewind(self) -> None:
        self.current.close()
        self.current = self._open_stream()

    def _pull(self, size: int) -> bytes:
        return self.current.read(size)

    def close(self) -> None:
        if not self.closed:
            self.current.close()
        super().close()


def replayable_bytes(data: bytes) -> ReopeningReader[io.BytesIO]:
    return ReopeningReader(lambda: io.BytesIO(data))
