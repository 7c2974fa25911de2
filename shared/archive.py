"""The seed's ``mariadb-ha-backup.tar.gz`` without spooling the raw dump.

A tar member's size precedes its data, and the size is known only when the dump ends. gzip members
concatenate (``tar``, ``gzip -t``, ``pigz`` and Python's ``tarfile`` all read a multi-member .tar.gz),
so the dump is compressed as it arrives into a spool of *compressed* data (its own gzip member), and
at the end the archive is emitted as gzip(tar header) + spool + gzip(tar padding and end blocks).
Temp disk is the compressed size (~1/4 of raw) and compression overlaps the dump.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, cast

from shared.compression import compress_bytes, open_compressor

_BLOCK = tarfile.BLOCKSIZE  # 512
_RECORD = tarfile.RECORDSIZE  # GNU tar pads archives to 20 blocks; we do too, for byte-for-byte habits


def tar_header(member: str, *, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(member)
    info.size = size
    info.mtime = mtime
    info.mode = 0o600
    # GNU format stores sizes over 8 GiB in base-256, which GNU tar and Python both read.
    return info.tobuf(format=tarfile.GNU_FORMAT, encoding="utf-8", errors="strict")


def tar_trailer(*, header_len: int, size: int) -> bytes:
    """Zero padding of the member to a block, two zero end blocks, then padding to a full record."""
    padding = -size % _BLOCK
    total = header_len + size + padding + 2 * _BLOCK
    return b"\0" * (padding + 2 * _BLOCK + (-total % _RECORD))


class CompressedSpool:
    """Compresses the dump as it arrives into a file; remembers the raw size."""

    def __init__(self, path: Path, *, codec: str = "gzip") -> None:
        self.path = path
        self.codec = codec
        self.raw_bytes = 0
        self._file = open(path, "wb")  # noqa: SIM115  # closed in finish()/close()
        self._writer = open_compressor(codec, self._file)

    def write(self, chunk: bytes) -> None:
        self._writer.write(chunk)
        self.raw_bytes += len(chunk)

    def finish(self) -> int:
        """Flush the compressed member; return its size on disk."""
        self._writer.close()
        self._file.close()
        return self.path.stat().st_size

    def close(self) -> None:
        if not self._file.closed:
            self._writer.close()
            self._file.close()

    def truncate(self) -> None:
        """Start over (a retried dump) on a fresh member."""
        self.close()
        self.raw_bytes = 0
        self._file = open(self.path, "wb")  # noqa: SIM115
        self._writer = open_compressor(self.codec, self._file)


def open_targz(spool_path: Path, *, member: str, raw_bytes: int, mtime: int) -> BinaryIO:
    """A one-shot readable stream of the complete .tar.gz built around a finished spool.

    Call again to read it again (a whole-upload retry): each call opens the spool afresh.
    """
    header = tar_header(member, size=raw_bytes, mtime=mtime)
    head = compress_bytes("gzip", header)
    tail = compress_bytes("gzip", tar_trailer(header_len=len(header), size=raw_bytes))
    parts: list[BinaryIO] = [io.BytesIO(head), open(spool_path, "rb"), io.BytesIO(tail)]  # noqa: SIM115
    return cast(BinaryIO, ChainedReader(parts))


class ChainedReader(io.RawIOBase):
    """Reads several streams one after another as one; closes each when exhausted."""

    def __init__(self, parts: Iterable[BinaryIO]) -> None:
        self._parts = list(parts)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        while self._parts:
            data = self._parts[0].read(len(view))
            if data:
                view[: len(data)] = data
                return len(data)
            self._parts.pop(0).close()
        return 0

    def close(self) -> None:
        for part in self._parts:
            part.close()
        self._parts = []
        super().close()
