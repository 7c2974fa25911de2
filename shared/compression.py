"""Compression codecs by name: gzip (ISA-L, multi-threaded) and zstd.

Measured on this kind of machine (2 cores): GNU gzip -6 compresses SQL dumps at ~35 MB/s, ISA-L
level 2 with 2 threads at ~1 GB/s with a ratio close to gzip's, so compression stops being the
bottleneck of a backup (mariadb-dump itself produces ~250 MB/s). Output stays plain gzip: ``tar xzf``,
``gzip -t`` and ``pigz`` read it.
"""

from __future__ import annotations

import os
from typing import BinaryIO, cast

import isal.igzip
import isal.igzip_threaded
import zstandard

# ISA-L offers levels 0-3; 2 is the knee of its speed/ratio curve on dump text.
GZIP_LEVEL = 2
# zstd level 3 is its default: 4.3x on the benchmark dump where ISA-L level 2 gives 3.7x. Level 1 would
# store 7% more (4.28x vs 4.59x on one 100 MB piece) to save 0.09 CPU-s per 100 MB: docs/PERFORMANCE.md.
ZSTD_LEVEL = 3
# zstd's workers each take a job of 4x its window (8 MiB at level 3) and hold input and output for
# it: ~50 MB of RSS with 2 workers. 2 MiB jobs measured 18 MB for a ratio only 0.8% lower
# (100 MB dump: 4.55x instead of 4.59x).
ZSTD_JOB_BYTES = 2 << 20
# Compression runs beside mariadb-dump (one core); more threads than cores only adds contention.
THREADS = max(1, min(2, os.cpu_count() or 1))
# ISA-L's threaded writer hands 1 MiB blocks to its workers; larger blocks barely improve the ratio.
GZIP_BLOCK_SIZE = 1 << 20

CODECS = ("gzip", "zstd")


def open_compressor(codec: str, sink: BinaryIO, *, threads: int = THREADS, level: int | None = None) -> BinaryIO:
    """A writable stream that compresses into ``sink``. ``close()`` ends the compressed member and
    flushes it, but leaves ``sink`` open. ``level`` None: GZIP_LEVEL / ZSTD_LEVEL."""
    if codec == "gzip":
        writer = isal.igzip_threaded.open(  # accepts a file object, which it leaves open
            sink, "wb", compresslevel=GZIP_LEVEL if level is None else level, threads=threads,
            block_size=GZIP_BLOCK_SIZE
        )
        return cast(BinaryIO, writer)
    # A frame checksum (XXH64 of the content, checked by every decoder and by `zstd -t`): without it a
    # flipped byte in a stored sql.zst decompresses to altered SQL that nothing notices.
    params = zstandard.ZstdCompressionParameters.from_level(
        ZSTD_LEVEL if level is None else level,
        threads=threads if threads > 1 else 0, job_size=ZSTD_JOB_BYTES if threads > 1 else 0,
        write_checksum=True,
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    return cast(BinaryIO, compressor.stream_writer(sink, closefd=False))


def open_decompressor(codec: str, source: BinaryIO) -> BinaryIO:
    """A readable stream of the decompressed bytes; reads across concatenated members/frames."""
    if codec == "gzip":
        return cast(BinaryIO, isal.igzip.IGzipFile(fileobj=source, mode="rb"))
    return cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True, closefd=False))
