"""Google Cloud Storage as a ``Storage``.

``put`` streams through a resumable upload (``blob.open("wb")``): the library sends ``CHUNK_SIZE``
chunks as they fill and creates the object only when the writer is closed, which "finalizes" the
upload. So on any failure the writer must NOT be closed: we terminate it instead (the library's
cancel of the resumable session), and nothing becomes visible. ``upload_from_file`` is not an option
for a pipe: it calls ``tell()``.

The client is built lazily unless injected. Endpoint: ``STORAGE_EMULATOR_HOST`` is honoured by the
library itself; an ``endpoint`` URL parameter overrides it, and a plain ``http://`` endpoint (only
emulators serve without TLS) is used without credentials. Credentials otherwise come from
``google.auth.default()`` (GKE Workload Identity, ``GOOGLE_APPLICATION_CREDENTIALS``).
"""

from __future__ import annotations

import contextlib
import functools
import io
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from shared.storage import base  # the errors every adapter raises: base.ObjectNotFoundError, …
from shared.storage.base import ObjectInfo, OpenedRead, Retried, no_retries
from shared.storage.parts import head_of_size
from shared.storage.streams import buffered_download

if TYPE_CHECKING:
    from google.api_core.retry import Retry
    from google.cloud.storage import Bucket, Client

# Resumable uploads send one chunk per request, in order (no parallelism), and the library buffers
# about two chunks. 16 MiB amortizes the round trip (Google recommends >= 8 MiB) while keeping the
# buffer ~32 MiB (measured: 400 MiB from a pipe peaked at 89 MiB RSS, 55 MiB before the upload);
# GCS has no part-count limit, so the chunk size does not cap the object size.
# It must be a multiple of 256 KiB.
CHUNK_SIZE = 16 * 1024 * 1024
# Size of each read from the caller's stream; the writer accumulates reads into chunks.
READ_SIZE = 1024 * 1024
# Ranged GET size for open_read: one request per 8 MiB keeps memory flat and requests few.
DOWNLOAD_CHUNK_SIZE = 8 * 1024 * 1024
# A download's connect and per-byte read timeouts: 20 s without a byte is a stalled peer, and the read
# is resumed at its offset (shared/storage/resuming.py).
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 20
# The library retries transient errors itself (exponential backoff with jitter) for at most this long
# per request. Modest on purpose, like botocore's 3 attempts for S3: whole-call retries come from
# ``shared.storage.retrying`` around the adapter, and a dead endpoint must fail within seconds.
# Uploads get a little more, because a chunk of a one-shot stream cannot be retried from outside;
# pass ``upload_retry_seconds`` for links that need more patience.
CALL_RETRY_SECONDS = 5.0
UPLOAD_RETRY_SECONDS = 10.0
# Our retention modes (shared.storage.base.LOCK_MODES) in GCS's words.
_GCS_MODES = {"GOVERNANCE": "Unlocked", "COMPLIANCE": "Locked"}


class GcsStorage:
    """One bucket. ``client`` may be injected; otherwise built on first use."""

    def __init__(self, bucket: str, *, client: Client | None = None, endpoint: str | None = None,
                 project: str | None = None, upload_retry_seconds: float = UPLOAD_RETRY_SECONDS) -> None:
        self.bucket = bucket
        self.url = f"gs://{bucket}"
        self._clients = base.LazyClient(client, functools.partial(_build_client, endpoint=endpoint, project=project))
        self._upload_retry_seconds = upload_retry_seconds

    def put(self, key: str, stream: BinaryIO, *, if_absent: bool = False) -> int:
        what = f"upload to {self.url}/{key}"
        if if_absent:  # small by contract: one request; generation 0 means "only if no live object"
            data = stream.read()
            with _translated(what, missing=base.StorageConfigError):
                self._bucket.blob(key).upload_from_string(data, if_generation_match=0, retry=_retry(CALL_RETRY_SECONDS))
            return len(data)
        with _translated(what, missing=base.StorageConfigError):
            retry = _retry(self._upload_retry_seconds)
            writer = self._bucket.blob(key).open("wb", chunk_size=CHUNK_SIZE, retry=retry)
        written = 0
        try:
            while chunk := stream.read(READ_SIZE):  # the caller's own stream errors propagate untouched
                with _translated(what, missing=base.StorageConfigError):
                    writer.write(chunk)
                written += len(chunk)
            with _translated(what, missing=base.StorageConfigError):
                writer.close()  # sends the last chunk and creates the object
        except BaseException:
            _cancel(writer)
            raise
        return written

    def put_head_last(self, key: str, body: BinaryIO, *, head_size: int, head: Callable[[], bytes],
                      retried: Retried = no_retries) -> int:
        """The body and then the head as temporary objects beside ``key``, composed into ``key``, deleted.

        GCS has no out-of-order parts, but compose (server-side, no bytes through us) joins objects in
        the order given. The temporaries are named ``<key>.body-<run>``/``.head-<run>``: only a killed
        process (no cleanup) can leave one, in a folder that has no manifest and is pruned as incomplete.
        """
        run = uuid.uuid4().hex
        body_key, head_key = f"{key}.body-{run}", f"{key}.head-{run}"
        try:
            written = self.put(body_key, body)
            first = head_of_size(head, head_size)
            retried(f"uploading {head_key}", lambda: self.put(head_key, io.BytesIO(first)))
            retried(f"composing {self.url}/{key}", lambda: self._compose(key, [head_key, body_key]))
        finally:
            for temporary in (head_key, body_key):
                with contextlib.suppress(base.StorageError):  # the original failure matters more
                    self.delete(temporary)
        return head_size + written

    def _compose(self, key: str, sources: list[str]) -> None:
        with _translated(f"compose {self.url}/{key}", missing=base.StorageConfigError):
            blobs = [self._bucket.blob(source) for source in sources]
            self._bucket.blob(key).compose(blobs, retry=_retry(CALL_RETRY_SECONDS))

    def open_read(self, key: str) -> BinaryIO:
        return self.open_read_from(key, offset=0, version=None).stream

    def open_read_from(self, key: str, *, offset: int, version: str | None) -> OpenedRead:
        what = f"read {self.url}/{key}"
        # With a generation, a replaced (or deleted) object answers 404: it is no longer the one being read.
        blob = self._bucket.blob(key, generation=int(version) if version else None)
        with _translated(what, missing=base.ObjectChangedError if version else base.ObjectNotFoundError):
            # Fails now (not at the first read) when the object is missing, and pins the generation
            # so every ranged read sees the same object even if it is overwritten meanwhile.
            blob.reload(retry=_retry(CALL_RETRY_SECONDS))
            if blob.generation is not None:
                blob = self._bucket.blob(key, generation=blob.generation)
                blob.reload(retry=_retry(CALL_RETRY_SECONDS))
            reader = blob.open("rb", chunk_size=DOWNLOAD_CHUNK_SIZE, retry=_retry(CALL_RETRY_SECONDS),
                               timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
            if offset:
                reader.seek(offset)
        stream = buffered_download(reader, guard=lambda: _translated(what, missing=base.ObjectNotFoundError))
        return OpenedRead(stream=stream, version=str(blob.generation), size=int(blob.size or 0))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        with _translated(f"list {self.url}/{prefix}", missing=base.StorageConfigError):
            for blob in self._client.list_blobs(self.bucket, prefix=prefix, retry=_retry(CALL_RETRY_SECONDS)):
                yield ObjectInfo(key=blob.name, size=int(blob.size or 0), modified=blob.updated)

    def list_folders(self, prefix: str) -> Iterator[str]:
        with _translated(f"list {self.url}/{prefix}", missing=base.StorageConfigError):
            listing = self._client.list_blobs(self.bucket, prefix=prefix, delimiter="/",
                                              retry=_retry(CALL_RETRY_SECONDS))
            for page in listing.pages:  # the folders come with each page, beside its (few) objects
                yield from (name[len(prefix):].rstrip("/") for name in page.prefixes)

    def delete(self, key: str) -> None:
        from google.api_core.exceptions import NotFound

        # A 404 means already gone (a missing bucket gives the same 404: ``list`` is the check for that).
        with _translated(f"delete {self.url}/{key}", missing=base.ObjectNotFoundError), contextlib.suppress(NotFound):
            self._bucket.blob(key).delete(retry=_retry(CALL_RETRY_SECONDS))

    # Object lock (``LockingStorage``): per-object retention, which needs a bucket created with
    # object retention enabled. A bucket-level retention policy (Terraform ``retention_policy``) also
    # retains objects; ``retained_until`` reports whichever ends later.

    def check_object_lock(self) -> None:
        with _translated(f"read the settings of {self.url}", missing=base.StorageConfigError):
            bucket = self._client.get_bucket(self.bucket, retry=_retry(CALL_RETRY_SECONDS))
        if bucket.object_retention_mode != "Enabled":
            raise base.ObjectLockUnsupportedError(
                f"{self.url} has no object retention (it can only be enabled when the bucket is created: "
                "Terraform enable_object_retention = true); unset BACKUP_LOCK_DAYS or use such a bucket"
            )

    def set_retention(self, key: str, *, until: datetime, mode: str) -> None:
        with _translated(f"set retention on {self.url}/{key}", missing=base.ObjectNotFoundError):
            blob = self._bucket.blob(key)
            blob.retention.mode = _GCS_MODES[mode]
            blob.retention.retain_until_time = until
            blob.patch(retry=_retry(CALL_RETRY_SECONDS))

    def retained_until(self, key: str) -> datetime | None:
        with _translated(f"read retention of {self.url}/{key}", missing=base.ObjectNotFoundError):
            blob = self._bucket.blob(key)
            blob.reload(retry=_retry(CALL_RETRY_SECONDS))
        if blob.temporary_hold or blob.event_based_hold:
            return datetime.max.replace(tzinfo=UTC)
        dates = [d for d in (blob.retention.retain_until_time, blob.retention_expiration_time) if d is not None]
        return max(dates).astimezone(UTC) if dates else None

    @property
    def _client(self) -> Client:
        with _translated(f"connect to {self.url}", missing=base.StorageConfigError):
            return self._clients.get()

    @property
    def _bucket(self) -> Bucket:
        return self._client.bucket(self.bucket)


def _build_client(*, endpoint: str | None, project: str | None) -> Client:
    from google.cloud import storage

    if endpoint is None:
        return storage.Client(project=project)  # honours STORAGE_EMULATOR_HOST by itself
    return storage.Client(
        project=project,
        client_options={"api_endpoint": endpoint},
        use_auth_w_custom_endpoint=not endpoint.startswith("http://"),
    )


def _retry(seconds: float) -> Retry:
    from google.cloud.storage.retry import DEFAULT_RETRY

    return DEFAULT_RETRY.with_timeout(seconds)


def _cancel(writer: Any) -> None:
    """Abandon the resumable session without finalizing; best effort (it expires after a week anyway)."""
    # The original failure matters, not a failed cancel of data nobody can see.
    with contextlib.suppress(Exception):
        writer.terminate()


@contextlib.contextmanager
def _translated(what: str, *, missing: type[Exception]) -> Iterator[None]:
    """Re-raise SDK exceptions from the block as storage errors; ``missing`` is what a 404 means."""
    try:
        yield
    except _sdk_errors() as exc:
        raise _translate(exc, what=what, missing=missing) from exc


def _sdk_errors() -> tuple[type[Exception], ...]:
    import requests
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError
    from google.cloud.storage.exceptions import InvalidResponse

    return (GoogleAPIError, GoogleAuthError, InvalidResponse, requests.RequestException, ConnectionError)


def _translate(exc: Exception, *, what: str, missing: type[Exception]) -> Exception:
    """The storage error for an SDK exception; the message names the call and status, never credentials."""
    from google.api_core.exceptions import GoogleAPICallError
    from google.auth.exceptions import DefaultCredentialsError, RefreshError
    from google.cloud.storage.exceptions import InvalidResponse

    if isinstance(exc, DefaultCredentialsError | RefreshError):
        return base.StorageConfigError(f"{what}: no usable Google credentials ({type(exc).__name__})")
    status = 0
    if isinstance(exc, GoogleAPICallError):
        status = int(exc.code or 0)
    elif isinstance(exc, InvalidResponse):
        status = int(getattr(exc.response, "status_code", 0) or 0)
    message = f"{what}: HTTP {status}: {_first_line(exc)}" if status else f"{what}: {type(exc).__name__}"
    if status == 404:
        return missing(message)
    if status == 412:  # only sent for create-only puts (if_generation_match=0)
        return base.ObjectExistsError(message)
    if status in (400, 401, 403):  # 400: invalid bucket name or argument, fixed only by the user
        return base.StorageConfigError(message)
    if status == 0 or status >= 500 or status in (408, 429):
        return base.TransientStorageError(message)  # no status: connection refused/reset, timeout
    return base.StorageError(message)


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc).splitlines()[0][:200]


def from_url(location: str, params: dict[str, str]) -> GcsStorage:
    """``gs://bucket?endpoint=..&project=..``."""
    if not location:
        raise base.StorageConfigError("gs:// URL needs a bucket name")
    return GcsStorage(location, endpoint=params.get("endpoint") or None, project=params.get("project") or None)


__all__ = ["CHUNK_SIZE", "GcsStorage", "from_url"]
