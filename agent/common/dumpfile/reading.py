"""A byte buffer over a stream that hands out whole lines, or everything through a separator.

The parser asks for "the next line" (to decide what a statement is) and then for "everything through
the next ``;\\n``" (the rest of the statement): the second is one ``bytes.find`` in C over the buffer,
so a 1 MB extended INSERT costs one search, not a Python step per row or per byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

# Read the source in pieces of this size: large enough that the per-read cost (a decompressor call, a
# pipe read) vanishes against the search, small enough to keep memory flat.
READ_BYTES = 1 << 20


class ChunkReader:
    """Lines and separator-terminated pieces from a binary stream or an iterable of ``bytes`` chunks.

    Memory: the buffer holds at most the piece being returned plus one read.
    """

    def __init__(self, source: BinaryIO | Iterable[bytes], *, read_bytes: int = READ_BYTES) -> None:
        self._chunks = _chunks_of(source, read_bytes)
        self._buffer = bytearray()
        self._start = 0
        self._eof = False

    def peek_line(self) -> bytes:
        """The next line (with its ``\\n``, or the rest at EOF) without consuming it; ``b""`` at EOF."""
        end = self._find(b"\n")
        return bytes(self._buffer[self._start : end])

    def take(self, length: int) -> bytes:
        """Consume ``length`` bytes (after a ``peek_line`` they are in the buffer)."""
        piece = bytes(self._buffer[self._start : self._start + length])
        self._start += len(piece)
        return piece

    def through(self, separator: bytes) -> bytes:
        """Consume and return everything up to and including the next ``separator`` (or the rest at EOF)."""
        end = self._find(separator)
        return self.take(end - self._start)

    def _find(self, separator: bytes) -> int:
        """Index just past the next ``separator``, reading more as needed; the buffer end at EOF."""
        searched = 0  # relative to self._start: _fill may move the buffer's contents
        while True:
            found = self._buffer.find(separator, self._start + searched)
            if found >= 0:
                return found + len(separator)
            # The separator may straddle the old end of the buffer: search again from just before it.
            searched = max(0, len(self._buffer) - self._start - len(separator) + 1)
            if not self._fill():
                return len(self._buffer)

    def _fill(self) -> bool:
        if self._eof:
            return False
        if self._start > len(self._buffer) // 2:
            del self._buffer[: self._start]
            self._start = 0
        chunk = next(self._chunks, b"")
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True


def _chunks_of(source: BinaryIO | Iterable[bytes], read_bytes: int) -> Iterator[bytes]:
    if isinstance(source, Iterable) and not hasattr(source, "read"):
        yield from (chunk for chunk in source if chunk)
        return
    while chunk := source.read(read_bytes):  # a stream (a BinaryIO is also iterable, by lines)
        yield chunk
