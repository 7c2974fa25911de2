"""Dump → compress → (spool) → hash → upload, one producer per way of producing (shared/formats.py).

Streamed formats (``sql.gz`` / ``sql.zst``): a thread compresses the dump into a pipe that the storage
adapter uploads from, hashing the bytes as they go; no temp disk. Head-last formats (``tar.gz``, the
seed's) stream the same way, their body while the dump runs and their size-bearing head last
(``HeadLastStorage``, shared/tarball.py); SHA1 is sequential and the head comes first, so their SHA1
is computed by reading the stored object back, which also checks what the storage really holds.
Spooled production (the tar.gz under a layer such as age encryption, which must see the stored bytes
front to back) compresses into a spool of compressed data and uploads it once the size is known.
Byte counts are always checked against what the storage says it stored.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol, cast

from agent.backup.parallel_dump import ParallelDump, ParallelPlan
from shared.binlogs.snapshot import DumpSniffer
from shared.compression import open_compressor
from shared.dump import DumpProcess, enlarge_pipe
from shared.errors import BackupFailedError
from shared.formats import HEAD_LAST, SPOOLED, STREAMED, ArtifactFormat, Production
from shared.hashing import HashingReader
from shared.readers import CHUNK_BYTES as CHUNK
from shared.readers import Progress
from shared.storage import Storage, StorageError
from shared.storage.base import HeadLastStorage
from shared.storage.replayable import ReopeningReader
from shared.storage.retrying import read_replayable
from shared.tarball import HEAD_SIZE, CompressedSpool, TarGzBody, open_targz, tar_end

log = logging.getLogger("mariadb_ha_backup.pipeline")

# glibc serves allocations above a threshold with mmap and returns them to the OS on free, but after
# the first such free it raises the threshold to that size (up to 32 MiB): the storage adapters'
# 8-16 MiB part buffers then come from per-thread heaps that keep them, and peak RSS creeps up with
# the number of parts. A fixed 4 MiB threshold (above our 1 MiB chunks, below any part) keeps part
# buffers mmapped. Measured on a 500 MB dump to S3 (moto): tar.gz 204-219 -> 143-148 MB, sql.gz
# 173 -> 115-130 MB, sql.zst 186 -> 133 MB peak RSS, for ~5% more CPU (page faults on fresh mmaps).
MMAP_THRESHOLD = 4 << 20
_M_MMAP_THRESHOLD = -3  # mallopt() parameter number in glibc's malloc.h


Encoder = Callable[[BinaryIO], BinaryIO]


class DumpStream(Protocol):
    """A running dump (``shared.dump.DumpProcess`` or ``ParallelDump``): read ``stdout`` to EOF, then
    ``finish()`` raises if it failed."""

    @property
    def stdout(self) -> IO[bytes]: ...

    def finish(self) -> None: ...


class SpoolFullError(BackupFailedError):
    """The temp volume filled up while spooling the compressed dump (ENOSPC)."""


class UploadSizeMismatchError(BackupFailedError):
    """The storage stored a different number of bytes than were produced."""


@dataclass(frozen=True)
class ArtifactResult:
    """What the pipeline produced: the SHA1 of the stored bytes, the dump's size and the stored size."""

    sha1: str
    raw_bytes: int
    compressed_bytes: int


@dataclass(frozen=True)
class ArtifactUpload:
    """One artifact to produce: the dump command to run, where to spool, where to upload it."""

    dump_argv: Sequence[str]  # holds the defaults file's path, never the password
    run_dir: Path
    storage: Storage
    key: str
    mtime: int
    progress: Progress
    # The artifact's layers (shared.formats.LAYERS, e.g. age encryption), applied in order after compression.
    encoders: tuple[Encoder, ...] = ()
    sniffer: DumpSniffer | None = None  # sees every chunk of the dump (its binlog position comments)
    observe: Callable[[bytes], None] | None = None  # sees every chunk of the dump (e.g. to count rows)
    program: str = "mariadb-dump"  # names the producing program in errors (mariadb-backup for a physical backup)
    # Several mariadb-dump sessions on one snapshot (agent.backup.parallel_dump) instead of dump_argv's one.
    parallel: ParallelPlan | None = None

    def dump_starts(self) -> None:
        if self.sniffer is not None:
            self.sniffer.restart()  # a retried dump starts over: only its own bytes count

    def watch(self, chunk: bytes) -> None:
        self.progress(len(chunk))
        if self.sniffer is not None:
            self.sniffer.feed(chunk)
        if self.observe is not None:
            self.observe(chunk)


def produce(upload: ArtifactUpload, fmt: ArtifactFormat) -> ArtifactResult:
    """Dump, compress and upload one artifact of ``fmt``, by the producer its row names (with layers:
    the sequential producer ``LAYERED_PRODUCTION`` maps it to)."""
    production = LAYERED_PRODUCTION[fmt.production] if upload.encoders else fmt.production
    return PRODUCERS[production](upload, fmt)


def produce_spooled(upload: ArtifactUpload, fmt: ArtifactFormat) -> ArtifactResult:
    _keep_part_buffers_mmapped()
    assert fmt.tar_member is not None and fmt.codec == "gzip"  # the spool writes one gzip member with a tar
    spool = CompressedSpool(upload.run_dir / "dump.sql.gz-spool", member=fmt.tar_member)
    try:
        try:
            _dump_into(upload, spool.write)
            header = spool.finish(mtime=upload.mtime)
        finally:
            spool.close()
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        raise SpoolFullError(
            f"no space left for the spool in {upload.run_dir.parent}: it needs about the compressed size of the "
            "dump; point BACKUP_TMPDIR at a larger volume (or use BACKUP_FORMAT=sql.gz, which needs no spool)"
        ) from None
    # Rewindable: RetryingStorage retries a failed upload from the spool, encrypting and hashing afresh each time.
    def reopen() -> HashingReader:
        archive = open_targz(spool.path, header=header, content_bytes=spool.content_bytes)
        return HashingReader(_layered(archive, upload.encoders))

    with ReopeningReader(reopen) as stream:
        stored = upload.storage.put(upload.key, stream)  # type: ignore[arg-type]  # a RawIOBase is a binary stream
        hashed = stream.current
    _check_count(stored, hashed.count)
    spool.path.unlink()
    return ArtifactResult(sha1=hashed.hexdigest(), raw_bytes=spool.raw_bytes, compressed_bytes=stored)


def produce_head_last(upload: ArtifactUpload, fmt: ArtifactFormat) -> ArtifactResult:
    _keep_part_buffers_mmapped()
    assert fmt.tar_member is not None and fmt.codec == "gzip"  # the head is a tar header in a gzip member
    storage = upload.storage
    if not isinstance(storage, HeadLastStorage):
        raise StorageError(f"{storage.url} cannot place an object's head after its body (no put_head_last)")
    with _started_dump(upload) as dump:
        stored, raw_bytes = _upload_targz(upload, storage, dump, member=fmt.tar_member)
    # Read back whole (retried from the start on a reset when the storage is a RetryingStorage).
    sha1, read_back = read_replayable(storage, upload.key, _sha1_of)
    _check_count(read_back, stored)
    return ArtifactResult(sha1=sha1, raw_bytes=raw_bytes, compressed_bytes=stored)


def _upload_targz(upload: ArtifactUpload, storage: HeadLastStorage, dump: DumpStream, *,
                  member: str) -> tuple[int, int]:
    """(bytes stored, bytes dumped): the body goes up while the dump runs, the head last."""
    pumped = _CompressingPipe(dump, codec="gzip", progress=upload.watch, tail=tar_end)
    body = TarGzBody(cast(BinaryIO, pumped), member=member, mtime=upload.mtime, raw_size=lambda: pumped.raw_bytes)
    try:
        stored = storage.put_head_last(upload.key, cast(BinaryIO, body), head_size=HEAD_SIZE, head=body.head)
    finally:
        pumped.close()
    _check_count(stored, HEAD_SIZE + body.count)
    return stored, pumped.raw_bytes


def _sha1_of(stream: BinaryIO) -> tuple[str, int]:
    hashed = HashingReader(stream)
    while hashed.read(CHUNK):
        pass
    return hashed.hexdigest(), hashed.count


def produce_streamed(upload: ArtifactUpload, fmt: ArtifactFormat) -> ArtifactResult:
    _keep_part_buffers_mmapped()
    with _started_dump(upload) as dump:
        pumped = _CompressingPipe(dump, codec=fmt.codec, level=fmt.level, progress=upload.watch)
        reader = HashingReader(_layered(cast(BinaryIO, pumped), upload.encoders))
        try:
            stored = upload.storage.put(upload.key, reader)  # type: ignore[arg-type]  # one-shot: never retried half-read
        finally:
            reader.close()
        _check_count(stored, reader.count)
        return ArtifactResult(sha1=reader.hexdigest(), raw_bytes=pumped.raw_bytes, compressed_bytes=stored)


PRODUCERS: dict[Production, Callable[[ArtifactUpload, ArtifactFormat], ArtifactResult]] = {
    HEAD_LAST: produce_head_last,
    SPOOLED: produce_spooled,
    STREAMED: produce_streamed,
}
# A layer (age) transforms the stored bytes front to back from the first one (its stream cipher counts
# chunks from the start), so a producer that writes an object's head after its body cannot apply one:
# a layered artifact is made by the front-to-back producer this maps its production to.
LAYERED_PRODUCTION: dict[Production, Production] = {HEAD_LAST: SPOOLED, SPOOLED: SPOOLED, STREAMED: STREAMED}


def _layered(stream: BinaryIO, encoders: tuple[Encoder, ...]) -> BinaryIO:
    """The format's layers (encryption) over the compressed stream, before the SHA1: the sidecar covers
    the stored bytes."""
    for encode in encoders:
        stream = encode(stream)
    return stream


def _keep_part_buffers_mmapped() -> None:
    """Best effort (glibc only, see MMAP_THRESHOLD): elsewhere memory is merely less tidy."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


@contextlib.contextmanager
def _started_dump(upload: ArtifactUpload) -> Iterator[DumpStream]:
    """The one way every producer starts the dump (logged; the watchers told a new attempt begins)."""
    upload.dump_starts()
    if upload.parallel is not None:
        log.debug("running %d parallel dump sessions", upload.parallel.threads, extra={"event": "dump"})
        with ParallelDump(upload.parallel, upload.run_dir) as parallel:
            yield parallel
        return
    log.debug("running %s", " ".join(upload.dump_argv), extra={"event": "dump"})
    with DumpProcess(upload.dump_argv, upload.run_dir / "dump.err", what=upload.program) as dump:
        yield dump


def _dump_into(upload: ArtifactUpload, write: Callable[[bytes], None]) -> None:
    with _started_dump(upload) as dump:
        while chunk := dump.stdout.read(CHUNK):
            write(chunk)
            upload.watch(chunk)
        dump.finish()


def _check_count(stored: int, produced: int) -> None:
    if stored != produced:
        raise UploadSizeMismatchError(f"storage stored {stored} bytes but {produced} were produced")


class _CompressingPipe:
    """A readable stream of the compressed dump, fed by a thread through an OS pipe.

    End of stream is reported only after the dump exited successfully: if it failed, ``read``
    raises instead of returning EOF, so the storage aborts instead of committing a truncated object.
    """

    def __init__(self, dump: DumpStream, *, codec: str, progress: Callable[[bytes], None],
                 tail: Callable[[int], bytes] | None = None, level: int | None = None) -> None:
        self._dump = dump
        self._codec = codec
        self._level = level
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
                compressor = open_compressor(self._codec, sink, level=self._level)
                while chunk := self._dump.stdout.read(CHUNK):
                    compressor.write(chunk)
                    self.raw_bytes += len(chunk)
                    self._progress(chunk)
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
