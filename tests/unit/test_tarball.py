"""The streamed tar.gz (head placed in front of the body last) is a normal archive to every standard reader."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import zlib

import pytest

from shared.compression import open_compressor
from shared.formats import DUMP_TAR_MEMBER as TAR_MEMBER
from shared.tarball import HEAD_SIZE, TarballFormatError, TarGzBody, tar_end, targz_head
from tests.support.backups import targz_bytes

MTIME = 1_700_000_000


def sample(size: int) -> bytes:
    data = (b"INSERT INTO t VALUES (1,'x');\n" * (size // 30 + 1))[: max(size - 64, 0)] + os.urandom(min(size, 64))
    return data[:size]


class Trickle(io.RawIOBase):
    """Hands out a byte string in reads of at most ``step`` bytes, like a busy pipe."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._step = data, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer):  # type: ignore[no-untyped-def, override]
        piece, self._data = self._data[: min(self._step, len(buffer))], self._data[min(self._step, len(buffer)):]
        buffer[: len(piece)] = piece
        return len(piece)


@pytest.mark.parametrize("size", [0, 1, 511, 512, 513, 10240, 3_000_001])
def test_archive_reads_back_with_tar_gzip_pigz_and_python(tmp_path, size):
    data = sample(size)
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(targz_bytes(data, member=TAR_MEMBER, mtime=MTIME))

    for check in (["gzip", "-t"], ["pigz", "-t"]):
        assert subprocess.run([*check, archive]).returncode == 0
    listing = subprocess.run(["tar", "tzvf", archive], capture_output=True, text=True, check=True).stdout
    assert listing.split()[2] == str(size) and listing.split()[-1] == TAR_MEMBER
    subprocess.run(["tar", "xzf", archive], cwd=tmp_path, check=True)
    assert (tmp_path / TAR_MEMBER).read_bytes() == data
    with tarfile.open(archive) as t:
        assert t.getnames() == [TAR_MEMBER]
        assert t.extractfile(TAR_MEMBER).read() == data  # type: ignore[union-attr]
    with tarfile.open(archive, mode="r|gz") as stream:  # stream mode reads only a first gzip member
        (member,) = list(stream)
        assert member.size == size and member.mtime == MTIME
    inflater = zlib.decompressobj(31)
    whole = inflater.decompress(archive.read_bytes())
    assert inflater.eof and inflater.unused_data == b""  # exactly one gzip member, nothing after it
    assert len(whole) % tarfile.RECORDSIZE == 0


@pytest.mark.parametrize("step", [1, 7, 9, 4096])
def test_body_is_the_same_however_the_compressor_output_is_split(step):
    data = sample(200_000)
    whole = targz_bytes(data, member=TAR_MEMBER, mtime=MTIME)
    member = io.BytesIO()
    writer = open_compressor("gzip", member)
    writer.write(data)
    writer.write(tar_end(len(data)))
    writer.close()
    body = TarGzBody(Trickle(member.getvalue(), step), member=TAR_MEMBER, mtime=MTIME, raw_size=lambda: len(data))
    read = b"".join(iter(lambda: body.read(3), b""))
    assert body.head() + read == whole


def test_head_has_a_fixed_size_whatever_the_dump_size():
    sizes = {len(targz_head(TAR_MEMBER, size=s, mtime=MTIME)) for s in (0, 1, 8 << 30, 3 << 40)}
    assert sizes == {HEAD_SIZE}


def test_head_is_unknown_before_the_body_ends():
    body = TarGzBody(io.BytesIO(b""), member=TAR_MEMBER, mtime=MTIME, raw_size=lambda: 0)
    with pytest.raises(TarballFormatError):
        body.head()
    with pytest.raises(TarballFormatError, match="ended early"):
        body.read(10)


def test_a_member_that_is_not_plain_gzip_is_refused():
    with pytest.raises(TarballFormatError, match="plain gzip header"):
        TarGzBody(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"\0" * 40), member=TAR_MEMBER, mtime=MTIME,
                  raw_size=lambda: 0).read(100)
