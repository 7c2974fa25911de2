"""Reading mariadb-backup's ``mbstream`` framing as it streams past, without unpacking it.

The stream is a sequence of chunks, each ``XBSTCK01`` (magic), flags (1 byte), type (1 byte: ``P``
payload, ``E`` end of a file), path length (4 bytes LE), path, and for ``P``: payload length and
offset (8 bytes LE each), CRC32 of the payload (4 bytes LE), payload. ``MbstreamSniffer`` follows that
framing chunk by chunk and keeps the payload of a few small files by name: the backup's binlog position
and Galera state live only inside the stream (``--extra-lsndir`` gets the checkpoints, not those).
With ``check=True`` it also checks every payload's CRC32, which is what ``verify`` does with it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from shared.errors import BackupFailedError

MAGIC = b"XBSTCK01"
_HEAD = 14  # magic 8 + flags 1 + type 1 + path length 4
_PAYLOAD_HEAD = 20  # payload length 8 + offset 8 + CRC32 4
_PAYLOAD, _END = ord("P"), ord("E")
_MAX_PATH = 4096  # longer is not a path: the framing is broken
# Small files are kept whole; anything past this is not the info file we are looking for.
_KEEP_LIMIT = 64 << 10
# mariadb-backup's own info files (10.11 names them xtrabackup_*, 11.x mariadb_backup_*).
BINLOG_INFO = ("xtrabackup_binlog_info", "mariadb_backup_binlog_info")
GALERA_INFO = ("xtrabackup_galera_info", "mariadb_backup_galera_info")


class MbstreamError(BackupFailedError):
    """The bytes are not a well-formed mbstream (damage, truncation or not an mbstream at all)."""


class MbstreamSniffer:
    """Feed it every byte of the stream in order; ``files`` then holds the wanted files' contents."""

    def __init__(self, wanted: Iterable[str] = (*BINLOG_INFO, *GALERA_INFO), *, check: bool = False) -> None:
        self._wanted = frozenset(wanted)
        self._check = check
        self._head = bytearray()
        self._left = 0  # payload bytes still to come for the current chunk
        self._crc = 0
        self._expected_crc = 0
        self._keeping: bytearray | None = None
        self._path = ""
        self.files: dict[str, bytes] = {}
        self.paths = 0  # files ended (``E`` chunks)
        self.chunks = 0

    def feed(self, data: bytes) -> None:
        view, pos = memoryview(data), 0
        while pos < len(view):
            if self._left:
                piece = view[pos:pos + self._left]
                self._take_payload(piece)
                pos += len(piece)
                continue
            need = self._head_size() - len(self._head)
            self._head += view[pos:pos + need]
            pos += min(need, len(view) - pos)
            if len(self._head) == self._head_size():
                self._start_chunk()

    def finish(self) -> None:
        """Raise unless the stream ended on a chunk boundary (a cut stream ends mid-chunk)."""
        if self._left or self._head:
            raise MbstreamError(f"the mbstream ends inside chunk {self.chunks + 1} (truncated)")
        if self.chunks == 0:
            raise MbstreamError("the mbstream is empty")

    def _head_size(self) -> int:
        if len(self._head) < _HEAD:
            return _HEAD
        self._check_head()  # before trusting its path length: foreign bytes must fail, not wait for more
        path_length = int.from_bytes(self._head[10:14], "little")
        return _HEAD + path_length + (_PAYLOAD_HEAD if self._head[9] == _PAYLOAD else 0)

    def _check_head(self) -> None:
        head = self._head
        if head[:8] != MAGIC:
            raise MbstreamError(f"chunk {self.chunks + 1} does not start with {MAGIC.decode()}")
        kind, path_length = head[9], int.from_bytes(head[10:14], "little")
        if kind not in (_PAYLOAD, _END) or path_length > _MAX_PATH:
            raise MbstreamError(f"chunk {self.chunks + 1} has type {kind!r} and a {path_length}-byte path")

    def _start_chunk(self) -> None:
        head = bytes(self._head)
        kind, path_length = head[9], int.from_bytes(head[10:14], "little")
        self.chunks += 1
        self._head.clear()
        path = head[_HEAD:_HEAD + path_length].decode(errors="replace")
        if kind == _END:
            self.paths += 1
            return
        tail = head[_HEAD + path_length:]
        self._left = int.from_bytes(tail[:8], "little")
        self._expected_crc = int.from_bytes(tail[16:20], "little")
        self._crc = 0
        keep = path in self._wanted and self._left <= _KEEP_LIMIT
        self._keeping = bytearray(self.files.get(path, b"")) if keep else None
        self._path = path
        if not self._left:
            self._end_payload()

    def _take_payload(self, piece: memoryview) -> None:
        self._left -= len(piece)
        if self._check:
            self._crc = zlib.crc32(piece, self._crc)
        if self._keeping is not None:
            self._keeping += piece
        if not self._left:
            self._end_payload()

    def _end_payload(self) -> None:
        if self._check and self._crc != self._expected_crc:
            raise MbstreamError(f"chunk {self.chunks} of {self._path} fails its CRC32 check")
        if self._keeping is not None:
            self.files[self._path] = bytes(self._keeping)
            self._keeping = None

    def first(self, names: Iterable[str]) -> str | None:
        """The text of the first of ``names`` found in the stream (10.11 and 11.x name files differently)."""
        for name in names:
            if name in self.files:
                return self.files[name].decode(errors="replace").strip()
        return None
