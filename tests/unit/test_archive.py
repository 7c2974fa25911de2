"""The tar.gz built around a compressed spool is a normal archive to every standard reader."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import tarfile
import zlib

import pytest

from shared.archive import CompressedSpool, open_targz
from shared.formats import DUMP_TAR_MEMBER as TAR_MEMBER
from shared.hashing import HashingReader

MTIME = 1_700_000_000


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 10240, 3_000_001])
def test_spooled_archive_reads_back_with_tar_gzip_and_python(tmp_path, size):
    data = (b"INSERT INTO t VALUES (1,'x');\n" * (size // 30 + 1))[: size - 64] + os.urandom(min(size, 64))
    data = data[:size]
    spool = CompressedSpool(tmp_path / "spool", member=TAR_MEMBER)
    for i in range(0, len(data), 100_000):
        spool.write(data[i : i + 100_000])
    header = spool.finish(mtime=MTIME)
    reader = HashingReader(open_targz(spool.path, header=header, content_bytes=spool.content_bytes))
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(reader.read())

    assert reader.count == archive.stat().st_size
    assert reader.hexdigest() == hashlib.sha1(archive.read_bytes()).hexdigest()
    assert subprocess.run(["gzip", "-t", archive]).returncode == 0
    listing = subprocess.run(["tar", "tzvf", archive], capture_output=True, text=True, check=True).stdout
    assert listing.split()[2] == str(size) and listing.split()[-1] == TAR_MEMBER
    subprocess.run(["tar", "xzf", archive], cwd=tmp_path, check=True)
    assert (tmp_path / TAR_MEMBER).read_bytes() == data
    with tarfile.open(archive) as t:
        assert t.getnames() == [TAR_MEMBER]
        assert t.extractfile(TAR_MEMBER).read() == data  # type: ignore[union-attr]
    with tarfile.open(archive, mode="r|gz") as stream:  # stream mode reads only a first gzip member
        (member,) = list(stream)
        assert member.size == size
    inflater = zlib.decompressobj(31)
    whole = inflater.decompress(archive.read_bytes())
    assert inflater.eof and inflater.unused_data == b""  # exactly one gzip member, nothing after it
    assert len(whole) % tarfile.RECORDSIZE == 0


def test_archive_can_be_produced_again_identically(tmp_path):
    spool = CompressedSpool(tmp_path / "spool", member=TAR_MEMBER)
    spool.write(b"hello\n" * 1000)
    header = spool.finish(mtime=MTIME)
    first = open_targz(spool.path, header=header, content_bytes=spool.content_bytes).read()
    second = open_targz(spool.path, header=header, content_bytes=spool.content_bytes).read()
    assert first == second  # a whole-upload retry sends the same bytes (same SHA1)


def test_truncate_starts_a_fresh_member(tmp_path):
    spool = CompressedSpool(tmp_path / "spool", member=TAR_MEMBER)
    spool.write(b"attempt one, lost half-way")
    spool.truncate()
    spool.write(b"attempt two")
    spool.finish(mtime=MTIME)
    assert spool.raw_bytes == len(b"attempt two")
    assert gzip.decompress(spool.path.read_bytes()).startswith(b"attempt two\0")
