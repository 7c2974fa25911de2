"""A local directory as the bucket: the embedded default, and what CI and laptops use.

Objects are files under the root; ``put`` writes a hidden temporary file beside the target, fsyncs
it and renames it into place, so a reader never sees a partial object and a crash leaves only a
``.partial`` file that ``list`` ignores.
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from shared.readers import CHUNK_BYTES
from shared.storage.base import (
    ObjectChangedError,
    ObjectExistsError,
    ObjectInfo,
    ObjectNotFoundError,
    OpenedRead,
    Retried,
    StorageConfigError,
    StorageError,
    no_retries,
)
from shared.storage.parts import head_of_size

_PARTIAL_MARK = ".partial-"
# Every object is readable by its owner only: accounts.sql holds password hashes, and a dump holds the
# data itself (cloud buckets are private by their own policy: S3 Block Public Access and bucket
# policies, GCS uniform bucket-level access, Azure private containers; see docs/SECURITY.md).
OBJECT_MODE = 0o600


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"file://{root}"

    def put(self, key: str, stream: BinaryIO, *, if_absent: bool = False) -> int:
        return self._write_then_place(key, lambda out: _copy(stream, out), if_absent=if_absent)

    def put_head_last(self, key: str, body: BinaryIO, *, head_size: int, head: Callable[[], bytes],
                      retried: Retried = no_retries) -> int:
        """Placeholder bytes, then the body, then the head written over the placeholder, in the partial file."""

        def write(out: BinaryIO) -> int:
            out.write(b"\0" * head_size)
            written = _copy(body, out)
            out.seek(0)
            out.write(head_of_size(head, head_size))
            return head_size + written

        return self._write_then_place(key, write)

    def _write_then_place(self, key: str, write: Callable[[BinaryIO], int], *, if_absent: bool = False) -> int:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}{_PARTIAL_MARK}{uuid.uuid4().hex}")
        try:
            with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OBJECT_MODE), "wb") as out:
                written = write(out)
                out.flush()
                os.fsync(out.fileno())
            if if_absent:
                # link() fails if the target exists, atomically (rename() would replace it).
                try:
                    os.link(partial, target)
                except FileExistsError:
                    raise ObjectExistsError(f"{key} already exists in {self.url}") from None
                partial.unlink()
            else:
                os.replace(partial, target)
        except BaseException as exc:
            partial.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise StorageError(f"no space left for {key} in {self.root}") from None
            raise
        return written

    def open_read(self, key: str) -> BinaryIO:
        return self.open_read_from(key, offset=0, version=None).stream

    def open_read_from(self, key: str, *, offset: int, version: str | None) -> OpenedRead:
        try:
            stream = open(self._path(key), "rb")  # noqa: SIM115  # returned to the caller, who closes it
        except FileNotFoundError:
            if version:
                raise ObjectChangedError(f"{key} was deleted from {self.url} while it was being read") from None
            raise ObjectNotFoundError(f"{key} not found in {self.url}") from None
        # Objects are replaced by rename, never rewritten: a new inode or mtime is another object.
        status = os.fstat(stream.fileno())
        found = f"{status.st_ino}-{status.st_mtime_ns}"
        if version and found != version:
            stream.close()
            raise ObjectChangedError(f"{key} in {self.url} changed while it was being read")
        stream.seek(offset)
        return OpenedRead(stream=stream, version=found, size=status.st_size)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        if not self.root.is_dir():
            raise StorageConfigError(f"backup directory {self.root} does not exist")
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return
        for dirpath, dirs, files in os.walk(base):
            # Only into folders that can hold a key with the prefix: listing `p/2026` (the backup catalog)
            # must not walk `p/binlogs/`, a million files after a busy month.
            folder = Path(dirpath).relative_to(self.root).as_posix()
            dirs[:] = [d for d in dirs if _may_hold(f"{folder}/{d}/".removeprefix("./"), prefix)]
            for name in files:
                if _PARTIAL_MARK in name:
                    continue
                path = Path(dirpath, name)
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    st = path.stat()
                    yield ObjectInfo(key=key, size=st.st_size, modified=datetime.fromtimestamp(st.st_mtime, UTC))

    def list_folders(self, prefix: str) -> Iterator[str]:
        if not self.root.is_dir():
            raise StorageConfigError(f"backup directory {self.root} does not exist")
        directory = self.root / prefix if prefix else self.root
        if directory.is_dir():
            yield from (entry.name for entry in os.scandir(directory) if entry.is_dir(follow_symlinks=False))

    def delete(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        # Drop directories the delete emptied, so a pruned backup leaves no empty folder behind.
        for parent in path.parents:
            if parent == self.root or not parent.is_relative_to(self.root):
                break
            with contextlib.suppress(OSError):
                parent.rmdir()

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise StorageError(f"invalid object key {key!r}")
        return self.root.joinpath(*parts)


def _copy(stream: BinaryIO, out: BinaryIO) -> int:
    written = 0
    while chunk := stream.read(CHUNK_BYTES):
        out.write(chunk)
        written += len(chunk)
    return written


def from_url(location: str, params: dict[str, str]) -> LocalStorage:
    if not location.startswith("/"):
        raise StorageConfigError(f"file:// storage needs an absolute path, got {location!r}")
    root = Path(location)
    if root.exists() and not root.is_dir():
        raise StorageConfigError(f"{root} exists and is not a directory")
    return LocalStorage(root)


__all__ = ["LocalStorage", "from_url"]


def _may_hold(folder: str, prefix: str) -> bool:
    """Whether keys under ``folder`` (ending in ``/``) can start with ``prefix``."""
    return folder.startswith(prefix) or prefix.startswith(folder)
