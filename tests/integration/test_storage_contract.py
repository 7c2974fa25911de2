"""One contract suite for every storage backend, each against its real local server.

What ``shared.storage.base.Storage`` promises, checked the way a user would: a large streamed upload
from a pipe comes back byte-identical, a failed upload leaves nothing to list or read, listing
respects prefixes, deletes are idempotent, and each kind of failure maps to the error class that
decides the exit code and whether to retry.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from agent.common.catalog import scan_backups
from shared.errors import BadInputError
from shared.retry import RetryPolicy
from shared.storage import (
    FolderListing,
    ObjectInfo,
    ObjectNotFoundError,
    Storage,
    StorageConfigError,
    TransientStorageError,
    open_storage,
)
from shared.storage.replayable import ReopeningReader
from shared.storage.retrying import RetryingStorage
from tests.support.storage_servers import FaultProxy, StorageBackend, dead_endpoint, unique_bucket_name

MiB = 1024 * 1024
# >= 50 MB, and not a multiple of any part/block/chunk size, so the last part is a short one.
LARGE = 52 * MiB + 12345
CLOUD = ["s3", "gcs", "azure"]


def pseudo_random_chunks(total: int, *, seed: int = 7) -> Iterator[bytes]:
    """Incompressible, reproducible bytes in 1 MiB chunks (so a retry can produce them again)."""
    rng = random.Random(seed)
    while total > 0:
        size = min(MiB, total)
        total -= size
        yield rng.randbytes(size)


class PipeSource:
    """A real OS pipe fed by a thread: the reader is an unbuffered FileIO with short reads, no seek."""

    def __init__(self, total: int) -> None:
        read_fd, write_fd = os.pipe()
        self.reader: BinaryIO = os.fdopen(read_fd, "rb", buffering=0)
        self._writer = os.fdopen(write_fd, "wb", buffering=0)
        self._sha1 = hashlib.sha1()
        self._thread = threading.Thread(target=self._feed, args=(total,), daemon=True)
        self._thread.start()

    def _feed(self, total: int) -> None:
        with self._writer:
            for chunk in pseudo_random_chunks(total):
                self._sha1.update(chunk)
                self._writer.write(chunk)

    def sha1(self) -> str:
        self._thread.join(timeout=60)
        return self._sha1.hexdigest()


class FailingStream(io.RawIOBase):
    """Yields ``good_bytes`` of data, then fails the way a dying ``mariadb-dump`` pipe would."""

    def __init__(self, good_bytes: int) -> None:
        self._chunks = pseudo_random_chunks(good_bytes)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = next(self._chunks, None)
        if chunk is None:
            raise OSError("dump died mid-stream")
        chunk = chunk[: len(buffer)]
        buffer[: len(chunk)] = chunk
        return len(chunk)


def read_sha1(storage: Storage, key: str) -> tuple[str, int]:
    digest, size = hashlib.sha1(), 0
    with storage.open_read(key) as stream:
        while chunk := stream.read(MiB):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def keys(storage: Storage, prefix: str = "") -> set[str]:
    return {info.key for info in storage.list(prefix)}


def test_streamed_upload_from_a_pipe_reads_back_identical(storage_backend: StorageBackend) -> None:
    source = PipeSource(LARGE)
    started = time.monotonic()
    stored = storage_backend.storage.put("db/20260101T000000Z/big.tar.gz", source.reader)
    upload_s = time.monotonic() - started

    assert stored == LARGE
    started = time.monotonic()
    assert read_sha1(storage_backend.storage, "db/20260101T000000Z/big.tar.gz") == (source.sha1(), LARGE)
    download_s = time.monotonic() - started
    [info] = list(storage_backend.storage.list("db/"))
    assert (info.key, info.size) == ("db/20260101T000000Z/big.tar.gz", LARGE)
    assert abs(info.modified - datetime.now(UTC)) < timedelta(minutes=5)
    print(f"\n{storage_backend.name}: put {LARGE / MiB:.0f} MiB in {upload_s:.2f} s, read in {download_s:.2f} s")


@pytest.mark.parametrize("size", [0, 1, 5 * MiB + 1])
def test_small_and_empty_objects_round_trip(storage_backend: StorageBackend, size: int) -> None:
    data = b"".join(pseudo_random_chunks(size))

    assert storage_backend.storage.put("small/object", io.BytesIO(data)) == size
    with storage_backend.storage.open_read("small/object") as stream:
        assert stream.read() == data


def test_put_overwrites_an_existing_key(storage_backend: StorageBackend) -> None:
    storage_backend.storage.put("k", io.BytesIO(b"first version"))
    storage_backend.storage.put("k", io.BytesIO(b"second"))

    with storage_backend.storage.open_read("k") as stream:
        assert stream.read() == b"second"


def test_failed_put_leaves_nothing_visible(storage_backend: StorageBackend) -> None:
    # 40 MiB: several S3 parts / Azure blocks / GCS chunks are already uploaded when the stream dies.
    with pytest.raises(OSError, match="dump died mid-stream"):
        storage_backend.storage.put("db/failed/big.tar.gz", io.BufferedReader(FailingStream(40 * MiB)))

    assert keys(storage_backend.storage) == set()
    with pytest.raises(ObjectNotFoundError):
        storage_backend.storage.open_read("db/failed/big.tar.gz")


def test_failed_put_keeps_an_earlier_object_intact(storage_backend: StorageBackend) -> None:
    storage_backend.storage.put("k", io.BytesIO(b"the good copy"))

    with pytest.raises(OSError, match="dump died mid-stream"):
        storage_backend.storage.put("k", io.BufferedReader(FailingStream(20 * MiB)))

    with storage_backend.storage.open_read("k") as stream:
        assert stream.read() == b"the good copy"


@pytest.mark.parametrize("storage_backend", ["s3"], indirect=True)
def test_s3_failed_put_aborts_its_multipart_upload(storage_backend: StorageBackend) -> None:
    with pytest.raises(OSError, match="dump died mid-stream"):
        storage_backend.storage.put("db/failed/big.tar.gz", io.BufferedReader(FailingStream(40 * MiB)))

    client = storage_backend.server.client()  # type: ignore[union-attr]
    assert client.list_multipart_uploads(Bucket=storage_backend.bucket).get("Uploads", []) == []


@pytest.mark.parametrize("storage_backend", ["s3"], indirect=True)
def test_s3_large_put_is_a_multipart_upload(storage_backend: StorageBackend) -> None:
    from shared.storage.s3 import PART_SIZE

    storage_backend.storage.put("big", PipeSource(LARGE).reader)

    etag = storage_backend.server.client().head_object(Bucket=storage_backend.bucket, Key="big")["ETag"]  # type: ignore[union-attr]
    # A multipart object's ETag ends in "-<number of parts>": proof the pipe was not read into one PUT.
    assert etag.strip('"').endswith(f"-{math.ceil(LARGE / PART_SIZE)}")


@pytest.mark.parametrize("storage_backend", ["azure"], indirect=True)
def test_azure_large_put_is_committed_in_blocks(storage_backend: StorageBackend) -> None:
    from shared.storage.azure import BLOCK_SIZE

    storage_backend.storage.put("big", PipeSource(LARGE).reader)

    blob = storage_backend.server.client().get_blob_client(storage_backend.bucket, "big")  # type: ignore[union-attr]
    committed, _uncommitted = blob.get_block_list("committed")
    assert len(committed) == math.ceil(LARGE / BLOCK_SIZE)


def test_list_filters_by_prefix(storage_backend: StorageBackend) -> None:
    for key in ["a/1", "a/2", "a/b/3", "ab/4", "b/5"]:
        storage_backend.storage.put(key, io.BytesIO(key.encode()))

    assert keys(storage_backend.storage, "a/") == {"a/1", "a/2", "a/b/3"}
    assert keys(storage_backend.storage, "a") == {"a/1", "a/2", "a/b/3", "ab/4"}
    assert keys(storage_backend.storage, "a/b/") == {"a/b/3"}
    assert keys(storage_backend.storage, "nothing/") == set()
    assert {i.key: i.size for i in storage_backend.storage.list("")} == {
        "a/1": 3, "a/2": 3, "a/b/3": 5, "ab/4": 4, "b/5": 3}


def test_list_folders_names_each_folder_once_without_listing_inside(storage_backend: StorageBackend) -> None:
    for key in ["p/20260101T000000Z/manifest.json", "p/20260102T000000Z/x/y", "p/20260102T000000Z/z",
                "p/binlogs/index/000000000001.json", "p/top", "pq/1/2", "other/3/4"]:
        storage_backend.storage.put(key, io.BytesIO(b"data"))
    retrying = RetryingStorage(storage_backend.storage, policy=RetryPolicy(attempts=2, max_seconds=5))

    for storage in (storage_backend.storage, retrying):
        assert isinstance(storage, FolderListing)
        assert sorted(storage.list_folders("p/")) == ["20260101T000000Z", "20260102T000000Z", "binlogs"]
        assert sorted(storage.list_folders("p/20260102T000000Z/")) == ["x"]
        assert sorted(storage.list_folders("")) == ["other", "p", "pq"]
        assert list(storage.list_folders("nothing/")) == []


def test_the_catalog_never_lists_the_binlog_archive_beside_the_backups(storage_backend: StorageBackend) -> None:
    for backup_id in ("20260101T000000Z", "20260102T000000Z"):
        storage_backend.storage.put(f"p/{backup_id}/part", io.BytesIO(b"data"))
    for seq in range(3):
        storage_backend.storage.put(f"p/binlogs/index/{seq:012d}.json", io.BytesIO(b"{}"))
    listed: list[str] = []
    inner_list = storage_backend.storage.list

    def recording_list(prefix: str) -> Iterator[ObjectInfo]:
        listed.append(prefix)
        return inner_list(prefix)

    storage_backend.storage.list = recording_list  # type: ignore[method-assign]  # records what is listed

    entries = scan_backups(storage_backend.storage, prefix="p")

    assert [(e.backup_id, e.state, [o.key for o in e.objects]) for e in entries] == [
        ("20260102T000000Z", "incomplete", ["p/20260102T000000Z/part"]),
        ("20260101T000000Z", "incomplete", ["p/20260101T000000Z/part"])]
    assert listed == ["p/2026010"]  # what both ids share: not p/, so never p/binlogs/


def test_delete_is_idempotent(storage_backend: StorageBackend) -> None:
    storage_backend.storage.put("x/gone", io.BytesIO(b"data"))
    storage_backend.storage.put("x/kept", io.BytesIO(b"data"))

    storage_backend.storage.delete("x/gone")
    storage_backend.storage.delete("x/gone")
    storage_backend.storage.delete("x/never-existed")

    assert keys(storage_backend.storage) == {"x/kept"}
    with pytest.raises(ObjectNotFoundError):
        storage_backend.storage.open_read("x/gone")


def test_open_read_of_a_missing_key_is_object_not_found(storage_backend: StorageBackend) -> None:
    with pytest.raises(ObjectNotFoundError) as caught:
        storage_backend.storage.open_read("no/such/key")
    assert "no/such/key" in str(caught.value)


def test_missing_bucket_is_a_config_error_on_list(storage_backend: StorageBackend) -> None:
    missing = open_storage(storage_backend.url_for(unique_bucket_name()))

    with pytest.raises(StorageConfigError) as caught:
        list(missing.list(""))
    assert isinstance(caught.value, BadInputError)  # exit 2, never retried


@pytest.mark.parametrize("storage_backend", CLOUD, indirect=True)
def test_put_to_a_missing_bucket_is_a_config_error(storage_backend: StorageBackend) -> None:
    missing = open_storage(storage_backend.url_for(unique_bucket_name()))

    with pytest.raises(StorageConfigError):
        missing.put("k", PipeSource(20 * MiB).reader)


@pytest.mark.parametrize("storage_backend", CLOUD, indirect=True)
def test_unreachable_endpoint_is_transient_and_fails_fast(
    storage_backend: StorageBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in storage_backend.server.env_for(dead_endpoint()).items():  # type: ignore[union-attr]
        monkeypatch.setenv(name, value)
    storage = open_storage(storage_backend.url)
    calls: list[Callable[[], object]] = [
        lambda: list(storage.list("")),
        lambda: storage.open_read("k"),
        lambda: storage.put("k", io.BytesIO(b"data")),
        lambda: storage.delete("k"),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(TransientStorageError):
            call()
        elapsed = time.monotonic() - started
        print(f"\n{storage_backend.name}: unreachable endpoint failed in {elapsed:.1f} s")
        assert elapsed < 15  # the SDK's own retries are short; ours wrap them


@pytest.mark.parametrize("storage_backend", ["s3"], indirect=True)
def test_retrying_storage_rides_out_connection_resets(
    storage_backend: StorageBackend, fault_proxy: Callable[[int], FaultProxy], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage_backend.storage.put("db/obj", io.BytesIO(b"payload"))
    proxy = fault_proxy(storage_backend.server.port)  # type: ignore[union-attr]
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # no SDK-level retry: every reset reaches our layer
    caplog.set_level(logging.WARNING, logger="mariadb_ha_backup.storage")

    def through_proxy() -> RetryingStorage:  # a new client each time: no kept-alive connection to reuse
        return RetryingStorage(open_storage(f"{storage_backend.url}?endpoint={proxy.endpoint}"),
                               policy=RetryPolicy(attempts=4, max_seconds=60))

    proxy.reset_next(2)
    assert keys(through_proxy(), "db/") == {"db/obj"}
    proxy.reset_next(2)
    with through_proxy().open_read("db/obj") as stream:
        assert stream.read() == b"payload"

    retries = [r for r in caplog.records if r.name == "mariadb_ha_backup.storage"]
    assert len(retries) == 4 and all(r.levelno == logging.WARNING for r in retries)
    assert not any("testing" in r.getMessage() for r in retries)  # the (dummy) secret key never logged


@pytest.mark.parametrize("storage_backend", ["s3"], indirect=True)
def test_retrying_storage_never_retries_config_or_missing(
    storage_backend: StorageBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mariadb_ha_backup.storage")
    storage = RetryingStorage(storage_backend.storage, policy=RetryPolicy(attempts=5, max_seconds=60))
    missing_bucket = RetryingStorage(open_storage(storage_backend.url_for(unique_bucket_name())),
                                     policy=RetryPolicy(attempts=5, max_seconds=60))

    with pytest.raises(ObjectNotFoundError):
        storage.open_read("no/such/key")
    with pytest.raises(StorageConfigError):
        missing_bucket.list("")
    assert [r for r in caplog.records if r.name == "mariadb_ha_backup.storage"] == []


@pytest.mark.parametrize("storage_backend", ["s3"], indirect=True)
def test_a_rewindable_upload_cut_mid_stream_is_retried_whole(
    storage_backend: StorageBackend, fault_proxy: Callable[[int], FaultProxy], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy = fault_proxy(storage_backend.server.port)  # type: ignore[union-attr]
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    storage = open_storage(f"{storage_backend.url}?endpoint={proxy.endpoint}")
    caplog.set_level(logging.WARNING, logger="mariadb_ha_backup.storage")
    expected = hashlib.sha1(b"".join(pseudo_random_chunks(LARGE))).hexdigest()
    proxy.cut_after(25 * MiB)  # the first attempt loses its connection half-way through

    with ReopeningReader(lambda: cast(io.RawIOBase, PipeSource(LARGE).reader)) as upload:
        stored = RetryingStorage(storage, policy=RetryPolicy(attempts=3, max_seconds=120)).put("db/big", upload)  # type: ignore[arg-type]

    assert stored == LARGE
    assert read_sha1(storage_backend.storage, "db/big") == (expected, LARGE)
    assert len([r for r in caplog.records if r.name == "mariadb_ha_backup.storage"]) == 1
    client = storage_backend.server.client()  # type: ignore[union-attr]
    assert client.list_multipart_uploads(Bucket=storage_backend.bucket).get("Uploads", []) == []


# --- put_head_last: the streamed tar.gz's capability (head known only once the body was sent) ---

HEAD = 527


class LateHead:
    """A head that may be asked for only once the body is at EOF, as the tar.gz's size-bearing head."""

    def __init__(self, body: PipeSource | None = None) -> None:
        self.body = body
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        if self.body is not None and self.calls == 1:
            assert self.body.reader.read(1) == b""  # the whole body was read first
        return bytes(range(256)) * 2 + b"H" * (HEAD - 512)


@pytest.mark.parametrize("size", [0, 1, 5 * MiB + 1, LARGE])
def test_put_head_last_stores_head_then_body(storage_backend: StorageBackend, size: int) -> None:
    source = PipeSource(size)
    head = LateHead(source)
    started = time.monotonic()

    stored = storage_backend.storage.put_head_last("db/1/big.tar.gz", source.reader, head_size=HEAD, head=head)  # type: ignore[attr-defined]

    upload_s = time.monotonic() - started
    expected = hashlib.sha1(head() + b"".join(pseudo_random_chunks(size))).hexdigest()
    assert stored == HEAD + size and head.calls == 2
    assert read_sha1(storage_backend.storage, "db/1/big.tar.gz") == (expected, HEAD + size)
    assert keys(storage_backend.storage) == {"db/1/big.tar.gz"}  # no temporary object left beside it
    print(f"\n{storage_backend.name}: put_head_last {size / MiB:.0f} MiB in {upload_s:.2f} s")


def test_put_head_last_through_retrying_storage(storage_backend: StorageBackend) -> None:
    storage = RetryingStorage(storage_backend.storage, policy=RetryPolicy(attempts=3, max_seconds=30))
    stored = storage.put_head_last("k", io.BytesIO(b"body"), head_size=4, head=lambda: b"head")

    assert stored == 8
    with storage.open_read("k") as stream:
        assert stream.read() == b"headbody"


@pytest.mark.parametrize("failure", ["body", "head", "head size"])
def test_failed_put_head_last_leaves_nothing_visible(storage_backend: StorageBackend, failure: str) -> None:
    storage_backend.storage.put("db/k", io.BytesIO(b"the good copy"))
    body: BinaryIO = io.BufferedReader(FailingStream(40 * MiB)) if failure == "body" else PipeSource(40 * MiB).reader

    def head() -> bytes:
        if failure == "head":
            raise OSError("no head")
        return b"short"

    with pytest.raises((OSError, ValueError)):
        storage_backend.storage.put_head_last("db/k", body, head_size=HEAD, head=head)  # type: ignore[attr-defined]

    assert keys(storage_backend.storage) == {"db/k"}  # no temporary object, no partial file listed
    with storage_backend.storage.open_read("db/k") as stream:
        assert stream.read() == b"the good copy"
    if storage_backend.name == "s3":
        client = storage_backend.server.client()  # type: ignore[union-attr]
        assert client.list_multipart_uploads(Bucket=storage_backend.bucket).get("Uploads", []) == []
    if storage_backend.name == "local":
        root = Path(storage_backend.url.removeprefix("file://"))
        assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["k"]


@pytest.mark.parametrize("storage_backend", ["s3"], indirect=True)
def test_s3_put_head_last_sends_the_body_as_parts_and_the_head_last(storage_backend: StorageBackend) -> None:
    from shared.storage.s3 import HEAD_PART_BODY_BYTES, PART_SIZE

    storage_backend.storage.put_head_last("big", PipeSource(LARGE).reader, head_size=HEAD, head=LateHead())  # type: ignore[attr-defined]

    client = storage_backend.server.client()  # type: ignore[union-attr]
    etag = client.head_object(Bucket=storage_backend.bucket, Key="big")["ETag"]
    assert etag.strip('"').endswith(f"-{1 + math.ceil((LARGE - HEAD_PART_BODY_BYTES) / PART_SIZE)}")
    first = client.head_object(Bucket=storage_backend.bucket, Key="big", PartNumber=1)["ContentLength"]
    assert first == HEAD + HEAD_PART_BODY_BYTES  # >= 5 MiB: S3's minimum for a part that is not the last


@pytest.mark.parametrize("storage_backend", ["azure"], indirect=True)
def test_azure_put_head_last_commits_the_head_block_first(storage_backend: StorageBackend) -> None:
    from shared.storage.azure import BLOCK_SIZE

    storage_backend.storage.put_head_last("big", PipeSource(LARGE).reader, head_size=HEAD, head=LateHead())  # type: ignore[attr-defined]

    blob = storage_backend.server.client().get_blob_client(storage_backend.bucket, "big")  # type: ignore[union-attr]
    committed, uncommitted = blob.get_block_list("all")
    assert [b.size for b in committed] == [HEAD] + [BLOCK_SIZE] * (LARGE // BLOCK_SIZE) + [LARGE % BLOCK_SIZE]
    assert uncommitted == []
