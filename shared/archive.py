"""The seed's ``mariadb-ha-backup.tar.gz`` without spooling the raw dump — as one gzip member.

A tar member's size precedes its data, and the size is known only when the dump ends. So the dump is
compressed as it arrives into a spool of *compressed* data, and the tar end (padding and end blocks)
is compressed into the same deflate stream when the dump ends. The archive is then emitted as

    gzip header + deflate(tar header, sync-flushed, not final) + the spool's deflate body
    + gzip trailer (CRC32 of the whole, combined from the two parts' CRCs; total size)

which is one ordinary gzip member: every reader, including ones that stop after the first member
(Python's ``tarfile`` in stream mode ``r|gz``), reads the whole archive. Temp disk is the compressed
size (~1/4 of raw), compression overlaps the dump, and no byte is compressed twice.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, cast

from isal import isal_zlib

from shared.compression import GZIP_LEVEL, open_compressor
from shared.readers import PullReader

_BLOCK = tarfile.BLOCKSIZE  # 512
_RECORD = tarfile.RECORDSIZE  # GNU tar pads archives to 20 blocks; we do too, for byte-for-byte habits
_GZIP_TRAILER = 8  # CRC32 and ISIZE, little-endian
# RFC 1952 header: magic, deflate, no flags, mtime 0 (reproducible), no extra flags, OS "unknown".
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_FEXTRA, _FNAME, _FCOMMENT, _FHCRC = 4, 8, 16, 2


class SpoolFormatError(Exception):
    """The spool is not the single gzip member this module wrote (a bug, not a user error)."""


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
    """Compresses the dump as it arrives into a file (one gzip member); remembers the raw size."""

    def __init__(self, path: Path, *, member: str) -> None:
        self.path = path
        self.member = member
        self.raw_bytes = 0
        self.content_bytes = 0
        self._file = open(path, "wb")  # noqa: SIM115  # closed in finish()/close()
        self._writer = open_compressor("gzip", self._file)

    def write(self, chunk: bytes) -> None:
        self._writer.write(chunk)
        self.raw_bytes += len(chunk)

    def finish(self, *, mtime: int) -> bytes:
        """End the tar member inside the spool's stream; return the tar header that must precede it.

        Afterwards ``content_bytes`` is the uncompressed size of the spool (dump + tar end).
        """
        header = tar_header(self.member, size=self.raw_bytes, mtime=mtime)
        end = tar_trailer(header_len=len(header), size=self.raw_bytes)
        self._writer.write(end)
        self.content_bytes = self.raw_bytes + len(end)
        self.close()
        return header

    def close(self) -> None:
        if not self._file.closed:
            self._writer.close()
            self._file.close()

    def truncate(self) -> None:
        """Start over (a retried dump) on a fresh member."""
        self.close()
        self.raw_bytes = 0
        self._file = open(self.path, "wb")  # noqa: SIM115
        self._writer = open_compressor("gzip", self._file)


def open_targz(spool_path: Path, *, header: bytes, content_bytes: int) -> BinaryIO:
    """A one-shot readable stream of the complete .tar.gz built around a finished spool.

    Call again to read it again (a whole-upload retry): each call opens the spool afresh and yields
    the same bytes.
    """
    spool = open(spool_path, "rb")  # noqa: SIM115  # handed to the ChainedReader, which closes it
    try:
        body_start, body_end, spool_crc = _locate_body(spool)
    except BaseException:
        spool.close()
        raise
    deflater = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    # A sync flush ends on a byte boundary without a final block, so the spool's blocks can follow.
    head_deflate = deflater.compress(header) + deflater.flush(zlib.Z_SYNC_FLUSH)
    crc = isal_zlib.crc32_combine(zlib.crc32(header), spool_crc, content_bytes)
    trailer = struct.pack("<II", crc, (len(header) + content_bytes) & 0xFFFFFFFF)
    spool.seek(body_start)
    body = cast(BinaryIO, _Bounded(spool, body_end - body_start))
    parts: list[BinaryIO] = [io.BytesIO(_GZIP_HEADER + head_deflate), body, io.BytesIO(trailer)]
    return cast(BinaryIO, ChainedReader(parts))


def _locate_body(spool: BinaryIO) -> tuple[int, int, int]:
    """(deflate body start, end, CRC32 of its content) of the spool's single gzip member.

    The content length for the CRC combination comes from the caller's byte count, not from ISIZE,
    which is only the length modulo 2**32.
    """
    head = spool.read(512)
    if len(head) < 18 or head[:3] != b"\x1f\x8b\x08":
        raise SpoolFormatError("spool is not a gzip member")
    flags, pos = head[3], 10
    if flags & _FEXTRA:
        pos += 2 + int.from_bytes(head[pos : pos + 2], "little")
    for flag in (_FNAME, _FCOMMENT):
        if flags & flag:
            pos = head.index(b"\0", pos) + 1
    if flags & _FHCRC:
        pos += 2
    end = spool.seek(0, io.SEEK_END) - _GZIP_TRAILER
    spool.seek(end)
    crc, _isize = struct.unpack("<II", spool.read(_GZIP_TRAILER))
    return pos, end, crc


class _Bounded(PullReader):
    """The next ``length`` bytes of a file, then EOF."""

    def __init__(self, inner: BinaryIO, length: int) -> None:
        self._inner = inner
        self._left = length

    def _pull(self, size: int) -> bytes:
        data = self._inner.read(min(size, self._left))
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._inner.close()
        super().close()


class ChainedReader(PullReader):
    """Reads several streams one after another as one; closes each when exhausted."""

    def __init__(self, parts: Iterable[BinaryIO]) -> None:
        self._parts = list(parts)

    def _pull(self, size: int) -> bytes:
        while self._parts:
            data = self._parts[0].read(size)
            if data:
                return data
            self._parts.pop(0).close()
        return b""

    def close(self) -> None:
        for part in self._parts:
            part.close()
        self._parts = []
        super().close()
