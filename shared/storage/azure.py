"""Azure Blob Storage as a ``Storage``.

``put`` uploads a block blob with ``upload_blob(..., max_concurrency=)``: blocks of ``BLOCK_SIZE`` are
staged in parallel and the blob appears only when the block list is committed at the end. Blocks
staged by a failed put stay uncommitted, which Azure never lists or serves and discards after a week,
so a failure leaves nothing visible without any cleanup call.

Credentials: ``AZURE_STORAGE_CONNECTION_STRING`` when set (Azurite, shared keys); otherwise the
account (``account`` URL parameter or ``AZURE_STORAGE_ACCOUNT``) and endpoint (``endpoint`` parameter
or ``https://<account>.blob.core.windows.net``) with ``DefaultAzureCredential`` (AKS Workload
Identity). The SDK is imported, and the client built, on first use unless one is injected.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

from shared.storage import base  # the errors every adapter raises: base.ObjectNotFoundError, …
from shared.storage.base import ObjectInfo, OpenedRead, Retried, no_retries
from shared.storage.parts import BodyPieces, head_of_size, read_exactly
from shared.storage.streams import buffered_download

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient

# A blob holds at most 50,000 blocks, so the block size caps a streamed object: 8 MiB x 50,000 =
# 390 GiB. Memory is about BLOCK_SIZE x UPLOAD_THREADS (+1 block being read) = 40 MiB; measured
# here (400 MiB from a pipe to Azurite): peak RSS 105 MiB, of which 61 MiB is Python + the SDK.
BLOCK_SIZE = 8 * 1024 * 1024
# Parallel block uploads: enough to hide per-request latency; more adds memory, not throughput.
UPLOAD_THREADS = 4
# Objects up to this size (the manifest, the .sha1) go up in one Put Blob request instead of a
# staged block plus a commit; we read this much first to find out which case we are in.
SINGLE_PUT_SIZE = 4 * 1024 * 1024
# open_read fetches ranges of this size (the SDK's default first GET is 32 MiB, held in memory).
DOWNLOAD_CHUNK_SIZE = 4 * 1024 * 1024
# The SDK retries each request itself: RETRY_TOTAL more times, RETRY_BACKOFF_S +- RETRY_JITTER_S
# apart (whole seconds: the SDK's type), so a dead endpoint fails in ~3 s, at most 6 s. The SDK's
# default (exponential from 15 s, +-3 s jitter) hangs for a minute; whole-call retries come from
# ``shared.storage.retrying`` around the adapter.
RETRY_TOTAL = 3
RETRY_BACKOFF_S = 1
RETRY_JITTER_S = 1
# Connecting takes milliseconds; 10 s means the network is broken, not slow.
CONNECT_TIMEOUT_S = 10
# The longest wait for a byte of an answer (an 8 MiB block is answered once stored). 20 s without a
# byte means a stalled peer: a download is then resumed at its offset (shared/storage/resuming.py).
READ_TIMEOUT_S = 20
# Our retention modes (shared.storage.base.LOCK_MODES) in Azure's words.
_AZURE_MODES = {"GOVERNANCE": "Unlocked", "COMPLIANCE": "Locked"}

_CONFIG_CODES = {"ContainerNotFound", "AuthenticationFailed", "AuthorizationFailure",
                 "AuthorizationPermissionMismatch", "InvalidAuthenticationInfo", "AccountIsDisabled",
                 "InvalidResourceName", "InsufficientAccountPermissions"}


class AzureStorage:
    """One container. ``service`` may be injected; otherwise built on first use."""

    def __init__(self, container: str, *, service: BlobServiceClient | None = None,
                 connection_string: str | None = None, account_url: str | None = None) -> None:
        self.container = container
        self.url = f"azblob://{container}"
        self._services = base.LazyClient(service, functools.partial(_build_service, connection_string=connection_string,
                                                                    account_url=account_url))

    def put(self, key: str, stream: BinaryIO, *, if_absent: bool = False) -> int:
        written = 0

        def counted(first: bytes) -> Iterator[bytes]:  # the caller's stream errors propagate untouched
            nonlocal written
            chunk = first
            while chunk:
                written += len(chunk)
                yield chunk
                chunk = stream.read(BLOCK_SIZE)

        head = read_exactly(stream, SINGLE_PUT_SIZE + 1)
        # Bytes of known length up to SINGLE_PUT_SIZE: one request. Otherwise an iterator, which the
        # SDK reads front to back without seeking and stages block by block.
        data: bytes | Iterator[bytes] = head if len(head) <= SINGLE_PUT_SIZE else counted(head)
        with _translated(f"upload to {self.url}/{key}", missing=base.StorageConfigError):
            # overwrite=False sends If-None-Match: * (409 BlobAlreadyExists if the key exists).
            self._container.upload_blob(key, data, overwrite=not if_absent, max_concurrency=UPLOAD_THREADS)
        return len(head) if isinstance(data, bytes) else written

    def put_head_last(self, key: str, body: BinaryIO, *, head_size: int, head: Callable[[], bytes],
                      retried: Retried = no_retries) -> int:
        """Stage the body's blocks while ``body`` is read, the head's block last, commit head first."""
        from azure.storage.blob import BlobBlock

        what = f"upload to {self.url}/{key}"
        blob = self._container.get_blob_client(key)
        run = uuid.uuid4().hex  # block ids are per blob: never reuse a failed earlier attempt's blocks
        pieces: BodyPieces[str] = BodyPieces(piece_size=BLOCK_SIZE, held_bytes=0, threads=UPLOAD_THREADS,
                                             first_number=1)
        # A failure leaves only uncommitted blocks, which Azure never serves and discards after a week.
        block_ids = pieces.send_all(body, lambda number, data: retried(
            f"block {number} of {what}", lambda: _stage(blob, f"{run}-{number:08d}", data, what)))
        first = head_of_size(head, head_size)
        head_id = retried(f"block 0 of {what}", lambda: _stage(blob, f"{run}-{0:08d}", first, what))
        blocks = [BlobBlock(block_id=i) for i in (head_id, *block_ids)]
        retried(f"committing {what}", lambda: _commit(blob, blocks, what))
        return head_size + pieces.body_bytes

    def open_read(self, key: str) -> BinaryIO:
        return self.open_read_from(key, offset=0, version=None).stream

    def open_read_from(self, key: str, *, offset: int, version: str | None) -> OpenedRead:
        from azure.core import MatchConditions

        what = f"read {self.url}/{key}"
        pinned: dict[str, Any] = {"etag": version, "match_condition": MatchConditions.IfNotModified} if version else {}
        with _translated(what, missing=base.ObjectNotFoundError):
            # Fetches the first range now, so a missing blob fails here; later ranges are pinned to the
            # first response's ETag, so an overwrite meanwhile fails (base.ObjectChangedError) instead of mixing
            # two objects.
            downloader = self._container.download_blob(key, offset=offset or None, max_concurrency=1, **pinned)
        stream = buffered_download(downloader, guard=lambda: _translated(what, missing=base.ObjectNotFoundError))
        # downloader.size is what this (ranged) download returns: the object's size minus the offset.
        return OpenedRead(stream=stream, version=str(downloader.properties.etag), size=offset + int(downloader.size))

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        with _translated(f"list {self.url}/{prefix}", missing=base.StorageConfigError):
            for blob in self._container.list_blobs(name_starts_with=prefix):
                yield ObjectInfo(key=blob.name, size=int(blob.size), modified=blob.last_modified)

    def list_folders(self, prefix: str) -> Iterator[str]:
        with _translated(f"list {self.url}/{prefix}", missing=base.StorageConfigError):
            for item in self._container.walk_blobs(name_starts_with=prefix, delimiter="/"):
                if item.name.endswith("/"):  # a BlobPrefix; the rest are blobs directly under prefix
                    yield item.name[len(prefix):].rstrip("/")

    def delete(self, key: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with _translated(f"delete {self.url}/{key}", missing=base.StorageConfigError):
            try:
                self._container.delete_blob(key, delete_snapshots="include")
            except ResourceNotFoundError as exc:
                if getattr(exc, "error_code", None) != "BlobNotFound":
                    raise  # ContainerNotFound

    # Object lock (``LockingStorage``): a version-level immutability policy per blob, which needs
    # version-level immutability support on the account or container (Terraform: the account's
    # ``immutability_policy``). Azurite implements neither (its answer is "not implemented yet").

    def check_object_lock(self) -> None:
        with _translated(f"read the settings of {self.url}", missing=base.StorageConfigError):
            enabled = self._container.get_container_properties().immutable_storage_with_versioning_enabled
        if not enabled:
            raise base.ObjectLockUnsupportedError(
                f"{self.url} has no version-level immutability (Terraform: the storage account's "
                "immutability_policy); unset BACKUP_LOCK_DAYS or use such a container"
            )

    def set_retention(self, key: str, *, until: datetime, mode: str) -> None:
        from azure.storage.blob import ImmutabilityPolicy

        policy = ImmutabilityPolicy(expiry_time=until, policy_mode=_AZURE_MODES[mode])
        with _translated(f"set retention on {self.url}/{key}", missing=base.ObjectNotFoundError):
            self._container.get_blob_client(key).set_immutability_policy(policy)

    def retained_until(self, key: str) -> datetime | None:
        with _translated(f"read retention of {self.url}/{key}", missing=base.ObjectNotFoundError):
            props = self._container.get_blob_client(key).get_blob_properties()
        if props.has_legal_hold:
            return datetime.max.replace(tzinfo=UTC)
        until = props.immutability_policy.expiry_time if props.immutability_policy else None
        return until.astimezone(UTC) if until is not None else None

    @property
    def _container(self) -> ContainerClient:
        try:
            with _translated(f"connect to {self.url}", missing=base.StorageConfigError):
                service = self._services.get()
        except ValueError:  # the SDK's words for a malformed connection string; never echo it
            raise base.StorageConfigError("AZURE_STORAGE_CONNECTION_STRING is malformed") from None
        return service.get_container_client(self.container)


def _build_service(*, connection_string: str | None, account_url: str | None) -> BlobServiceClient:
    from azure.storage.blob import BlobServiceClient, LinearRetry

    tuning: dict[str, Any] = {
        "max_block_size": BLOCK_SIZE,
        "max_single_put_size": SINGLE_PUT_SIZE,
        "max_single_get_size": DOWNLOAD_CHUNK_SIZE,
        "max_chunk_get_size": DOWNLOAD_CHUNK_SIZE,
        "retry_policy": LinearRetry(
            backoff=RETRY_BACKOFF_S, retry_total=RETRY_TOTAL, random_jitter_range=RETRY_JITTER_S
        ),
        "connection_timeout": CONNECT_TIMEOUT_S,
        "read_timeout": READ_TIMEOUT_S,
    }
    if connection_string:
        return BlobServiceClient.from_connection_string(connection_string, **tuning)
    if not account_url:
        raise base.StorageConfigError("azblob:// storage needs a connection string or an account endpoint")
    from azure.identity import DefaultAzureCredential

    return BlobServiceClient(account_url=account_url, credential=DefaultAzureCredential(), **tuning)


def _stage(blob: BlobClient, block_id: str, data: bytes, what: str) -> str:
    with _translated(what, missing=base.StorageConfigError):
        blob.stage_block(block_id, data, length=len(data))
    return block_id


def _commit(blob: BlobClient, blocks: list[Any], what: str) -> None:
    with _translated(what, missing=base.StorageConfigError):
        blob.commit_block_list(blocks)



@contextlib.contextmanager
def _translated(what: str, *, missing: type[Exception]) -> Iterator[None]:
    """Re-raise SDK exceptions from the block as storage errors; ``missing`` is what a plain 404 means."""
    from azure.core.exceptions import AzureError

    try:
        yield
    except AzureError as exc:
        raise _translate(exc, what=what, missing=missing) from exc


def _translate(exc: Exception, *, what: str, missing: type[Exception]) -> Exception:
    """The storage error for an SDK exception; the message names the call and error code, never a key."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, ClientAuthenticationError):  # also azure.identity's CredentialUnavailableError
        return base.StorageConfigError(f"{what}: authentication failed ({type(exc).__name__})")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return base.TransientStorageError(f"{what}: {type(exc).__name__}")
    status = int(getattr(exc, "status_code", None) or 0) if isinstance(exc, HttpResponseError) else 0
    if isinstance(exc, HttpResponseError) and not status:
        # No HTTP status: the answer broke off while streaming (IncompleteRead after the SDK's own retries).
        return base.TransientStorageError(f"{what}: {type(exc).__name__}: the download broke off")
    error_code = getattr(exc, "error_code", None)
    code = str(getattr(error_code, "value", error_code) or "")  # the SDK gives an enum or a string
    message = f"{what}: {code or type(exc).__name__} (HTTP {status})"
    if code == "ConditionNotMet" and what.startswith("read "):  # reads are pinned to the first ETag
        return base.ObjectChangedError(f"{message}: the object changed while it was being read")
    if code in _CONFIG_CODES or status in (401, 403):
        return base.StorageConfigError(message)
    if code in ("BlobAlreadyExists", "ConditionNotMet"):  # a create-only put (overwrite=False) lost
        return base.ObjectExistsError(message)
    if code == "BlobNotFound":
        return base.ObjectNotFoundError(message)
    if status == 404:
        return missing(message)
    if status >= 500 or status in (408, 429) or code in ("ServerBusy", "OperationTimedOut"):
        return base.TransientStorageError(message)
    return base.StorageError(message)


def from_url(location: str, params: dict[str, str]) -> AzureStorage:
    """``azblob://container?account=..&endpoint=..``; see the module docstring for credentials."""
    if not location:
        raise base.StorageConfigError("azblob:// URL needs a container name")
    connection_string = os.environ.get("AZURE_STORAGE_CONNECTION_STRING") or None
    if connection_string:
        return AzureStorage(location, connection_string=connection_string)
    account = params.get("account")  # shared.config adds it from AZURE_STORAGE_ACCOUNT
    endpoint = params.get("endpoint") or (f"https://{account}.blob.core.windows.net" if account else None)
    if not endpoint:
        raise base.StorageConfigError(
            "azblob:// storage needs AZURE_STORAGE_CONNECTION_STRING, or an account "
            "(AZURE_STORAGE_ACCOUNT or ?account=) for workload identity"
        )
    return AzureStorage(location, account_url=endpoint)


__all__ = ["BLOCK_SIZE", "AzureStorage", "from_url"]
