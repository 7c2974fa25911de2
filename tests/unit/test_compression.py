"""The codecs behind ``sql.gz`` / ``sql.zst`` produce what the standard tools read, and read it back.

A user restores a streamed backup with nothing but ``gzip -d``, ``pigz -d`` or ``zstd -d``; the
agent's own reader must handle the same bytes, including streams that span many compressor blocks
(the threaded gzip writer cuts 1 MiB blocks; zstd with workers cuts jobs) and concatenated members.
"""

from __future__ import annotations

import fcntl
import io
import os
import random
import subprocess

import pytest

from shared.compression import CODECS, GZIP_BLOCK_SIZE, open_compressor, open_decompressor
from shared.dump import PIPE_BYTES, enlarge_pipe
from tests.support.backups import compress_bytes

TOOLS = {"gzip": [["gzip", "-dc"], ["pigz", "-dc"]], "zstd": [["zstd", "-dc"]]}


def dump_like(size: int, seed: int = 7) -> bytes:
    """SQL-ish text with some random bytes mixed in, so blocks compress differently."""
    rng = random.Random(seed)
    parts, total = [], 0
    while total < size:
        row = f"INSERT INTO t VALUES ({total},'{rng.choice(['Zürich', '東京', 'Søren'])}',{rng.random()});\n"
        part = row.encode() * rng.randint(1, 50) + rng.randbytes(rng.randint(0, 300))
        parts.append(part)
        total += len(part)
    return b"".join(parts)[:size]


def compress_streaming(codec: str, data: bytes, *, threads: int, write_size: int) -> bytes:
    sink = io.BytesIO()
    writer = open_compressor(codec, sink, threads=threads)
    for start in range(0, len(data), write_size):
        writer.write(data[start : start + write_size])
    writer.close()
    assert not sink.closed, "closing the compressor must leave the sink open for the caller"
    return sink.getvalue()


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("size", [0, 1, GZIP_BLOCK_SIZE - 1, 3 * GZIP_BLOCK_SIZE + 12345])
def test_standard_tools_decompress_what_we_compress(codec, threads, size):
    data = dump_like(size)
    compressed = compress_streaming(codec, data, threads=threads, write_size=300_001)

    for tool in TOOLS[codec]:
        done = subprocess.run(tool, input=compressed, capture_output=True, check=False)
        assert done.returncode == 0, (tool, done.stderr)
        assert done.stdout == data, tool


@pytest.mark.parametrize("codec", CODECS)
def test_our_reader_reads_what_the_standard_tools_write(codec, tmp_path):
    data = dump_like(2_500_000)
    path = tmp_path / "dump.sql"
    path.write_bytes(data)
    tool = ["pigz", "-6", "-c"] if codec == "gzip" else ["zstd", "-3", "-c", "-q"]
    compressed = subprocess.run([*tool, str(path)], capture_output=True, check=True).stdout

    reader = open_decompressor(codec, io.BytesIO(compressed))

    assert read_all(reader) == data


@pytest.mark.parametrize("codec", CODECS)
def test_concatenated_members_read_as_one_stream(codec):
    first, second = dump_like(100_000, seed=1), dump_like(200_000, seed=2)
    stream = compress_bytes(codec, first) + compress_streaming(codec, second, threads=2, write_size=65536)

    assert read_all(open_decompressor(codec, io.BytesIO(stream))) == first + second


@pytest.mark.parametrize("codec", CODECS)
def test_compression_actually_shrinks_sql(codec):
    data = dump_like(4_000_000)

    compressed = compress_streaming(codec, data, threads=2, write_size=1 << 20)

    assert len(compressed) < len(data) / 3


def test_pipes_are_enlarged_to_hold_a_whole_chunk():
    read_fd, write_fd = os.pipe()
    try:
        enlarge_pipe(write_fd)
        assert fcntl.fcntl(read_fd, fcntl.F_GETPIPE_SZ) >= PIPE_BYTES
    finally:
        os.close(read_fd)
        os.close(write_fd)


def read_all(stream) -> bytes:
    chunks = []
    while chunk := stream.read(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)
