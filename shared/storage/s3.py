"""Amazon S3 (and S3-compatible endpoints) as a ``Storage``.

``put`` streams through boto3's managed transfer (s3transfer): the first ``PART_SIZE`` bytes decide
between one PutObject and a concurrent multipart upload, and s3transfer aborts the multipart upload
when a part, the completion or the caller's stream fails, so a failed put leaves no object behind.

Two s3transfer habits shape the wrapper around the caller's stream:

* it decides "multipart or not" from a single ``read(threshold)``; a raw pipe answers with a short
  read (64 KiB) and the whole upload would silently become one in-memory PutObject. A
  ``io.BufferedReader`` loops until it has the full amount.
* it seeks and tells seekable streams to cut parts; our wrapper says "not seekable", so the caller's
  stream is read once, front to back, and a pipe works like a file.

The client is built lazily (``boto3`` import costs ~0.3 s of cold start) unless one is injected.
Endpoint: the ``endpoint`` URL parameter, else botocore's own ``AWS_ENDPOINT_URL`` handling.
Credentials: botocore's default chain (env, EKS Pod Identity, IRSA, instance profile).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from shared.readers import PullReader
from shared.storage import base  # the errors every adapter raises: base.ObjectNotFoundError, …
from shared.storage.base import ObjectInfo, OpenedRead, Retried, no_retries
from shared.storage.parts import BodyPieces, head_of_size
from shared.storage.streams import buffered_download

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3 allows 10,000 parts per upload and the size of a streamed dump is unknown up front, so the part
# size caps the largest object: 16 MiB x 10,000 = 156 GiB of compressed dump (5 MiB would cap it at
# 48 GiB). Memory is the price: every part in flight is held in memory, about twice while it is
# checksummed and sent. Measured here (400 MiB from a pipe to moto): peak RSS 140-156 MiB, of which 69
# MiB is Python + boto3 before the upload; 4 parts in flight gave 177-191 MiB. The agent targets <= 200 MB.
PART_SIZE = 16 * 1024 * 1024
# Parallel part uploads: enough to hide per-request latency to S3 (3 x 16 MiB in flight); more adds
# memory, not throughput, once the compressor upstream is the bottleneck.
UPLOAD_THREADS = 3
# Parts read ahead, counting those in flight: one per thread, so reading never runs ahead of uploads.
MAX_BUFFERED_PARTS = UPLOAD_THREADS
# ``put_head_last`` sends the head as part 1 with this much of the body: S3 refuses parts below 5 MiB
# unless they are the last, and the body's first bytes wait in memory until the head is known.
HEAD_PART_BODY_BYTES = 8 * 1024 * 1024
# botocore's own per-request attempts (standard mode: exponential backoff with jitter, ~3 s in total).
# Modest on purpose: whole-call retries come from ``shared.storage.retrying`` around the adapter, and
# a dead endpoint must fail within seconds. AWS_MAX_ATTEMPTS in the environment overrides it.
DEFAULT_MAX_ATTEMPTS = 3
# A TCP connect to S3 takes milliseconds; 10 s means the network is broken, not slow.
CONNECT_TIMEOUT_S = 10
# The longest wait for a byte (botocore's socket read timeout; S3 answers a part upload as soon as the
# part is stored, and keeps a long CompleteMultipartUpload alive with whitespace). 20 s without a byte
# means a stalled peer: a download is then resumed at its offset (shared/storage/resuming.py) instead
# of waiting a minute for nothing.
READ_TIMEOUT_S = 20

_CONFIG_CODES = {
    "NoSuchBucket", "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "InvalidToken", "ExpiredToken", "TokenRefreshRequired", "AuthorizationHeaderMalformed",
    "PermanentRedirect", "InvalidBucketName", "AccountProblem",
}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_TRANSIENT_CODES = {
    "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
    "InternalError", "ServiceUnavailable", "503", "500",
}


class S3Storage:
    """One bucket. ``client`` may be injected (tests, Lambda reuse); otherwise built on first use."""

    def __init__(self, bucket: str, *, client: S3Client | None = None, region: str | None = None,
                 endpoint: str | None = None, max_attempts: int | None = None) -> None:
        self.bucket = bucket
        self.url = f"s3://{bucket}"
        self._clients = base.LazyClient(client, functools.partial(_build_client, region=region, endpoint=endpoint,
                                                                  max_attempts=max_attempts))

    def put(self, key: str, stream: BinaryIO, *, if_absent: bool = False) -> int:
        if if_absent:
            return self._put_if_absent(key, stream)
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(
            multipart_threshold=PART_SIZE,
            multipart_chunksize=PART_SIZE,
            max_concurrency=UPLOAD_THREADS,
        )
        # s3transfer's own setting; boto3's constructor does not expose it (its default 10 = 160 MiB).
        config.max_in_memory_upload_chunks = MAX_BUFFERED_PARTS
        source = _OneShotReader(stream)
        try:
            self._client.upload_fileobj(io.BufferedReader(source), self.bucket, key, Config=config)
        except _sdk_errors() as exc:  # the caller's own stream errors propagate untouched
            raise _translate(exc, what=f"upload to {self.url}/{key}") from exc
        return source.count

    def put_head_last(self, key: str, body: BinaryIO, *, head_size: int, head: Callable[[], bytes],
                      retried: Retried = no_retries) -> int:
        """Parts 2.. while ``body`` is read, part 1 (head + the body's first bytes) last, then complete."""
        what = f"upload to {self.url}/{key}"
        upload_id = retried(f"starting {what}", lambda: self._start_multipart(key))
        pieces: BodyPieces[dict[str, Any]] = BodyPieces(
            piece_size=PART_SIZE, held_bytes=HEAD_PART_BODY_BYTES, threads=UPLOAD_THREADS, first_number=2)
        try:
            parts = pieces.send_all(body, lambda number, data: retried(
                f"part {number} of {what}", lambda: self._upload_part(key, upload_id, number, data)))
            first = head_of_size(head, head_size) + pieces.held
            parts.insert(0, retried(f"part 1 of {what}", lambda: self._upload_part(key, upload_id, 1, first)))
            retried(f"completing {what}", lambda: self._complete(key, upload_id, parts))
        except BaseException:
            with contextlib.suppress(Exception):  # the original failure matters; S3 lifecycle rules reap leftovers
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return head_size + pieces.body_bytes

    def _start_multipart(self, key: str) -> str:
        with _translated(f"upload to {self.url}/{key}"):
            return self._client.create_multipart_upload(Bucket=self.bucket, Key=key, ChecksumAlgorithm="CRC32")[
                "UploadId"]

    def _complete(self, key: str, upload_id: str, parts: list[dict[str, Any]]) -> None:
        with _translated(f"upload to {self.url}/{key}"):
            self._client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        with _translated(f"upload part {number} to {self.url}/{key}"):
            answer = self._client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                              Body=data, ChecksumAlgorithm="CRC32")
        return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": answer["ChecksumCRC32"]}

    def _put_if_absent(self, key: str, stream: BinaryIO) -> int:
        # s3transfer does not pass IfNoneMatch through, so create-only objects (small by contract)
        # go up in one PutObject; S3 answers 412 if the key exists, 409 if another such put races.
        data = stream.read()
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except _sdk_errors() as exc:
            raise _translate(exc, what=f"create {self.url}/{key}") from exc
        return len(data)

    def open_read(self, key: str) -> BinaryIO:
        return self.open_read_from(key, offset=0, version=None).stream

    def open_read_from(self, key: str, *, offset: int, version: str | None) -> OpenedRead:
        what = f"read {self.url}/{key}"
        extra = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            # If-Match on the first answer's ETag: a replaced object answers 412 instead of other bytes.
            answer = self._client.get_object(Bucket=self.bucket, Key=key, **extra,
                                             **({"IfMatch": version} if version else {}))
        except _sdk_errors() as exc:
            error = _translate(exc, what=what)
            if version and isinstance(error, base.ObjectExistsError):  # 412 PreconditionFailed: If-Match failed
                raise base.ObjectChangedError(f"{what}: the object changed while it was being read") from exc
            raise error from exc
        size = int(str(answer.get("ContentRange", "")).rpartition("/")[2] or answer["ContentLength"])
        stream = buffered_download(answer["Body"], guard=lambda: _translated(what))
        return OpenedRead(stream=stream, version=str(answer["ETag"]), size=size)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ObjectInfo(key=item["Key"], size=item["Size"], modified=item["LastModified"])
        except _sdk_errors() as exc:
            raise _translate(exc, what=f"list {self.url}/{prefix}") from exc

    def list_folders(self, prefix: str) -> Iterator[str]:
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix,
                                                                           Delimiter="/")
            for page in pages:
                for item in page.get("CommonPrefixes", []):
                    yield item["Prefix"][len(prefix):].rstrip("/")
        except _sdk_errors() as exc:
            raise _translate(exc, what=f"list {self.url}/{prefix}") from exc

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)  # 204 for a missing key too
        except _sdk_errors() as exc:
            raise _translate(exc, what=f"delete {self.url}/{key}") from exc

    # Object lock (``LockingStorage``). Retention is set on each object after its upload: s3transfer
    # passes the lock headers to CreateMultipartUpload on AWS, but moto ignores them there, and one
    # PutObjectRetention call behaves the same for a single put and a multipart upload.

    def check_object_lock(self) -> None:
        from botocore.exceptions import ClientError

        try:
            answer = self._client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ObjectLockConfigurationNotFoundError":
                raise _translate(exc, what=f"read the object lock configuration of {self.url}") from exc
            answer = {}
        except _sdk_errors() as exc:
            raise _translate(exc, what=f"read the object lock configuration of {self.url}") from exc
        if answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise base.ObjectLockUnsupportedError(
                f"{self.url} has no S3 Object Lock (it can only be enabled on a versioned bucket: Terraform "
                "object_lock_enabled = true); unset BACKUP_LOCK_DAYS or use a bucket with Object Lock"
            )

    def set_retention(self, key: str, *, until: datetime, mode: str) -> None:
        try:
            self._client.put_object_retention(
                Bucket=self.bucket, Key=key, Retention={"Mode": mode, "RetainUntilDate": until}
            )
        except _sdk_errors() as exc:
            raise _translate(exc, what=f"set retention on {self.url}/{key}") from exc

    def retained_until(self, key: str) -> datetime | None:
        # head_object, not GetObjectRetention: same answer on AWS, and moto 5.2 answers the latter with 500.
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except _sdk_errors() as exc:
            raise _translate(exc, what=f"read retention of {self.url}/{key}") from exc
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            return datetime.max.replace(tzinfo=UTC)
        until = head.get("ObjectLockRetainUntilDate")
        return until.astimezone(UTC) if until is not None else None

    @property
    def _client(self) -> S3Client:
        try:
            return self._clients.get()
        except ValueError as exc:  # botocore's "Invalid endpoint: ..." for a malformed endpoint URL
            raise base.StorageConfigError(f"{self.url}: {exc}") from None


def _build_client(*, region: str | None, endpoint: str | None, max_attempts: int | None) -> S3Client:
    import boto3
    from botocore.config import Config

    # AWS_MAX_ATTEMPTS (botocore's own variable) wins over our default unless the caller chose a number.
    attempts = max_attempts or (None if "AWS_MAX_ATTEMPTS" in os.environ else DEFAULT_MAX_ATTEMPTS)
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts} if attempts else {"mode": "standard"},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
    )
    # A private session: boto3's module-level default session is not thread-safe to create.
    session = boto3.session.Session()
    return session.client("s3", region_name=region, endpoint_url=endpoint, config=config)


class _OneShotReader(PullReader):
    """The caller's stream as a raw, non-seekable, counting stream (see the module docstring)."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.count = 0

    def _pull(self, size: int) -> bytes:
        data = self._inner.read(size)
        self.count += len(data)
        return data


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """Re-raise SDK exceptions from the block as storage errors."""
    try:
        yield
    except _sdk_errors() as exc:
        raise _translate(exc, what=what) from exc


def _sdk_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError
    from urllib3.exceptions import HTTPError

    # urllib3 errors escape botocore while a streamed body is being read.
    return (BotoCoreError, ClientError, HTTPError)


def _translate(exc: Exception, *, what: str) -> Exception:
    """The storage error for an SDK exception; the message names the call, never credentials."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        # S3's own message ("The specified bucket does not exist") helps the user; it holds no secret.
        return _by_code(code, status, what=what, detail=str(error.get("Message", "")))
    config_types = (bx.NoCredentialsError, bx.PartialCredentialsError, bx.CredentialRetrievalError,
                    bx.NoRegionError, bx.InvalidEndpointConfigurationError)
    if isinstance(exc, config_types):
        return base.StorageConfigError(f"{what}: {exc}")
    transient_types = (bx.ConnectionError, bx.HTTPClientError, bx.ResponseStreamingError)
    if isinstance(exc, transient_types) or not isinstance(exc, bx.BotoCoreError):
        return base.TransientStorageError(f"{what}: {type(exc).__name__}: {exc}")
    return base.StorageError(f"{what}: {exc}")


def _by_code(code: str, status: int, *, what: str, detail: str) -> Exception:
    message = f"{what}: {code or 'error'} (HTTP {status}){': ' + detail if detail else ''}"
    if code in ("PreconditionFailed", "ConditionalRequestConflict"):  # a create-only put lost the race
        return base.ObjectExistsError(message)
    if code in _CONFIG_CODES or status in (401, 403):
        return base.StorageConfigError(message)
    if code in _MISSING_CODES or status == 404:
        return base.ObjectNotFoundError(message)
    if code in _TRANSIENT_CODES or status >= 500 or status in (408, 429):
        return base.TransientStorageError(message)
    return base.StorageError(message)


def from_url(location: str, params: dict[str, str]) -> S3Storage:
    """``s3://bucket?region=..&endpoint=..``; without ``region``, botocore's chain (shared.config adds
    ``region`` from AWS_REGION)."""
    if not location:
        raise base.StorageConfigError("s3:// URL needs a bucket name")
    region = params.get("region") or None
    return S3Storage(location, region=region, endpoint=params.get("endpoint") or None)


__all__ = ["PART_SIZE", "S3Storage", "from_url"]
