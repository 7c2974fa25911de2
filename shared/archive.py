"""The seed's ``mariadb-ha-backup.tar.gz``, streamed with nothing spooled — as one gzip member.

A tar member's size precedes its data, and the size is known only when the dump ends. So the archive
is laid out as a fixed-size *head* that holds the size, followed by a *body* that does not:

    head (HEAD_SIZE = 527 bytes): gzip header (10) + one non-final *stored* deflate block (5 + 512)
                                  whose payload is the tar header
    body: the dump and the tar end (padding, end blocks, record padding) compressed by ISA-L into a
          deflate stream that starts on the byte boundary after the stored block, then the gzip
          trailer (CRC32 of the whole content, combined from the tar header's and the body's; ISIZE)

which is one ordinary gzip member: every reader, including ones that stop after the first member
(Python's ``tarfile`` in stream mode ``r|gz``), reads the whole archive. The body is uploaded while
the dump runs; the storage puts the head in front of it at the end (``HeadLastStorage``: S3 part 1
sent last, an Azure block committed first, a GCS compose, bytes rewritten in a local file). A stored
block is what makes the head's size independent of the dump's size: deflate would not be.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zlib
from collections.abc import Callable
from typing import BinaryIO

from isal import isal_zlib

_BLOCK = tarfile.BLOCKSIZE  # 512
_RECORD = tarfile.RECORDSIZE  # GNU tar pads archives to 20 blocks; we do too, for byte-for-byte habits
_GZIP_TRAILER = 8  # CRC32 and ISIZE, little-endian
# RFC 1952 header: magic, deflate, no flags, mtime 0 (reproducible), no extra flags, OS "unknown".
# ISA-L's threaded writer starts its member with exactly these 10 bytes too (it sets no flags).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_GZIP_HEADER_SIZE = len(_GZIP_HEADER)
# RFC 1951 stored block: BFINAL=0, BTYPE=00 (padded to a byte), LEN and its one's complement NLEN.
_STORED_BLOCK = b"\x00" + struct.pack("<HH", _BLOCK, 0xFFFF ^ _BLOCK)
HEAD_SIZE = _GZIP_HEADER_SIZE + len(_STORED_BLOCK) + _BLOCK


class ArchiveFormatError(Exception):
    """The compressor's output is not the single gzip member this module expects (a bug, not a user error)."""


def tar_header(member: str, *, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(member)
    info.size = size
    info.mtime = mtime
    info.mode = 0o600
    # GNU format stores sizes over 8 GiB in base-256, which GNU tar and Python both read.
    return info.tobuf(format=tarfile.GNU_FORMAT, encoding="utf-8", errors="strict")


def tar_end(size: int) -> bytes:
    """What follows a ``size``-byte member: zero padding to a block, two zero end blocks, then padding of
    the whole archive (one header block + member + these) to a full record."""
    padding = -size % _BLOCK
    total = _BLOCK + size + padding + 2 * _BLOCK
    return b"\0" * (padding + 2 * _BLOCK + (-total % _RECORD))


def targz_head(member: str, *, size: int, mtime: int) -> bytes:
    """The archive's first HEAD_SIZE bytes for a member of ``size`` bytes."""
    header = tar_header(member, size=size, mtime=mtime)
    if len(header) != _BLOCK:  # a member name over 100 bytes would need a GNU long-name block
        raise ArchiveFormatError(f"tar member name {member!r} needs more than one header block")
    return _GZIP_HEADER + _STORED_BLOCK + header


class TarGzBody(io.RawIOBase):
    """The archive's body, read from the single gzip member the compressor writes (dump + ``tar_end``).

    The compressor's gzip header is dropped and its trailer replaced by the archive's; ``head()``,
    valid once this stream is at EOF, is what must precede it. ``raw_size()`` gives the dump's size
    once the compressor's output has ended.
    """

    def __init__(self, member_stream: BinaryIO, *, member: str, mtime: int, raw_size: Callable[[], int]) -> None:
        self._source = member_stream
        self._member = member
        self._mtime = mtime
        self._raw_size = raw_size
        self._member_header = b""
        self._held = b""  # the last bytes read: the compressor's trailer once the stream ends
        self.count = 0  # body bytes handed out
        self._ready = b""  # body bytes read but not yet handed out
        self._trailer: bytes | None = None
        self._head: bytes | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self._next_body_bytes(len(view))
        view[: len(data)] = data
        return len(data)

    def head(self) -> bytes:
        if self._head is None:
            raise ArchiveFormatError("the archive head is known only once the body has been read to the end")
        return self._head

    def _next_body_bytes(self, size: int) -> bytes:
        while not self._ready and self._trailer is None:
            data = self._source.read(max(size, _GZIP_TRAILER + _GZIP_HEADER_SIZE))
            if not data:
                self._end_member()
                break
            data = self._skip_member_header(self._held + data)
            self._ready, self._held = data[:-_GZIP_TRAILER], data[-_GZIP_TRAILER:]
        if not self._ready:
            self._ready, self._trailer = self._trailer or b"", b""
        out, self._ready = self._ready[:size], self._ready[size:]
        self.count += len(out)
        return out

    def _skip_member_header(self, data: bytes) -> bytes:
        """Drop the member's 10-byte header (arriving in any split); it must set no optional fields."""
        if len(self._member_header) == _GZIP_HEADER_SIZE:
            return data
        taken = _GZIP_HEADER_SIZE - len(self._member_header)
        self._member_header += data[:taken]
        if len(self._member_header) == _GZIP_HEADER_SIZE and self._member_header[:4] != _GZIP_HEADER[:4]:
            raise ArchiveFormatError("the compressor did not write a plain gzip header")
        return data[taken:]

    def _end_member(self) -> None:
        if len(self._member_header) != _GZIP_HEADER_SIZE or len(self._held) != _GZIP_TRAILER:
            raise ArchiveFormatError("the compressor's gzip member ended early")
        body_crc, _isize = struct.unpack("<II", self._held)
        raw = self._raw_size()
        content = raw + len(tar_end(raw))
        self._head = targz_head(self._member, size=raw, mtime=self._mtime)
        header_crc = zlib.crc32(self._head[-_BLOCK:])
        crc = isal_zlib.crc32_combine(header_crc, body_crc, content)
        self._trailer = struct.pack("<II", crc, (_BLOCK + content) & 0xFFFFFFFF)
