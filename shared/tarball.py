"""The seed's ``mariadb-ha-backup.tar.gz`` as one gzip member: streamed head-last, or around a spool.

**Head-last (the default, nothing spooled).** A tar member's size precedes its data, and the size is
known only when the dump ends. So the archive is laid out as a fixed-size *head* that holds the size,
followed by a *body* that does not:

    head (HEAD_SIZE = 527 bytes): gzip header (10) + one non-final *stored* deflate block (5 + 512)
                                  whose payload is the tar header
    body: the dump and the tar end (padding, end blocks, record padding) compressed by ISA-L into a
          deflate stream that starts on the byte boundary after the stored block, then the gzip
          trailer (CRC32 of the whole content, combined from the tar header's and the body's; ISIZE)

The body is uploaded while the dump runs (``TarGzBody``); the storage puts the head in front of it at
the end (``HeadLastStorage``). A stored block is what makes the head's size independent of the dump's.

**Around a spool (only under a layer such as age encryption, which must see the bytes front to back).**
The dump is compressed as it arrives into a spool of *compressed* data, the tar end into the same
deflate stream, and the archive is emitted as

    gzip header + deflate(tar header, sync-flushed, not final) + the spool's deflate body
    + gzip trailer (CRC32 of the whole, combined from the two parts' CRCs; total size)

Either way it is one ordinary gzip member: every reader, including ones that stop after the first
member (Python's ``tarfile`` in stream mode ``r|gz``), reads the whole archive.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zlib
from collections.abc import Callable, Iterable
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
_GZIP_HEADER_SIZE = len(_GZIP_HEADER)
# RFC 1951 stored block: BFINAL=0, BTYPE=00 (padded to a byte), LEN and its one's complement NLEN.
_STORED_BLOCK = b"\x00" + struct.pack("<HH", _BLOCK, 0xFFFF ^ _BLOCK)
HEAD_SIZE = _GZIP_HEADER_SIZE + len(_STORED_BLOCK) + _BLOCK


class TarballFormatError(Exception):
    """The compressor's output is not the single gzip member this module expects (a bug, not a user error)."""


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


def tar_end(size: int) -> bytes:
    """What follows a ``size``-byte member behind a one-block header (the head-last layout)."""
    return tar_trailer(header_len=_BLOCK, size=size)


def targz_head(member: str, *, size: int, mtime: int) -> bytes:
    """The archive's first HEAD_SIZE bytes for a member of ``size`` bytes."""
    header = tar_header(member, size=size, mtime=mtime)
    if len(header) != _BLOCK:  # a member name over 100 bytes would need a GNU long-name block
        raise TarballFormatError(f"tar member name {member!r} needs more than one header block")
    return _GZIP_HEADER + _STORED_BLOCK + header


class TarGzBody(PullReader):
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

    def _pull(self, size: int) -> bytes:
        return self._next_body_bytes(size)

    def head(self) -> bytes:
        if self._head is None:
            raise TarballFormatError("the archive head is known only once the body has been read to the end")
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
            raise TarballFormatError("the compressor did not write a plain gzip header")
        return data[taken:]

    def _end_member(self) -> None:
        if len(self._member_header) != _GZIP_HEADER_SIZE or len(self._held) != _GZIP_TRAILER:
            raise TarballFormatError("the compressor's gzip member ended early")
        body_crc, _isize = struct.unpack("<II", self._held)
        raw = self._raw_size()
        content = raw + len(tar_end(raw))
        self._head = targz_head(self._member, size=raw, mtime=self._mtime)
        header_crc = zlib.crc32(self._head[-_BLOCK:])
        crc = isal_zlib.crc32_combine(header_crc, body_crc, content)
        self._trailer = struct.pack("<II", crc, (_BLOCK + content) & 0xFFFFFFFF)
