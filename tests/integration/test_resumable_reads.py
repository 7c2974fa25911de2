"""A download broken part-way resumes at the byte where it stopped, on the same object version.

Real emulators (moto, Azurite, fake-gcs-server) behind the HTTP fault proxy, which answers a GET of
the object with its headers and the first 3 MB of the body, then resets the connection (or goes
silent): once and several times the read completes with the object's exact bytes; past the retry
budget it fails with ``TransientStorageError``; an object replaced between the break and the resume
raises ``ObjectChangedError`` (the two versions are never spliced). Local files: same contract.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest

from shared.retry import RetryPolicy
from shared.storage import ObjectChangedError, TransientStorageError, open_storage
from shared.storage.retrying import RetryingStorage
from tests.support.cli import run_cli
from tests.support.faults import Fault, HttpFaultProxy, Request
from tests.support.mariadb_server import table_checksums
from tests.support.storage_servers import EmulatorServer, unique_bucket_name

KEY = "backups/20260101T000000Z/mariadb-ha-backup.sql.zst"
PAYLOAD_BYTES = 20 * 1024 * 1024 + 777  # several of each backend's download ranges (4-8 MiB)
CUT_AT = 3 * 1024 * 1024
POLICY = RetryPolicy(attempts=5, max_seconds=60)
_SERVERS = {"s3": "s3_server", "gcs": "gcs_server", "azure": "azurite_server"}


def artifact_get(request: Request) -> bool:
    return request.method == "GET" and request.path.endswith(KEY.rsplit("/", 1)[1])


@pytest.fixture(scope="session")  # cheap to make: its tests need not share one xdist worker
def payload() -> bytes:
    return os.urandom(PAYLOAD_BYTES)


@pytest.fixture(params=sorted(_SERVERS))
def through_proxy(request, http_fault_proxy, monkeypatch, payload) -> Iterator[tuple[RetryingStorage, HttpFaultProxy, object]]:
    server: EmulatorServer = request.getfixturevalue(_SERVERS[request.param])
    bucket = unique_bucket_name()
    server.create_bucket(bucket)
    url = f"{server.scheme}://{bucket}"
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)
    direct = open_storage(url)
    direct.put(KEY, io.BytesIO(payload))
    proxy = http_fault_proxy(server.port)
    for key, value in server.env_for(proxy.endpoint).items():
        monkeypatch.setenv(key, value)
    yield RetryingStorage(open_storage(url), policy=POLICY), proxy, direct
    proxy.clear()


def read_all(storage: RetryingStorage) -> bytes:
    with storage.open_read(KEY) as stream:
        return stream.read()


@pytest.mark.parametrize("times", [1, 3])
def test_a_download_reset_part_way_resumes_and_is_exact(through_proxy, payload, times):
    storage, proxy, _direct = through_proxy
    proxy.add(Fault(when=artifact_get, action="cut", after_bytes=CUT_AT, times=times))

    data = read_all(storage)

    assert len(proxy.injected) == times
    assert data == payload


def test_past_the_retry_budget_the_read_fails_cleanly(through_proxy):
    storage, proxy, _direct = through_proxy
    proxy.add(Fault(when=artifact_get, action="cut", after_bytes=CUT_AT, times=1))
    proxy.add(Fault(when=artifact_get, action="cut", after_bytes=0, times=None))  # every resume, no progress

    with pytest.raises(TransientStorageError), storage.open_read(KEY) as stream:
        stream.read()

    assert len(proxy.injected) >= POLICY.attempts


def test_an_object_replaced_mid_read_is_never_spliced(through_proxy, payload):
    storage, proxy, direct = through_proxy
    # The cut comes late (16 MiB) and the first read is small: a reset drops whatever the reader's socket
    # still buffered, so an early cut would land before the replacement and the resumed read would see
    # the old object whole. Backends that read in ranges meet the replacement at their next range anyway.
    proxy.add(Fault(when=artifact_get, action="cut", after_bytes=16 * 1024 * 1024, times=1))
    with storage.open_read(KEY) as stream:
        first = stream.read(1024 * 1024)
        direct.put(KEY, io.BytesIO(b"another backup entirely" * 1000))
        with pytest.raises(ObjectChangedError):
            stream.read()
    assert first == payload[: 1024 * 1024]


# One backend is enough for the timeout path: each has the same resume, and a stall costs its read timeout.
@pytest.mark.parametrize("through_proxy", ["s3"], indirect=True)
def test_a_stalled_download_resumes(through_proxy, payload):
    storage, proxy, _direct = through_proxy
    proxy.add(Fault(when=artifact_get, action="stall", after_bytes=CUT_AT, delay=40, times=1))

    data = read_all(storage)

    assert proxy.injected and data == payload


def test_local_files_resume_and_notice_a_replacement(tmp_path):
    storage = open_storage(f"file://{tmp_path}")
    storage.put(KEY, io.BytesIO(b"x" * 100))
    opened = storage.open_read_from(KEY, offset=40, version=None)  # type: ignore[attr-defined]
    assert (opened.stream.read(), opened.size) == (b"x" * 60, 100)
    storage.put(KEY, io.BytesIO(b"y" * 100))
    with pytest.raises(ObjectChangedError):
        storage.open_read_from(KEY, offset=40, version=opened.version)  # type: ignore[attr-defined]


def test_restore_survives_a_reset_download(s3_server, http_fault_proxy, mariadb_factory, tmp_path):
    """The issue's case: `restore --latest` from S3 whose artifact download is reset once after 3 MB."""
    source = mariadb_factory()
    source.execute("CREATE DATABASE blobs; USE blobs; CREATE TABLE blobs.b (id INT PRIMARY KEY, v BLOB); "
                   "INSERT INTO blobs.b SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_8000")  # ~8 MB incompressible
    bucket = unique_bucket_name()
    s3_server.create_bucket(bucket)
    env = {**s3_server.env, "BACKUP_URL": f"s3://{bucket}", "BACKUP_PREFIX": "resume", "BACKUP_RETRY_ATTEMPTS": "5"}
    backup = run_cli(["backup", "--format", "sql.zst"], {**env, **source.agent_env()})
    assert backup.returncode == 0, backup.stderr
    proxy = http_fault_proxy(s3_server.port)
    proxy.add(Fault(when=lambda r: r.method == "GET" and r.path.endswith(".sql.zst"), action="cut",
                    after_bytes=CUT_AT, times=2))  # the verify-first read, and the restore's read
    target = mariadb_factory()

    restored = run_cli(["restore", "--latest"], {**env, **s3_server.env_for(proxy.endpoint), **target.agent_env()})

    assert len(proxy.injected) == 2
    assert restored.returncode == 0, restored.stderr
    assert "resuming" in restored.stderr
    assert table_checksums(target) == table_checksums(source)
