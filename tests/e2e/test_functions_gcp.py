"""The GCP function served by functions-framework's real HTTP runtime (a subprocess), called over
HTTP the way Cloud Scheduler calls it; GKE access goes through google-auth against a local token
endpoint, and the Jobs land in the Kubernetes API emulator."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.kube import GKE_TOKEN, JOBS, IdentityEndpoints, KubeApi
from tests.unit.test_k8s_job_spec import ENV, EXPECTED_JOB

ROOT = Path(__file__).resolve().parents[2]
SCHEDULER_HEADERS = {
    "User-Agent": "Google-Cloud-Scheduler",
    "X-CloudScheduler": "true",
    "X-CloudScheduler-JobName": "mariadb-ha-backup-nightly",
    "X-CloudScheduler-ScheduleTime": "2025-01-31T02:00:00.214Z",
    # The OIDC token is verified by Cloud Run before the function runs; locally it is just passed along.
    "Authorization": "Bearer oidc-token-checked-by-the-platform",
}
JOB = "mariadb-ha-backup-mariadb-ha-202501310200"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gcp_function(kube_api: KubeApi, identity_endpoints: IdentityEndpoints, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GOOGLE_", "DISPATCH_", "K8S_"))}
    env.update({**ENV, "CELL_DEFAULT_NAMESPACE": "cell-a", "MARIADB_HA_SERVICE_NAME": "mariadb-ha",
                "MARIADB_HA_SECRET_NAME": "mariadb-root", "K8S_ENDPOINT": kube_api.url,
                "GOOGLE_APPLICATION_CREDENTIALS": str(identity_endpoints.google_key_file)})
    log = (tmp_path / "functions-framework.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "functions-framework"), "--source", str(ROOT / "functions/gcp/main.py"),
         "--target", "dispatch", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "functions-framework.log").read_text()) from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_cloud_scheduler_call_creates_the_job(gcp_function: str, kube_api: KubeApi) -> None:
    response = requests.post(gcp_function, headers=SCHEDULER_HEADERS, data=b"", timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"jobs": [{"name": JOB, "namespace": "cell-a", "status": "created"}]}
    [created] = kube_api.created_jobs()
    assert created["metadata"]["name"] == JOB and created["spec"] == EXPECTED_JOB["spec"]
    auth = kube_api.in_loop(lambda: {r.headers.get("Authorization") for r in kube_api.emulator[JOBS]})
    assert auth == {f"Bearer {GKE_TOKEN}"}

    again = requests.post(gcp_function, headers=SCHEDULER_HEADERS, data=b"", timeout=30)
    assert again.status_code == 200 and again.json()["jobs"][0]["status"] == "exists"
    assert len(kube_api.stored_jobs()) == 1


def test_console_test_payload_dry_run(gcp_function: str, kube_api: KubeApi) -> None:
    payload = json.loads((ROOT / "tests/events/console_test_dry_run.json").read_text())
    response = requests.post(gcp_function, json=payload, timeout=30)
    assert response.status_code == 200, response.text
    [job] = response.json()["jobs"]
    assert (job["name"], job["status"]) == (JOB, "dry-run")
    assert job["job"]["spec"] == EXPECTED_JOB["spec"]
    assert list(kube_api.emulator) == []


def test_one_forbidden_target_answers_500_for_a_retry(gcp_function: str, kube_api: KubeApi) -> None:
    kube_api.refuse(namespace="cell-locked", user="backup-dispatch@test-project.iam.gserviceaccount.com")
    targets = [{"namespace": "cell-a", "service": "mariadb-ha", "secret": "root"},
               {"namespace": "cell-locked", "service": "mariadb", "secret": "root"}]
    response = requests.post(gcp_function, headers=SCHEDULER_HEADERS, json={"targets": targets}, timeout=30)
    assert response.status_code == 500
    jobs = response.json()["jobs"]
    assert [job["status"] for job in jobs] == ["created", "failed"]
    assert "Kubernetes API refused Google service account 'backup-dispatch@test-project.iam.gserviceaccount.com'" \
        in jobs[1]["error"]


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "the request body is not JSON"),
    (b'{"dryrun": true}', "unknown payload field(s) 'dryrun'"),
])
def test_bad_requests_are_400(gcp_function: str, kube_api: KubeApi, body: bytes, message: str) -> None:
    response = requests.post(gcp_function, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert list(kube_api.emulator) == []
