"""Dump → compress → hash → upload, one producer per way of producing (shared/formats.py); no temp disk.

Every format streams: a thread compresses the dump into a pipe that the storage adapter uploads from.
Streamed formats (``sql.gz`` / ``sql.zst``) hash the bytes as they are uploaded. Head-last formats
(``tar.gz``, the seed's) upload their body while the dump runs and their size-bearing head last
(``HeadLastStorage``, shared/archive.py); SHA1 is sequential and the head comes first, so their
SHA1 is computed by reading the stored object back, which also checks what the storage really holds.
Byte counts are compared with what the storage says it stored.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from shared.archive import HEAD_SIZE, TarGzBody, tar_end
from shared.compression import open_compressor
from shared.dump import DumpProcess, dump_argv, enlarge_pipe
from shared.errors import BackupFailedError
from shared.formats import HEAD_LAST, STREAMED, ArtifactFormat, Production
from shared.hashing import HashingReader
from shared.storage import Storage, StorageError
from shared.storage.base import HeadLastStorage
from shared.storage.retrying import read_replayable

log = logging.getLogger("mariadb_ha_backup.pipeline")

# 1 MiB reads from the dump's pipe: big enough to amortise syscalls and compressor calls, small
# enough that memory stays flat whatever the database size.
CHUNK = 1 << 20
# glibc serves allocations above a threshold with mmap and returns them to the OS on free, but after
# the first such free it raises the threshold to that size (up to 32 MiB): the storage adapters'
# 8-16 MiB part buffers then come from per-thread heaps that keep them, and peak RSS creeps up with
# the number of parts. A fixed 4 MiB threshold (above our 1 MiB chunks, below any part) keeps part
# buffers mmapped. Measured on a 500 MB dump to S3 (moto): tar.gz 204-219 -> 143-148 MB, sql.gz
# 173 -> 115-130 MB, sql.zst 186 -> 133 MB peak RSS, for ~5% more CPU (page faults on fresh mmaps).
MMAP_THRESHOLD = 4 << 20
_M_MMAP_THRESHOLD = -3  # mallopt() parameter number in glibc's malloc.h

Progress = Callable[[int], None]


class UploadSizeMismatchError(BackupFailedError):
    """The storage stored a different number of bytes than were produced."""


@dataclass(frozen=True)
class ArtifactResult:
    sha1: str
    raw_bytes: int
    compressed_bytes: int


@dataclass(frozen=True)
class DumpJob:
    """Everything the pipeline needs for one artifact."""

    defaults_file: Path
    run_dir: Path
    storage: Storage
    key: str
    mtime: int
    progress: Progress


def produce(job: DumpJob, fmt: ArtifactFormat) -> ArtifactResult:
    """Dump, compress and upload one artifact of ``fmt``, by the producer its row names."""
    return PRODUCERS[fmt.production](job, fmt)


def produce_head_last(job: DumpJob, fmt: ArtifactFormat) -> ArtifactResult:
    _keep_part_buffers_mmapped()
    assert fmt.tar_member is not None and fmt.codec == "gzip"  # the head is a tar header in a gzip member
    storage = job.storage
    if not isinstance(storage, HeadLastStorage):
        raise StorageError(f"{storage.url} cannot place an object's head after its body (no put_head_last)")
    with DumpProcess(dump_argv(job.defaults_file), job.run_dir / "dump.err") as dump:
        stored, raw_bytes = _upload_targz(job, storage, dump, member=fmt.tar_member)
    # Read back whole (retried from the start on a reset when the storage is a RetryingStorage).
    sha1, read_back = read_replayable(storage, job.key, _sha1_of)
    _check_count(read_back, stored)
    return ArtifactResult(sha1=sha1, raw_bytes=raw_bytes, compressed_bytes=stored)


def _upload_targz(job: DumpJob, storage: HeadLastStorage, dump: DumpProcess, *, member: str) -> tuple[int, int]:
    """(bytes stored, bytes dumped): the body goes up while the dump runs, the head last."""
    pumped = _CompressingPipe(dump, codec="gzip", progress=job.progress, tail=tar_end)
    body = TarGzBody(cast(BinaryIO, pumped), member=member, mtime=job.mtime, raw_size=lambda: pumped.raw_bytes)
    try:
        stored = storage.put_head_last(job.key, cast(BinaryIO, body), head_size=HEAD_SIZE, head=body.head)
    finally:
        pumped.close()
    _check_count(stored, HEAD_SIZE + body.count)
    return stored, pumped.raw_bytes


def _sha1_of(stream: BinaryIO) -> tuple[str, int]:
    hashed = HashingReader(stream)
    while hashed.read(CHUNK):
        pass
    return hashed.hexdigest(), hashed.count


def produce_streamed(job: DumpJob, fmt: ArtifactFormat) -> ArtifactResult:
    _keep_part_buffers_mmapped()
    with DumpProcess(dump_argv(job.defaults_file), job.run_dir / "dump.err") as dump:
        pumped = _CompressingPipe(dump, codec=fmt.codec, progress=job.progress)
        reader = HashingReader(pumped)  # type: ignore[arg-type]  # a RawIOBase is a binary stream
        try:
            stored = job.storage.put(job.key, reader)  # type: ignore[arg-type]  # one-shot: never retried half-read
        finally:
            reader.close()
        _check_count(stored, reader.count)
        return ArtifactResult(sha1=reader.hexdigest(), raw_bytes=pumped.raw_bytes, compressed_bytes=stored)


PRODUCERS: dict[Production, Callable[[DumpJob, ArtifactFormat], ArtifactResult]] = {
    HEAD_LAST: produce_head_last,
    STREAMED: produce_streamed,
}


def _keep_part_buffers_mmapped() -> None:
    """Best effort (glibc only, see MMAP_THRESHOLD): elsewhere memory is merely less tidy."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def _check_count(stored: int, produced: int) -> None:
    if stored != produced:
        raise UploadSizeMismatchError(f"storage stored {stored} bytes but {produced} were produced")


class _CompressingPipe:
    """A readable stream of the compressed dump, fed by a thread through an OS pipe.

    End of stream is reported only after the dump exited successfully: if it failed, ``read``
    raises instead of returning EOF, so the storage aborts instead of committing a truncated object.
    """

    def __init__(self, dump: DumpProcess, *, codec: str, progress: Progress,
                 tail: Callable[[int], bytes] | None = None) -> None:
        self._dump = dump
        self._codec = codec
        self._tail = tail  # bytes to compress after the dump, given its size (the tar end)
        self._progress = progress
        self.raw_bytes = 0
        self._error: BaseException | None = None
        read_fd, write_fd = os.pipe()
        enlarge_pipe(write_fd)  # a whole chunk fits: the compressor never waits on a 64 KiB pipe
        self._source = open(read_fd, "rb", buffering=CHUNK)  # noqa: SIM115  # closed in close()
        self._thread = threading.Thread(target=self._pump, args=(write_fd,), name="compress", daemon=True)
        self._thread.start()

    def _pump(self, write_fd: int) -> None:
        try:
            with open(write_fd, "wb", buffering=CHUNK) as sink:
                compressor = open_compressor(self._codec, sink)
                while chunk := self._dump.stdout.read(CHUNK):
                    compressor.write(chunk)
                    self.raw_bytes += len(chunk)
                    self._progress(len(chunk))
                if self._tail is not None:
                    compressor.write(self._tail(self.raw_bytes))
                compressor.close()
        except BaseException as exc:  # reported to the reader at EOF
            self._error = exc

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        if not data:
            self._thread.join()
            if self._error is not None:
                raise BackupFailedError(f"compression failed: {self._error}") from self._error
            self._dump.finish()
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._source.close()
