"""A Kubernetes API for tests: kmock's emulator on a background event loop, reached by the real
``kubernetes`` client over HTTP.

kmock is asyncio-based and the ``kubernetes`` client is blocking, so the emulator runs in its own
thread with its own loop; every mutation of the emulator from a test goes through that loop. kmock
ignores ``labelSelector`` on LIST, which the dispatcher's overlap guard relies on, so a LIST
reaction here filters by labels.

Fixtures:
- ``kube_api`` → ``KubeApi``: ``.emulator``, ``.url``, ``.api_client`` (a configured
  ``kubernetes.client.ApiClient``), ``.kubeconfig`` (a file pointing at the emulator, for CLI runs
  with ``KUBECONFIG``), helpers ``seed_secret``, ``seed_job``, ``refuse``, ``fail_once``,
  ``created_jobs``, ``stored_jobs``, ``seed`` (any object of ``RESOURCES``).
- ``identity_endpoints`` → ``IdentityEndpoints``: local Google OAuth token and Azure managed-identity
  endpoints for the GKE and AKS token providers (see the section at the end).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import kmock
import pytest
from kubernetes import client

JOBS = kmock.resource("batch", "v1", "jobs")
SECRETS = kmock.resource("", "v1", "secrets")
# Group, version and plural of every kind tests seed with ``seed`` (the emulator keys objects by resource).
RESOURCES = {
    "Pod": kmock.resource("", "v1", "pods"),
    "Service": kmock.resource("", "v1", "services"),
    "PersistentVolumeClaim": kmock.resource("", "v1", "persistentvolumeclaims"),
    "Secret": SECRETS,
    "MariaDB": kmock.resource("k8s.mariadb.com", "v1alpha1", "mariadbs"),
}


@dataclass
class KubeApi:
    emulator: kmock.KubernetesEmulator
    loop: asyncio.AbstractEventLoop
    url: str
    api_client: client.ApiClient
    kubeconfig: Path

    def in_loop(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the emulator's loop (kmock's state is not thread-safe) and return its result."""
        future: Future[Any] = Future()

        def call() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(call)
        return future.result(timeout=10)

    def seed_secret(self, *, namespace: str, name: str, data: dict[str, bytes]) -> None:
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "namespace": namespace},
                "data": {key: base64.b64encode(value).decode() for key, value in data.items()}}
        self.in_loop(lambda: self.emulator.objects.__setitem__((SECRETS, namespace, name), body))

    def seed(self, *objects: dict[str, Any]) -> None:
        """Store API objects (Pods, Services, PVCs, a mariadb-operator MariaDB...) as a cluster would hold them."""
        for body in objects:
            key = (RESOURCES[body["kind"]], body["metadata"]["namespace"], body["metadata"]["name"])
            self.in_loop(lambda key=key, body=body: self.emulator.objects.__setitem__(key, body))

    def seed_job(self, job: dict[str, Any]) -> None:
        """Store a Job as if an earlier run created it (with whatever ``status`` the test gives it)."""
        key = (JOBS, job["metadata"]["namespace"], job["metadata"]["name"])
        self.in_loop(lambda: self.emulator.objects.__setitem__(key, job))

    def refuse(self, *, namespace: str, status: int = 403, user: str = "arn:aws:sts::111122223333:assumed-role/dispatch/fn") -> None:
        """Every request in ``namespace`` is answered ``status`` with a Kubernetes-style message naming ``user``."""
        reason = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Error")
        error = kmock.KubernetesError(
            status=status, reason=reason, details={},
            message=f'jobs.batch is forbidden: User "{user}" cannot create resource "jobs" in API group "batch" '
                    f'in the namespace "{namespace}"')
        self.in_loop(lambda: self.emulator[kmock.namespace(namespace)] ** 10 << error)

    def fail_once(self, *, action: str, status: int = 503) -> None:
        """The next request of ``action`` (list, create, fetch, ...) gets ``status``; later ones are served."""
        error = kmock.KubernetesError(status=status, reason="Service Unavailable", message="etcd leader changed")
        self.in_loop(lambda: self.emulator[kmock.action(action)][:1] ** 10 << error)

    def created_jobs(self) -> list[dict[str, Any]]:
        """The exact bodies of every Job creation request the API received, in order."""
        return self.in_loop(lambda: [json.loads(r.body) for r in self.emulator[kmock.action.CREATE, JOBS]])

    def stored_jobs(self, namespace: str | None = None) -> list[dict[str, Any]]:
        def collect() -> list[dict[str, Any]]:
            return [obj.raw for (resource, ns, _), obj in self.emulator.objects.items()
                    if resource == JOBS and not obj.deleted and namespace in (None, ns)]
        return self.in_loop(collect)


def _labels_match(selector: str, labels: dict[str, str]) -> bool:
    """Equality-based selectors only (``a=b,c=d``): all the dispatcher uses."""
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value.lstrip("="):
            return False
    return True


def _list_by_labels(emulator: kmock.KubernetesEmulator) -> Callable[[kmock.Request], Any]:
    def react(request: kmock.Request) -> Any:
        selector = request.params.get("labelSelector", "")
        items = [obj.raw for (resource, ns, _), obj in emulator.objects.items()
                 if resource == request.resource and not obj.deleted
                 and request.namespace in (None, ns)
                 and _labels_match(selector, obj.raw.get("metadata", {}).get("labels") or {})]
        return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}
    return react


def _write_kubeconfig(path: Path, url: str) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "kmock",
        "clusters": [{"name": "kmock", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "test-token"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "tester"}}],
    }))
    return path


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeApi]:
    loop = asyncio.new_event_loop()
    started: Future[tuple[kmock.KubernetesEmulator, str]] = Future()
    stop = asyncio.Event()

    async def serve() -> None:
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
            # A LIST reaction outranks the emulator's own (fallback) listing, which ignores labels.
            emulator[kmock.action.LIST] ** -1 << _list_by_labels(emulator)
            started.set_result((emulator, str(server.url).rstrip("/")))
            await stop.wait()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="kmock", daemon=True)
    thread.start()
    emulator, url = started.result(timeout=10)
    configuration = client.Configuration(host=url)
    api_client = client.ApiClient(configuration)
    try:
        yield KubeApi(emulator=emulator, loop=loop, url=url, api_client=api_client,
                      kubeconfig=_write_kubeconfig(tmp_path / "kubeconfig", url))
    finally:
        api_client.close()
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)


# --- Cloud identity endpoints for the GKE and AKS token providers -------------------------------
#
# The providers run for real (google-auth with a service-account key file, azure-identity's App
# Service managed identity) against these local stand-ins for Google's OAuth token endpoint and
# the Functions host's identity endpoint, so the whole token path is exercised without a network.

GKE_TOKEN = "ya29.test-gke-access-token"
AKS_TOKEN = "eyJ0eXAi.test-aks-access-token"
AKS_RESOURCE = "6dae42f8-4368-4678-94ff-3960e28e3630"
GOOGLE_SCOPES = {"https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/userinfo.email"}


@dataclass
class IdentityEndpoints:
    url: str
    google_key_file: Path
    google_account: str
    msi_env: dict[str, str]  # what the Functions host sets for App Service managed identity


def _identity_handler(*, public_key: Any, msi_secret: str) -> type[BaseHTTPRequestHandler]:
    import jwt

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # Google OAuth 2.0 JWT-bearer grant
            form = dict(parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
            # google-auth always addresses the assertion to Google's token endpoint, whatever token_uri is.
            claims = jwt.decode(form["assertion"], public_key, algorithms=["RS256"],
                                audience="https://oauth2.googleapis.com/token")
            if set(claims["scope"].split()) != GOOGLE_SCOPES:
                self._send(400, {"error": "invalid_scope", "error_description": claims["scope"]})
                return
            self._send(200, {"access_token": GKE_TOKEN, "expires_in": 3600, "token_type": "Bearer"})

        def do_GET(self) -> None:  # App Service / Functions managed identity endpoint
            query = dict(parse_qsl(urlsplit(self.path).query))
            if self.headers.get("X-IDENTITY-HEADER") != msi_secret or query.get("resource") != AKS_RESOURCE:
                self._send(400, {"error": "invalid_request", "error_description": f"resource {query.get('resource')}"})
                return
            self._send(200, {"access_token": AKS_TOKEN, "expires_on": str(int(time.time()) + 3600),
                             "resource": AKS_RESOURCE, "token_type": "Bearer"})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    return Handler


@pytest.fixture
def identity_endpoints(tmp_path: Path) -> Iterator[IdentityEndpoints]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    server.RequestHandlerClass = _identity_handler(public_key=key.public_key(), msi_secret="test-identity-header")
    account = "backup-dispatch@test-project.iam.gserviceaccount.com"
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps({
        "type": "service_account", "project_id": "test-project", "private_key_id": "test-key",
        "private_key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()).decode(),
        "client_email": account, "client_id": "1", "token_uri": f"{url}/token",
    }))
    thread = threading.Thread(target=server.serve_forever, name="identity-endpoints", daemon=True)
    thread.start()
    try:
        yield IdentityEndpoints(url=url, google_key_file=key_file, google_account=account,
                                msi_env={"IDENTITY_ENDPOINT": f"{url}/msi/token",
                                         "IDENTITY_HEADER": "test-identity-header"})
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
