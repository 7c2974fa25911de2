"""Dispatch against the Kubernetes API emulator with the real client: what the cluster receives."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.k8s.clients import ClusterAccess
from shared.k8s.dispatching import dispatch_jobs
from shared.k8s.invocation import DispatchRequest, run_invocation
from shared.k8s.job_settings import job_settings_from_env
from shared.k8s.targets import Target
from tests.support.kube import KubeApi
from tests.unit.test_k8s_job_spec import AT, ENV, EXPECTED_JOB

TARGET_ENV = {"CELL_DEFAULT_NAMESPACE": "cell-a", "MARIADB_HA_SERVICE_NAME": "mariadb-ha",
              "MARIADB_HA_SECRET_NAME": "mariadb-root"}
JOB_NAME = "mariadb-ha-backup-mariadb-ha-202501310200"


def invoke(kube_api: KubeApi, **request: Any) -> dict[str, Any]:
    env = {**ENV, **TARGET_ENV, "KUBECONFIG": str(kube_api.kubeconfig)}
    result = run_invocation(request=DispatchRequest(**{"scheduled_time": AT, **request}),
                            platform="kubeconfig", env=env)
    return result.response()


def earlier_job(*, name: str, instance: str = "mariadb-ha", finished: str | None = None) -> dict[str, Any]:
    job: dict[str, Any] = copy.deepcopy(EXPECTED_JOB)
    job["metadata"]["name"] = name
    job["metadata"]["labels"]["app.kubernetes.io/instance"] = instance
    if finished:
        job["status"] = {"conditions": [{"type": finished, "status": "True"}]}
    return job


def test_cluster_receives_the_exact_job(kube_api: KubeApi) -> None:
    response = invoke(kube_api)
    assert response == {"jobs": [{"name": JOB_NAME, "namespace": "cell-a", "status": "created"}]}
    assert kube_api.created_jobs() == [EXPECTED_JOB]
    assert [job["metadata"]["name"] for job in kube_api.stored_jobs("cell-a")] == [JOB_NAME]


def test_second_invocation_for_the_same_slot_makes_no_second_job(kube_api: KubeApi) -> None:
    invoke(kube_api)
    again = invoke(kube_api, scheduled_time=AT.replace(second=59))
    assert again["jobs"] == [{"name": JOB_NAME, "namespace": "cell-a", "status": "exists"}]
    assert len(kube_api.stored_jobs()) == 1


def test_already_finished_job_of_the_same_slot_reports_exists(kube_api: KubeApi) -> None:
    # A retry after the backup completed: create answers 409 AlreadyExists.
    kube_api.seed_job(earlier_job(name=JOB_NAME, finished="Complete"))
    assert invoke(kube_api)["jobs"] == [{"name": JOB_NAME, "namespace": "cell-a", "status": "exists"}]
    assert [job["status"] for job in kube_api.stored_jobs()] == [{"conditions": [{"type": "Complete", "status": "True"}]}]


def test_running_backup_of_the_target_skips(kube_api: KubeApi) -> None:
    kube_api.seed_job(earlier_job(name="mariadb-ha-backup-mariadb-ha-202501300200"))
    assert invoke(kube_api)["jobs"] == [{"name": JOB_NAME, "namespace": "cell-a", "status": "skipped-active"}]
    assert kube_api.created_jobs() == []


@pytest.mark.parametrize("condition", ["Complete", "Failed"])
def test_finished_backups_do_not_block(kube_api: KubeApi, condition: str) -> None:
    kube_api.seed_job(earlier_job(name="mariadb-ha-backup-mariadb-ha-202501300200", finished=condition))
    assert invoke(kube_api)["jobs"][0]["status"] == "created"
    assert len(kube_api.stored_jobs("cell-a")) == 2


def test_running_backup_of_another_target_does_not_block(kube_api: KubeApi) -> None:
    kube_api.seed_job(earlier_job(name="mariadb-ha-backup-other-202501310200", instance="other"))
    assert invoke(kube_api)["jobs"][0]["status"] == "created"


def test_fan_out_with_one_forbidden_namespace(kube_api: KubeApi) -> None:
    targets = [Target("cell-a", "mariadb", "root"), Target("cell-locked", "mariadb", "root"),
               Target("cell-c", "galera", "galera-root")]
    kube_api.refuse(namespace="cell-locked", user="arn:aws:sts::111122223333:assumed-role/dispatch/fn")
    access = ClusterAccess(api_client=kube_api.api_client, identity="the Lambda execution role")
    outcomes = dispatch_jobs(targets=targets, settings=job_settings_from_env(ENV), scheduled_time=AT, access=access)

    assert [(o.namespace, o.name, o.status) for o in outcomes] == [
        ("cell-a", "mariadb-ha-backup-mariadb-202501310200", "created"),
        ("cell-locked", "mariadb-ha-backup-mariadb-202501310200", "failed"),
        ("cell-c", "mariadb-ha-backup-galera-202501310200", "created"),
    ]
    error = outcomes[1].error or ""
    assert error.startswith("backup Jobs in namespace 'cell-locked': Kubernetes API refused the Lambda execution role "
                            "(403 Forbidden)")
    assert 'User "arn:aws:sts::111122223333:assumed-role/dispatch/fn"' in error
    assert sorted(job["metadata"]["namespace"] for job in kube_api.stored_jobs()) == ["cell-a", "cell-c"]


def test_dry_run_returns_jobs_and_touches_nothing(kube_api: KubeApi) -> None:
    response = invoke(kube_api, dry_run=True)
    assert response == {"jobs": [{"name": JOB_NAME, "namespace": "cell-a", "status": "dry-run",
                                  "job": EXPECTED_JOB, "manifest": EXPECTED_JOB}]}
    assert json.loads(json.dumps(response)) == response
    assert list(kube_api.emulator) == []  # not a single request reached the API


def test_transient_error_is_retried(kube_api: KubeApi) -> None:
    kube_api.fail_once(action="list", status=503)
    assert invoke(kube_api)["jobs"][0]["status"] == "created"
    assert [job["metadata"]["name"] for job in kube_api.stored_jobs()] == [JOB_NAME]


def test_lost_create_response_is_retried_into_exists(kube_api: KubeApi) -> None:
    # The emulator stores the Job and then answers 503, like an API server whose response is lost
    # behind a load balancer: the retry gets 409, which is success, and there is still one Job.
    kube_api.fail_once(action="create", status=503)
    assert invoke(kube_api)["jobs"][0]["status"] == "exists"
    assert [job["metadata"]["name"] for job in kube_api.stored_jobs()] == [JOB_NAME]


def test_unauthorized_names_the_kubeconfig_user(kube_api: KubeApi) -> None:
    kube_api.refuse(namespace="cell-a", status=401)
    [job] = invoke(kube_api)["jobs"]
    assert job["status"] == "failed"
    assert "Kubernetes API refused kubeconfig user 'tester' (context 'kmock') (401 Unauthorized)" in job["error"]


def test_scheduled_time_defaults_to_now(kube_api: KubeApi) -> None:
    before = datetime.now(UTC)
    [job] = invoke(kube_api, scheduled_time=None)["jobs"]
    stamps = {f"{moment:%Y%m%d%H%M}" for moment in (before, datetime.now(UTC))}
    assert job["name"] in {f"mariadb-ha-backup-mariadb-ha-{stamp}" for stamp in stamps}
