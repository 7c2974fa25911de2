"""A cloud function deployed a second time with ``DISPATCH_KIND=drill`` creates the restore-drill Job:
the GCP function in-process (functions-framework's app and test client, the request Cloud Scheduler
sends), GKE access through google-auth against a local token endpoint, the Job in the Kubernetes API
emulator."""

from __future__ import annotations

from pathlib import Path

import functions_framework
import pytest

from tests.e2e.test_functions_gcp import SCHEDULER_HEADERS
from tests.integration.test_drill_dispatch_kmock import DRILL_ENV, EXPECTED_DRILL_JOB
from tests.support.kube import IdentityEndpoints, KubeApi
from tests.unit.test_k8s_job_spec import ENV

ROOT = Path(__file__).resolve().parents[2]
DRILL_JOB = "mariadb-ha-drill-mariadb-ha-202501310200"


@pytest.fixture
def drill_function(kube_api: KubeApi, identity_endpoints: IdentityEndpoints, monkeypatch: pytest.MonkeyPatch):
    for name in ("DISPATCH_TARGETS", "K8S_CA_DATA"):
        monkeypatch.delenv(name, raising=False)
    env = {**ENV, **DRILL_ENV, "DISPATCH_KIND": "drill", "CELL_DEFAULT_NAMESPACE": "cell-a",
           "MARIADB_HA_SERVICE_NAME": "mariadb-ha", "MARIADB_HA_SECRET_NAME": "mariadb-root",
           "K8S_ENDPOINT": kube_api.url, "GOOGLE_APPLICATION_CREDENTIALS": str(identity_endpoints.google_key_file)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = functions_framework.create_app("dispatch", str(ROOT / "functions" / "gcp" / "main.py"))
    return app.test_client()


def test_scheduled_drill_function_creates_the_drill_job(drill_function, kube_api: KubeApi) -> None:
    answer = drill_function.post("/", headers=SCHEDULER_HEADERS)

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"jobs": [{"name": DRILL_JOB, "namespace": "cell-a", "status": "created"}]}
    assert kube_api.created_jobs() == [{**EXPECTED_DRILL_JOB, "metadata": {
        **EXPECTED_DRILL_JOB["metadata"], "annotations": {"mariadb-ha-backup/scheduled-time": "2025-01-31T02:00:00Z"}}}]


def test_drill_function_without_the_server_image_answers_400_before_touching_the_cluster(
        drill_function, kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRILL_SERVER_IMAGE")

    answer = drill_function.post("/", headers=SCHEDULER_HEADERS)

    assert answer.status_code == 400
    assert answer.get_json()["error"].startswith("DRILL_SERVER_IMAGE is not set")
    assert kube_api.created_jobs() == []
