"""The Lambda handler called the way Lambda calls it: event JSON from tests/events and a context,
against the Kubernetes API emulator, authenticating with a real EKS token from fixed credentials."""

from __future__ import annotations

import copy
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from shared.errors import BackupFailedError, BadInputError
from tests.support.kube import JOBS, KubeApi
from tests.unit.test_k8s_job_spec import ENV, EXPECTED_JOB

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
FLEET = [{"namespace": "cell-a", "service": "mariadb-ha", "secret": "mariadb-root"},
         {"namespace": "cell-locked", "service": "mariadb", "secret": "root"},
         {"namespace": "cell-c", "service": "galera", "secret": "galera-root"}]


@dataclass
class LambdaContext:
    function_name: str = "mariadb-ha-backup-dispatch"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:mariadb-ha-backup-dispatch"
    aws_request_id: str = "6f1d5a2e-0c0b-4f7e-9d2a-1d2b3c4d5e6f"


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("aws_lambda_handler", ROOT / "functions" / "aws" / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(name: str) -> dict[str, object]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def lambda_env(kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch) -> KubeApi:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "DISPATCH_TARGETS"):
        monkeypatch.delenv(name, raising=False)
    env = {**ENV, "CELL_DEFAULT_NAMESPACE": "cell-a", "MARIADB_HA_SERVICE_NAME": "mariadb-ha",
           "MARIADB_HA_SECRET_NAME": "mariadb-root", "K8S_ENDPOINT": kube_api.url,
           "EKS_CLUSTER_NAME": "prod-cluster", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
           "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return kube_api


def emf_metrics(stdout: str) -> dict[str, float]:
    """Metric values from the CloudWatch embedded-metric-format line Powertools prints."""
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            record = json.loads(line)
            names = [m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
            # Powertools emits each value as a list (one entry per add_metric call).
            return {name: sum(record[name]) if isinstance(record[name], list) else record[name] for name in names}
    raise AssertionError(f"no EMF metrics in output: {stdout[:500]}")


def test_scheduler_event_creates_the_job_with_an_eks_token(lambda_env: KubeApi, capfd: pytest.CaptureFixture[str]) -> None:
    handler = load_handler()
    response = handler.handler(event("scheduler_scheduled_run.json"), LambdaContext())
    assert response == {"jobs": [{"name": "mariadb-ha-backup-mariadb-ha-202501310200", "namespace": "cell-a",
                                  "status": "created"}]}
    created = lambda_env.created_jobs()
    assert [job["metadata"]["name"] for job in created] == ["mariadb-ha-backup-mariadb-ha-202501310200"]
    assert created[0]["spec"] == EXPECTED_JOB["spec"]
    auth = lambda_env.in_loop(lambda: {r.headers.get("Authorization") for r in lambda_env.emulator[JOBS]})
    assert len(auth) == 1 and auth.pop().startswith("Bearer k8s-aws-v1.")
    out = capfd.readouterr().out
    assert emf_metrics(out) == {"JobsCreated": 1, "JobsExisting": 0, "JobsSkippedActive": 0, "JobsFailed": 0}
    logged = [json.loads(line) for line in out.splitlines() if '"dispatch finished"' in line]
    assert logged and logged[0]["function_request_id"] == LambdaContext.aws_request_id


def test_eventbridge_rule_event_uses_its_time_and_retries_are_idempotent(lambda_env: KubeApi) -> None:
    handler = load_handler()
    first = handler.handler(event("eventbridge_rule_scheduled_event.json"), LambdaContext())
    retry = handler.handler(event("eventbridge_rule_scheduled_event.json"), LambdaContext())
    assert [job["status"] for job in first["jobs"] + retry["jobs"]] == ["created", "exists"]
    assert [job["metadata"]["name"] for job in lambda_env.stored_jobs()] == ["mariadb-ha-backup-mariadb-ha-202501310200"]


def test_console_dry_run_returns_the_job(lambda_env: KubeApi) -> None:
    response = load_handler().handler(event("console_test_dry_run.json"), LambdaContext())
    expected: dict[str, Any] = copy.deepcopy(EXPECTED_JOB)
    expected["metadata"]["annotations"] = {"mariadb-ha-backup/scheduled-time": "2025-01-31T02:00:00Z"}
    assert response == {"jobs": [{"name": "mariadb-ha-backup-mariadb-ha-202501310200", "namespace": "cell-a",
                                  "status": "dry-run", "job": expected, "manifest": expected}]}
    assert list(lambda_env.emulator) == []


def test_failed_target_raises_after_dispatching_the_others(lambda_env: KubeApi, monkeypatch: pytest.MonkeyPatch,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DISPATCH_TARGETS", json.dumps(FLEET))
    lambda_env.refuse(namespace="cell-locked")
    with pytest.raises(BackupFailedError) as caught:
        load_handler().handler(event("scheduler_scheduled_run.json"), LambdaContext())
    assert str(caught.value).startswith("1 of 3 backup Job(s) failed: cell-locked/mariadb-ha-backup-mariadb-202501310200: ")
    assert "403 Forbidden" in str(caught.value)
    assert sorted(job["metadata"]["namespace"] for job in lambda_env.stored_jobs()) == ["cell-a", "cell-c"]
    assert emf_metrics(capfd.readouterr().out) == {"JobsCreated": 2, "JobsExisting": 0, "JobsSkippedActive": 0,
                                                    "JobsFailed": 1}


def test_bad_targets_fail_the_invocation_without_touching_the_cluster(
        lambda_env: KubeApi, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DISPATCH_TARGETS", '[{"namespace": "cell-a"}]')
    with pytest.raises(BadInputError, match=r"DISPATCH_TARGETS\[0\] needs string field\(s\) service, secret"):
        load_handler().handler(event("scheduler_scheduled_run.json"), LambdaContext())
    assert list(lambda_env.emulator) == []
    assert emf_metrics(capfd.readouterr().out) == {"DispatchRejected": 1}
