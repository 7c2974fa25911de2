"""Storage faults, injected by an HTTP proxy in front of the real emulators (moto, Azurite, fake-gcs-server).

Transient faults (resets, 500/503, slow answers, a failed final commit) must be retried to success
with byte-identical objects; permanent ones must fail with the right error class, leave no object
and no open multipart upload / uncommitted block list behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import pytest

from shared.storage import (
    ObjectNotFoundError,
    Storage,
    StorageConfigError,
    StorageError,
    TransientStorageError,
    open_storage,
)
from tests.support.faults import Fault, HttpFaultProxy, commit_call, upload_call
from tests.support.storage_servers import EmulatorServer, unique_bucket_name

pytestmark = pytest.mark.slow

# Larger than every adapter's part/block/chunk size (16 MiB at most), so each backend really takes
# its multipart path: parts in flight, then a separate commit call.
PAYLOAD_BYTES = 40 * 1024 * 1024 + 12345
_SERVERS = {"s3": "s3_server", "gcs": "gcs_server", "azure": "azurite_server"}


@dataclass
class Faulty:
    name: str
    server: EmulatorServer
    url: str
    proxy: HttpFaultProxy
    through_proxy: Storage  # the adapter under test, talking to the emulator through the proxy
    direct: Storage  # a second adapter straight to the emulator, to check what was really stored


def _built(storage: Storage) -> Storage:
    list(storage.list("warm-up/"))  # builds the SDK client now, under the environment in force
    return storage


@pytest.fixture(scope="session")  # cheap to make: its tests need not share one xdist worker
def payload() -> bytes:
    return os.urandom(PAYLOAD_BYTES)


@pytest.fixture(params=sorted(_SERVERS))
def faulty(request: pytest.FixtureRequest, http_fault_proxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[Faulty]:
    server: EmulatorServer = request.getfixturevalue(_SERVERS[request.param])
    bucket = unique_bucket_name()
    server.create_bucket(bucket)
    url = f"{server.scheme}://{bucket}"
    proxy = http_fault_proxy(server.port)
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)
    direct = _built(open_storage(url))
    for key, value in server.env_for(proxy.endpoint).items():
        monkeypatch.setenv(key, value)
    # Shrink the GCS library's own upload retry window (120 s) so a permanent fault fails in seconds.
    monkeypatch.setattr("shared.storage.gcs.UPLOAD_RETRY_SECONDS", 6.0, raising=False)
    yield Faulty(request.param, server, url, proxy, _built(open_storage(url)), direct)
    proxy.clear()


def stored_bytes(storage: Storage, key: str) -> bytes:
    with storage.open_read(key) as stream:
        return stream.read()


def keys(storage: Storage) -> list[str]:
    return sorted(o.key for o in storage.list(""))


def open_uploads(f: Faulty) -> list[Any]:
    """S3 multipart uploads left open (they are billed until aborted)."""
    bucket = f.url.split("://", 1)[1]
    if f.name == "s3":
        return list(f.server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []))  # type: ignore[attr-defined]
    return []


def uncommitted_only(f: Faulty) -> list[str]:
    """Azure: names that exist only as uncommitted blocks. Azure has no call to drop them (a commit
    would be needed, and the commit is what failed); it never lists or serves them and discards them
    after 7 days, and a later successful commit of the same name discards them at once."""
    if f.name != "azure":
        return []
    container = f.server.client().get_container_client(f.url.split("://", 1)[1])  # type: ignore[attr-defined]
    return [b.name for b in container.list_blobs(include=["uncommittedblobs"])]


TRANSIENT = {
    "reset-on-upload": Fault(upload_call, "reset", times=2),
    "503-on-upload": Fault(upload_call, "status", status=503, times=2),
    "500-on-commit": Fault(commit_call, "status", status=500, times=1),
    "reset-on-commit": Fault(commit_call, "reset", times=1),
    "slow-answers": Fault(upload_call, "slow", delay=1.5, times=3),
}


@pytest.mark.parametrize("fault_name", sorted(TRANSIENT))
def test_transient_fault_is_retried_to_identical_bytes(faulty: Faulty, payload: bytes, fault_name: str):
    template = TRANSIENT[fault_name]
    faulty.proxy.add(Fault(template.when, template.action, status=template.status, delay=template.delay,
                           times=template.times, name=fault_name))
    stored = faulty.through_proxy.put("b/20240101T000000Z/archive", cast(BinaryIO, _Stream(payload)))
    assert faulty.proxy.injected, "the fault was never injected"
    assert stored == len(payload)
    assert stored_bytes(faulty.direct, "b/20240101T000000Z/archive") == payload


PERMANENT = {
    # An outage longer than the SDK's retries: the error is transient in kind, so the caller may retry.
    "503-on-every-commit": (Fault(commit_call, "status", status=503, times=None), TransientStorageError),
    "reset-on-every-upload": (Fault(upload_call, "reset", times=None), TransientStorageError),
    # A refusal (a bucket policy denying the write): never retried, exit 2.
    "403-on-commit": (Fault(commit_call, "status", status=403, times=None), StorageConfigError),
}


@pytest.mark.parametrize("fault_name", sorted(PERMANENT))
def test_permanent_fault_fails_cleanly_leaving_nothing(faulty: Faulty, payload: bytes, fault_name: str):
    template, expected = PERMANENT[fault_name]
    faulty.proxy.add(Fault(template.when, template.action, status=template.status, times=None, name=fault_name))
    with pytest.raises(StorageError if expected is not StorageConfigError else StorageConfigError) as raised:
        faulty.through_proxy.put("b/20240101T000000Z/archive", cast(BinaryIO, _Stream(payload)))
    assert faulty.proxy.injected, "the fault was never injected"
    assert isinstance(raised.value, expected), repr(raised.value)
    assert "Traceback" not in str(raised.value)
    faulty.proxy.clear()
    assert keys(faulty.direct) == []
    assert open_uploads(faulty) == []
    for name in uncommitted_only(faulty):
        with pytest.raises(ObjectNotFoundError):
            faulty.direct.open_read(name)


class _Stream:
    """A one-shot, non-seekable stream like the pipeline's (read front to back, short reads allowed)."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        size = len(self._view) - self._pos if size < 0 else min(size, 1 << 20)
        chunk = bytes(self._view[self._pos : self._pos + size])
        self._pos += len(chunk)
        return chunk

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass
