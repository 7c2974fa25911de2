"""The restore-drill Job as the cluster receives it (the real client against kmock): both containers,
the volumes, the hardening, and no production Secret; the CLI's ``dispatch --drill`` and
``DISPATCH_KIND=drill`` create it; a running drill blocks the next drill but not a backup."""

from __future__ import annotations

import copy
import json
from typing import Any

import kubernetes_validate
import pytest

from shared.errors import BadInputError
from shared.k8s.drill_spec import build_drill_cronjob, drill_settings_from_env
from shared.k8s.invocation import DispatchRequest, run_invocation
from shared.k8s.job_settings import job_settings_from_env
from tests.support.cli import run_cli
from tests.support.kube import KubeApi
from tests.unit.test_k8s_job_spec import AT, ENV, TARGET

TARGET_ENV = {"CELL_DEFAULT_NAMESPACE": "cell-a", "MARIADB_HA_SERVICE_NAME": "mariadb-ha",
              "MARIADB_HA_SECRET_NAME": "mariadb-root"}
DRILL_ENV = {"DRILL_SERVER_IMAGE": "mariadb:10.11.9", "DRILL_RECOVERY_TARGET_SECONDS": "1800",
             "BACKUP_METRICS_PUSHGATEWAY": "http://pushgateway.monitoring:9091"}
DRILL_JOB_NAME = "mariadb-ha-drill-mariadb-ha-202501310200"
DRILL_LABELS = {
    "app.kubernetes.io/name": "mariadb-ha-backup",
    "app.kubernetes.io/component": "drill",
    "app.kubernetes.io/instance": "mariadb-ha",
    "app.kubernetes.io/managed-by": "mariadb-ha-backup",
}
HARDENED = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
# Every field written out: a change to the drill Job must be deliberate.
EXPECTED_DRILL_JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": DRILL_JOB_NAME, "namespace": "cell-a", "labels": DRILL_LABELS,
                 "annotations": {"mariadb-ha-backup/scheduled-time": "2025-01-31T02:00:37Z"}},
    "spec": {
        "backoffLimit": 0,
        "activeDeadlineSeconds": 14400,
        "ttlSecondsAfterFinished": 259200,
        "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
        "template": {
            "metadata": {"labels": DRILL_LABELS},
            "spec": {
                "serviceAccountName": "mariadb-ha-backup",
                "automountServiceAccountToken": False,
                "restartPolicy": "Never",
                "enableServiceLinks": False,
                "terminationGracePeriodSeconds": 60,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "initContainers": [{
                    "name": "drill-server",
                    "image": "mariadb:10.11.9",
                    "restartPolicy": "Always",
                    "args": ["--bind-address=127.0.0.1", "--skip-name-resolve", "--max-allowed-packet=1G"],
                    "env": [{"name": "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "value": "1"}],
                    "resources": {"requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "20Gi"},
                                  "limits": {"memory": "2Gi", "ephemeral-storage": "21504Mi"}},
                    "securityContext": {**HARDENED, "runAsUser": 999, "runAsGroup": 999},
                    "volumeMounts": [{"name": "datadir", "mountPath": "/var/lib/mysql"},
                                     {"name": "server-run", "mountPath": "/run/mysqld"},
                                     {"name": "server-tmp", "mountPath": "/tmp"}],
                }],
                "containers": [{
                    "name": "agent",
                    "image": "registry.example.com/mariadb-ha-backup:1.2.3",
                    "args": ["drill"],
                    "env": [
                        {"name": "CELL_DEFAULT_NAMESPACE", "value": "cell-a"},
                        {"name": "MARIADB_HA_SERVICE_NAME", "value": "mariadb-ha"},
                        {"name": "BACKUP_TMPDIR", "value": "/var/spool/mariadb-ha-backup"},
                        {"name": "DRILL_SERVER", "value": "127.0.0.1:3306"},
                        {"name": "CLOUD_PROVIDER", "value": "aws"},
                        {"name": "S3_BUCKET", "value": "backups-prod"},
                        {"name": "AWS_REGION", "value": "eu-west-1"},
                        {"name": "BACKUP_FORMAT", "value": "tar.gz"},
                        {"name": "BACKUP_KEEP_LAST", "value": "14"},
                        {"name": "BACKUP_METRICS_PUSHGATEWAY", "value": "http://pushgateway.monitoring:9091"},
                        {"name": "DRILL_RECOVERY_TARGET_SECONDS", "value": "1800"},
                    ],
                    "resources": {"requests": {"cpu": "500m", "memory": "256Mi", "ephemeral-storage": "1Gi"},
                                  "limits": {"memory": "1Gi", "ephemeral-storage": "21760Mi"}},
                    "securityContext": HARDENED,
                    "volumeMounts": [{"name": "spool", "mountPath": "/var/spool/mariadb-ha-backup"},
                                     {"name": "tmp", "mountPath": "/tmp"}],
                }],
                "volumes": [
                    {"name": "spool", "emptyDir": {"sizeLimit": "20Gi"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                    {"name": "datadir", "emptyDir": {"sizeLimit": "20Gi"}},
                    {"name": "server-run", "emptyDir": {"sizeLimit": "16Mi"}},
                    {"name": "server-tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                ],
            },
        },
    },
}


def invoke(kube_api: KubeApi, *, extra: dict[str, str] | None = None, **request: Any) -> dict[str, Any]:
    env = {**ENV, **TARGET_ENV, **DRILL_ENV, **(extra or {}), "KUBECONFIG": str(kube_api.kubeconfig)}
    result = run_invocation(request=DispatchRequest(**{"scheduled_time": AT, **request}), platform="kubeconfig",
                            env=env)
    return result.response()


def test_cluster_receives_the_exact_drill_job(kube_api: KubeApi) -> None:
    response = invoke(kube_api, kind="drill")

    assert response == {"jobs": [{"name": DRILL_JOB_NAME, "namespace": "cell-a", "status": "created"}]}
    assert kube_api.created_jobs() == [EXPECTED_DRILL_JOB]


def test_the_drill_never_gets_the_production_secret_nor_an_api_token(kube_api: KubeApi) -> None:
    invoke(kube_api, kind="drill")
    [job] = kube_api.created_jobs()
    pod = job["spec"]["template"]["spec"]
    text = json.dumps(job)
    assert "mariadb-root" not in text and "MARIADB_HA_SECRET_NAME" not in text
    assert pod["automountServiceAccountToken"] is False
    assert all(c["securityContext"]["readOnlyRootFilesystem"] for c in pod["containers"] + pod["initContainers"])


def test_encrypted_backups_give_the_drill_the_identity_secret_and_a_token(kube_api: KubeApi) -> None:
    invoke(kube_api, kind="drill", extra={"BACKUP_DECRYPT_IDENTITY_SECRET": "backup-age-identity"})
    [job] = kube_api.created_jobs()
    pod = job["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert {"name": "BACKUP_DECRYPT_IDENTITY_SECRET", "value": "backup-age-identity"} in pod["containers"][0]["env"]


def test_dispatch_kind_env_makes_drills_and_a_running_backup_does_not_block_them(kube_api: KubeApi) -> None:
    backup = invoke(kube_api)  # a backup Job of the same target, still running
    drill = invoke(kube_api, extra={"DISPATCH_KIND": "drill"})

    assert backup["jobs"][0]["status"] == "created" and drill["jobs"][0]["status"] == "created"
    assert [j["metadata"]["labels"]["app.kubernetes.io/component"] for j in kube_api.created_jobs()] == [
        "backup", "drill"]


def test_a_running_drill_blocks_the_next_drill(kube_api: KubeApi) -> None:
    running = copy.deepcopy(EXPECTED_DRILL_JOB)
    running["metadata"]["name"] = "mariadb-ha-drill-mariadb-ha-202501240200"
    kube_api.seed_job(running)

    assert invoke(kube_api, kind="drill")["jobs"][0]["status"] == "skipped-active"
    assert kube_api.created_jobs() == []


def test_dispatch_drill_from_the_cli(kube_api: KubeApi) -> None:
    env = {**ENV, **TARGET_ENV, **DRILL_ENV, "KUBECONFIG": str(kube_api.kubeconfig)}

    done = run_cli(["dispatch", "--drill", "--scheduled-time", "2025-01-31T02:00:37Z"], env)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["jobs"] == [{"name": DRILL_JOB_NAME, "namespace": "cell-a", "status": "created"}]
    assert kube_api.created_jobs() == [EXPECTED_DRILL_JOB]


@pytest.mark.parametrize(("extra", "complaint"), [
    ({"DRILL_SERVER_IMAGE": ""}, "DRILL_SERVER_IMAGE is not set"),
    ({"DISPATCH_KIND": "restore"}, "DISPATCH_KIND must be backup or drill, not 'restore'"),
    ({"DRILL_DATADIR_SIZE_LIMIT": "20GB"}, "'20GB' is not a Kubernetes quantity"),
])
def test_bad_drill_settings_fail_before_any_request(kube_api: KubeApi, extra, complaint) -> None:
    env = {**ENV, **TARGET_ENV, **DRILL_ENV, "DISPATCH_KIND": "drill", **extra, "KUBECONFIG": str(kube_api.kubeconfig)}
    with pytest.raises(BadInputError, match=complaint):
        run_invocation(request=DispatchRequest(scheduled_time=AT), platform="kubeconfig", env=env)
    assert kube_api.created_jobs() == []


def test_the_drill_job_and_cronjob_are_valid_kubernetes_1_30() -> None:
    settings = job_settings_from_env({**ENV, **DRILL_ENV})
    cronjob = build_drill_cronjob(target=TARGET, settings=settings, drill=drill_settings_from_env(DRILL_ENV),
                                  schedule="0 6 * * 0")
    for body in (EXPECTED_DRILL_JOB, cronjob):
        kubernetes_validate.validate(body, "1.30.0", strict=True)
    assert cronjob["spec"]["jobTemplate"]["spec"] == EXPECTED_DRILL_JOB["spec"]
