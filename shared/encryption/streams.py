"""Encrypting and decrypting stream layers that fit a pipeline of file-like objects.

pyrage's ``encrypt_io(reader, writer, recipients)`` / ``decrypt_io(reader, writer, identities)`` pull
from a reader and push to a writer until the end; they work in age's 64 KiB STREAM chunks, so they
never hold the artifact. Our pipelines are *pull* chains (the storage adapter reads the artifact from
a stream), so each layer runs pyrage in a thread that writes into an OS pipe, and the layer is the
read end of that pipe: memory is bounded by the pipe buffer plus a chunk or two, whatever the size.

End of stream is reported only after pyrage returned successfully. If it failed, ``read`` raises
instead of returning EOF, so an upload aborts instead of committing a truncated object and a restore
stops instead of loading a truncated dump. A failure of the layer's *source* (a dump that died, a
download reset) is re-raised as the very same exception, so the caller's retry rules still apply.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, cast

from shared.errors import BackupFailedError, BadInputError

# Reads from the pipe: big enough to amortise calls, small enough to keep memory flat.
_CHUNK = 1 << 20
# How long ``close`` waits for the pyrage thread; it ends on its own once the pipe is closed (its next
# write fails) or its source reaches EOF, so this only bounds a close during an abort (a thread still
# blocked on its source then leaves closing the source to the source's owner, e.g. the dump process).
# Short, so that SIGTERM cleanup is not held up.
_JOIN_SECONDS = 1.0

Transform = Callable[[Any, Any], None]


class DecryptionError(BackupFailedError):
    """The stored object is not a readable age file (damaged or truncated); the message says which."""


class WrongIdentityError(BadInputError):
    """None of the configured identities is a recipient of the object: a configuration problem that no
    retry fixes (exit 2). age checks this in the header, before a single byte of plaintext exists."""


class EncryptionFailedError(BackupFailedError):
    """pyrage failed while encrypting (not because of its source)."""


def encrypting_reader(source: BinaryIO, recipients: Sequence[str]) -> BinaryIO:
    """A readable stream of ``source`` encrypted to ``recipients`` (age public keys, ``age1...``)."""
    import pyrage
    from pyrage import x25519

    keys = [x25519.Recipient.from_str(r) for r in recipients]

    def encrypt(reader: Any, writer: Any) -> None:
        pyrage.encrypt_io(reader, writer, keys)

    def failure(exc: BaseException) -> BaseException:
        return EncryptionFailedError(f"age encryption failed: {type(exc).__name__}: {str(exc)[:200]}")

    return cast(BinaryIO, _PipedLayer(source, encrypt, name="age-encrypt", failure=failure))


def decrypting_reader(source: BinaryIO, identities: Sequence[Any], *, what: str) -> BinaryIO:
    """A readable stream of the plaintext of the age file ``source``; ``what`` names it in errors.

    Wrong identities fail here, before this returns (age checks the header before any payload, and this
    waits for the first plaintext or the end), so a caller can refuse before it starts a consumer; a
    damaged or truncated payload fails at the read that reaches it, and never as a clean EOF."""
    import pyrage

    def decrypt(reader: Any, writer: Any) -> None:
        pyrage.decrypt_io(reader, writer, list(identities))

    def failure(exc: BaseException) -> BaseException:
        # pyrage's messages name the age failure, never key material.
        message = str(exc)[:200]
        if message == "No matching keys found":
            return WrongIdentityError(
                f"{what}: none of the configured identities can decrypt it (it was encrypted to other recipients)"
            )
        return DecryptionError(f"{what} is not a readable age file: {message}")

    layer = _PipedLayer(source, decrypt, name="age-decrypt", failure=failure)
    try:
        layer.wait_ready()
    except BaseException:
        layer.close()
        raise
    return cast(BinaryIO, layer)


def encrypt_bytes(data: bytes, recipients: Sequence[str]) -> bytes:
    """A small artifact (a binlog segment, an accounts sidecar) as one age file, in memory."""
    import pyrage
    from pyrage import x25519

    return bytes(pyrage.encrypt(data, [x25519.Recipient.from_str(r) for r in recipients]))


def decrypt_bytes(data: bytes, identities: Sequence[Any], *, what: str) -> bytes:
    """The plaintext of a small age file; the same errors as ``decrypting_reader``."""
    with decrypting_reader(io.BytesIO(data), identities, what=what) as reader:
        return reader.read()


class _RecordingSource:
    """The layer's source, remembering the exception it raised (pyrage wraps it into its own)."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return self._inner.read(size)
        except BaseException as exc:
            self.error = exc
            raise


class _PipedLayer(io.RawIOBase):
    def __init__(
        self, source: BinaryIO, transform: Transform, *, name: str, failure: Callable[[BaseException], BaseException]
    ) -> None:
        self._source = _RecordingSource(source)
        self._closable_source = source
        self._failure = failure
        self._error: BaseException | None = None
        read_fd, write_fd = os.pipe()
        self._pipe = io.BufferedReader(io.FileIO(read_fd, "r"), _CHUNK)  # closed in close()
        self._thread = threading.Thread(target=self._run, args=(transform, write_fd), name=name, daemon=True)
        self._thread.start()

    def _run(self, transform: Transform, write_fd: int) -> None:
        try:
            with open(write_fd, "wb", buffering=_CHUNK) as sink:
                transform(self._source, sink)
        except BaseException as exc:  # reported to the reader at EOF
            self._error = exc

    def wait_ready(self) -> None:
        """Block until the first output byte or the end; raise if the transform already failed."""
        if not self._pipe.peek(1):  # blocks until output or the end of the pipe
            self._thread.join()
            self._raise_if_failed()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._pipe.readinto1(buffer)
        if not count:
            self._thread.join()
            self._raise_if_failed()
        return count or 0

    def _raise_if_failed(self) -> None:
        if self._source.error is not None:
            raise self._source.error
        if self._error is not None:
            raise self._failure(self._error) from None

    def close(self) -> None:
        if self.closed:
            return
        self._pipe.close()  # a pyrage thread still writing now fails at once (EPIPE) and ends
        self._thread.join(timeout=_JOIN_SECONDS)
        if not self._thread.is_alive():
            self._closable_source.close()
        super().close()
