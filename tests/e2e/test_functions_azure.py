"""The Azure FunctionApp as the Functions host sees it: its functions found through
``app.get_functions()``, called with a TimerRequest and an HttpRequest; AKS access through
azure-identity's managed identity against a local identity endpoint."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from shared.errors import BackupFailedError
from tests.support.kube import AKS_TOKEN, JOBS, IdentityEndpoints, KubeApi
from tests.unit.test_k8s_job_spec import ENV, EXPECTED_JOB

ROOT = Path(__file__).resolve().parents[2]


def load_functions() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("azure_function_app", ROOT / "functions/azure/function_app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {function.get_function_name(): function for function in module.app.get_functions()}


@pytest.fixture
def azure_env(kube_api: KubeApi, identity_endpoints: IdentityEndpoints, monkeypatch: pytest.MonkeyPatch) -> KubeApi:
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
                 "DISPATCH_TARGETS"):
        monkeypatch.delenv(name, raising=False)
    env = {**ENV, "CELL_DEFAULT_NAMESPACE": "cell-a", "MARIADB_HA_SERVICE_NAME": "mariadb-ha",
           "MARIADB_HA_SECRET_NAME": "mariadb-root", "K8S_ENDPOINT": kube_api.url, "BACKUP_SCHEDULE": "0 0 2 * * *",
           **identity_endpoints.msi_env}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return kube_api


def test_functions_and_triggers_are_declared() -> None:
    functions = load_functions()
    assert set(functions) == {"scheduled_dispatch", "manual_dispatch"}
    timer = functions["scheduled_dispatch"].get_trigger()
    assert (timer.get_binding_name(), timer.schedule) == ("timerTrigger", "%BACKUP_SCHEDULE%")
    http = functions["manual_dispatch"].get_trigger()
    assert http.route == "dispatch" and [m.value for m in http.methods] == ["POST"]


def test_timer_creates_the_job_for_this_minute(azure_env: KubeApi) -> None:
    timer = TimerRequest(past_due=False, schedule_status={"Last": "2025-01-30T02:00:00+00:00"},
                              schedule={"AdjustForDST": True})
    before = datetime.now(UTC)
    load_functions()["scheduled_dispatch"].get_user_function()(timer)
    after = datetime.now(UTC)
    [created] = azure_env.created_jobs()
    assert created["metadata"]["name"] in {f"mariadb-ha-backup-mariadb-ha-{t:%Y%m%d%H%M}" for t in (before, after)}
    assert created["spec"] == EXPECTED_JOB["spec"]
    auth = azure_env.in_loop(lambda: {r.headers.get("Authorization") for r in azure_env.emulator[JOBS]})
    assert auth == {f"Bearer {AKS_TOKEN}"}


def test_timer_raises_when_a_target_failed(azure_env: KubeApi) -> None:
    azure_env.refuse(namespace="cell-a")
    with pytest.raises(BackupFailedError, match=r"1 of 1 backup Job\(s\) failed: .*403 Forbidden"):
        load_functions()["scheduled_dispatch"].get_user_function()(TimerRequest(past_due=True))


def test_http_test_payload(azure_env: KubeApi) -> None:
    body = (ROOT / "tests/events/console_test_dry_run.json").read_bytes()
    request = func.HttpRequest(method="POST", url="http://localhost:7071/api/dispatch", body=body,
                               headers={"Content-Type": "application/json"})
    response = load_functions()["manual_dispatch"].get_user_function()(request)
    assert response.status_code == 200 and response.mimetype == "application/json"
    [job] = json.loads(response.get_body())["jobs"]
    assert (job["name"], job["status"]) == ("mariadb-ha-backup-mariadb-ha-202501310200", "dry-run")
    assert job["job"]["spec"] == EXPECTED_JOB["spec"]
    assert list(azure_env.emulator) == []


def test_http_real_run_and_bad_payload(azure_env: KubeApi) -> None:
    manual = load_functions()["manual_dispatch"].get_user_function()
    run = manual(func.HttpRequest(method="POST", url="/api/dispatch",
                                  body=b'{"scheduled_time": "2025-01-31T02:00:00Z"}'))
    assert run.status_code == 200
    assert json.loads(run.get_body()) == {"jobs": [{"name": "mariadb-ha-backup-mariadb-ha-202501310200",
                                                    "namespace": "cell-a", "status": "created"}]}
    bad = manual(func.HttpRequest(method="POST", url="/api/dispatch", body=b'{"dry_run": "yes"}'))
    assert bad.status_code == 400
    assert json.loads(bad.get_body()) == {"error": "payload dry_run must be true or false"}
