"""Reading a stored artifact back as the SQL dump, in one streaming pass, checking everything on the way.

    storage stream → SHA1 + byte count → gzip/zstd decompressor → (tar walk) → SQL bytes

Nothing touches the disk. ``DumpReader`` is a readable stream of the dump; once the caller has read
it to the end, ``finish()`` walks the rest of the archive (tar end blocks, record padding, trailing
compressed members) and then the rest of the raw stream, so the SHA1 covers every stored byte, and
returns every way the artifact differs from its manifest and ``.sha1`` sidecar. A decompression or
tar error does not stop the hashing: the reader drains the raw stream anyway, so the report can
still say whether the stored bytes match their recorded SHA1.
"""

from __future__ import annotations

import contextlib
import logging
import tarfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

import zstandard

from shared.compression import open_decompressor
from shared.encryption import DecryptionError, decrypting_reader
from shared.errors import BackupFailedError, BadInputError
from shared.formats import PLAIN, artifact_format, layers_named
from shared.hashing import HashingReader
from shared.manifest import Manifest
from shared.readers import CHUNK_BYTES as CHUNK
from shared.readers import PullReader
from shared.storage import Storage

log = logging.getLogger("mariadb_ha_backup.unpacking")

# Errors a damaged gzip/zstd/tar stream raises while being read (isal raises zlib-compatible errors).
# A damaged age file (DecryptionError) too; a wrong identity (WrongIdentityError) is not damage and propagates.
_DAMAGE_ERRORS = (OSError, EOFError, zlib.error, tarfile.TarError, zstandard.ZstdError, ValueError, DecryptionError)


def _decode_age(stream: BinaryIO, *, identities: Sequence[Any], what: str) -> BinaryIO:
    if not identities:  # commands load identities (or refuse) before any download: see agent/common/decryption.py
        raise BadInputError(f"{what} is encrypted and no identity was given")
    return decrypting_reader(stream, identities, what=what)


# Decoder per layer name in shared.formats.LAYERS (the pipeline holds the matching encoders).
DECODERS: dict[str, Callable[..., BinaryIO]] = {"age": _decode_age}


class ArtifactDamagedError(BackupFailedError):
    """The archive cannot be decompressed or unpacked; the message says where it broke."""


@dataclass
class ReadReport:
    """What one pass over an artifact found. ``problems`` is empty when everything matched."""

    sha1: str = ""
    stored_bytes: int = 0
    raw_bytes: int = 0
    problems: list[str] = field(default_factory=list)


class DumpReader(PullReader):
    """The SQL dump inside an artifact, as a readable stream; see the module docstring."""

    def __init__(self, stream: BinaryIO, manifest: Manifest, *, identities: Sequence[Any] = ()) -> None:
        self._manifest = manifest
        self._hashed = HashingReader(stream)
        self._plain = self._decoded(identities)
        self._decompressed = open_decompressor(manifest.artifact.compression, self._plain)
        self._tar: tarfile.TarFile | None = None
        self._member: tarfile.TarInfo | None = None
        self._damage: str | None = None
        self.raw_bytes = 0
        self._sql: BinaryIO | None = None
        # On damage the reason is kept in self._damage: reads raise it, finish() reports it after hashing.
        with contextlib.suppress(ArtifactDamagedError):
            self._sql = self._open_sql()

    def _decoded(self, identities: Sequence[Any]) -> BinaryIO:
        """The artifact's layers undone, outermost first, between the stored bytes (hashed: the SHA1
        covers what is stored) and the decompressor."""
        stream = cast(BinaryIO, self._hashed)
        for layer in reversed(layers_named(self._manifest.artifact.layers)):
            stream = DECODERS[layer.name](stream, identities=identities, what=f"backup {self._manifest.id}")
        return stream

    def _open_sql(self) -> BinaryIO:
        if artifact_format(self._manifest.format).reading == PLAIN:
            return self._decompressed
        try:
            # Stream mode ("r|"): one forward pass, no seeking, so the storage stream is enough.
            self._tar = tarfile.open(fileobj=self._decompressed, mode="r|", bufsize=CHUNK)  # noqa: SIM115  # closed in close()
            self._member = self._tar.next()
        except _DAMAGE_ERRORS as exc:
            raise self._damaged("the tar header", exc) from None
        if self._member is None or not self._member.isfile():
            raise self._damaged("the tar header", ValueError("no file member"))
        extracted = self._tar.extractfile(self._member)
        assert extracted is not None  # a regular file member always has a stream
        return cast(BinaryIO, extracted)

    def _pull(self, size: int) -> bytes:
        if self._sql is None:
            raise ArtifactDamagedError(self._damage)
        try:
            data = self._sql.read(size)
        except _DAMAGE_ERRORS as exc:
            raise self._damaged(f"byte {self.raw_bytes:,} of the dump", exc) from None
        self.raw_bytes += len(data)
        return data

    def finish(self) -> ReadReport:
        """Read what is left of the archive and the raw stream; compare with manifest and sidecar."""
        if self._damage is None:
            try:
                self._walk_to_end()
            except ArtifactDamagedError:
                pass  # recorded in self._damage by readinto
            except _DAMAGE_ERRORS as exc:
                self._damaged("the end of the archive", exc)
        self._drain_plain()
        while self._hashed.read(CHUNK):
            pass  # the SHA1 must cover every stored byte, readable or not
        return ReadReport(sha1=self._hashed.hexdigest(), stored_bytes=self._hashed.count, raw_bytes=self.raw_bytes,
                          problems=[*([self._damage] if self._damage else []), *self._mismatches()])

    def _drain_plain(self) -> None:
        """Let the decryption layer reach its end (its thread reads the stored bytes) before this thread
        reads the rest of them; a damaged age file is damage like a broken gzip member."""
        if self._plain is self._hashed:
            return
        try:
            while self._plain.read(CHUNK):
                pass
        except DecryptionError as exc:
            if self._damage is None:
                self._damage = str(exc)

    def _walk_to_end(self) -> None:
        while self._pull(CHUNK):
            pass  # dump bytes a caller left unread (a client that failed early) still need checking
        if self._tar is not None:
            extra = self._tar.next()
            if extra is not None:
                self._damage = f"the archive holds an unexpected second member {extra.name!r}"
        while self._decompressed.read(CHUNK):
            pass

    def _mismatches(self) -> list[str]:
        expected = self._manifest.artifact
        found: list[str] = []
        if self._hashed.count != expected.compressed_bytes:
            found.append(f"stored size is {self._hashed.count:,} bytes, "
                         f"the manifest says {expected.compressed_bytes:,}")
        if self._damage is None and self.raw_bytes != expected.raw_bytes:
            found.append(f"the dump inside is {self.raw_bytes:,} bytes, the manifest says {expected.raw_bytes:,}")
        if self._member is not None:
            member = expected.tar_member or artifact_format(self._manifest.format).tar_member
            if self._member.name != member:
                found.append(f"the tar member is {self._member.name!r}, expected {member!r}")
            if self._member.size != expected.raw_bytes:
                found.append(f"the tar header says {self._member.size:,} bytes, "
                             f"the manifest says {expected.raw_bytes:,}")
        return found

    def _damaged(self, where: str, exc: BaseException) -> ArtifactDamagedError:
        self._damage = (f"{self._manifest.artifact.name} is not readable at {where}: "
                        f"{type(exc).__name__}: {str(exc)[:200]}")
        return ArtifactDamagedError(self._damage)

    def close(self) -> None:
        for closable in (self._tar, self._decompressed, self._plain, self._hashed):
            if closable is not None:
                closable.close()
        super().close()


@contextmanager
def open_dump(storage: Storage, manifest: Manifest, *, identities: Sequence[Any] = ()) -> Iterator[DumpReader]:
    """A ``DumpReader`` over the artifact of ``manifest`` (``identities`` decrypt an encrypted one); the
    download is closed at exit."""
    download = storage.open_read(manifest.artifact.key)
    try:
        reader = DumpReader(download, manifest, identities=identities)
    except BaseException:
        download.close()
        raise
    try:
        yield reader
    finally:
        reader.close()


def check_artifact(storage: Storage, manifest: Manifest, *, identities: Sequence[Any] = ()) -> ReadReport:
    """One full streaming pass: SHA1, sizes, decompression and the tar walk. Damage is reported, not raised."""
    with open_dump(storage, manifest, identities=identities) as reader:
        return reader.finish()


def check_stored_bytes(storage: Storage, manifest: Manifest) -> ReadReport:
    """SHA1 and stored size only: what can be checked of an encrypted backup without its identity."""
    with storage.open_read(manifest.artifact.key) as download:
        hashed = HashingReader(download)
        while hashed.read(CHUNK):
            pass
    problems, recorded = [], manifest.artifact.compressed_bytes
    if hashed.count != recorded:
        problems.append(f"stored size is {hashed.count:,} bytes, the manifest says {recorded:,}")
    return ReadReport(sha1=hashed.hexdigest(), stored_bytes=hashed.count, raw_bytes=0, problems=problems)
