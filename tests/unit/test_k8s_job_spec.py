"""The backup Job as the cluster receives it, the CronJob twin, names and settings validation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import kubernetes_validate
import pytest

from shared.errors import BadInputError
from shared.k8s.job_settings import job_settings_from_env
from shared.k8s.job_spec import build_cronjob, build_job, job_name
from shared.k8s.targets import Target

ENV = {"AGENT_IMAGE": "registry.example.com/mariadb-ha-backup:1.2.3", "CLOUD_PROVIDER": "aws",
       "S3_BUCKET": "backups-prod", "AWS_REGION": "eu-west-1", "BACKUP_FORMAT": "tar.gz",
       "BACKUP_KEEP_LAST": "14"}
TARGET = Target(namespace="cell-a", service="mariadb-ha", secret="mariadb-root")
AT = datetime(2025, 1, 31, 2, 0, 37, tzinfo=UTC)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

EXPECTED_LABELS = {
    "app.kubernetes.io/name": "mariadb-ha-backup",
    "app.kubernetes.io/component": "backup",
    "app.kubernetes.io/instance": "mariadb-ha",
    "app.kubernetes.io/managed-by": "mariadb-ha-backup",
}
# The whole Job with every default, written out: a change to any field must be deliberate.
EXPECTED_JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {
        "name": "mariadb-ha-backup-mariadb-ha-202501310200",
        "namespace": "cell-a",
        "labels": EXPECTED_LABELS,
        "annotations": {"mariadb-ha-backup/scheduled-time": "2025-01-31T02:00:37Z"},
    },
    "spec": {
        "backoffLimit": 2,
        "activeDeadlineSeconds": 14400,
        "ttlSecondsAfterFinished": 259200,
        "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "agent", "operator": "In", "values": [2, 3]}},
        ]},
        "template": {
            "metadata": {"labels": EXPECTED_LABELS},
            "spec": {
                "serviceAccountName": "mariadb-ha-backup",
                "restartPolicy": "Never",
                "enableServiceLinks": False,
                "terminationGracePeriodSeconds": 60,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                    "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "agent",
                    "image": "registry.example.com/mariadb-ha-backup:1.2.3",
                    "args": ["backup"],
                    "env": [
                        {"name": "CELL_DEFAULT_NAMESPACE", "value": "cell-a"},
                        {"name": "MARIADB_HA_SERVICE_NAME", "value": "mariadb-ha"},
                        {"name": "MARIADB_HA_SECRET_NAME", "value": "mariadb-root"},
                        {"name": "BACKUP_TMPDIR", "value": "/var/spool/mariadb-ha-backup"},
                        {"name": "CLOUD_PROVIDER", "value": "aws"},
                        {"name": "S3_BUCKET", "value": "backups-prod"},
                        {"name": "AWS_REGION", "value": "eu-west-1"},
                        {"name": "BACKUP_FORMAT", "value": "tar.gz"},
                        {"name": "BACKUP_KEEP_LAST", "value": "14"},
                    ],
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "256Mi", "ephemeral-storage": "1Gi"},
                        "limits": {"memory": "1Gi", "ephemeral-storage": "21760Mi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "volumeMounts": [{"name": "spool", "mountPath": "/var/spool/mariadb-ha-backup"},
                                     {"name": "tmp", "mountPath": "/tmp"}],
                }],
                "volumes": [{"name": "spool", "emptyDir": {"sizeLimit": "20Gi"}},
                            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
            },
        },
    },
}


def test_job_with_defaults() -> None:
    job = build_job(target=TARGET, settings=job_settings_from_env(ENV), scheduled_time=AT)
    assert job == EXPECTED_JOB


def test_job_and_cronjob_are_valid_kubernetes_objects() -> None:
    settings = job_settings_from_env({**ENV, "JOB_CPU_LIMIT": "2"})
    job = build_job(target=TARGET, settings=settings, scheduled_time=AT)
    cron = build_cronjob(target=TARGET, settings=settings, schedule="0 2 * * *")
    for manifest in (job, cron):
        kubernetes_validate.validate(manifest, "1.30.0", strict=True)


def test_cronjob_runs_exactly_the_job_spec() -> None:
    settings = job_settings_from_env(ENV)
    job = build_job(target=TARGET, settings=settings, scheduled_time=AT)
    cron = build_cronjob(target=TARGET, settings=settings, schedule="0 2 * * *")
    assert cron["spec"]["jobTemplate"]["spec"] == job["spec"]
    assert cron["spec"]["jobTemplate"]["spec"]["template"] == job["spec"]["template"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["metadata"]["name"] == "mariadb-ha-backup-mariadb-ha"


def test_tunables_reach_the_job() -> None:
    env = {**ENV, "AGENT_SERVICE_ACCOUNT": "backup-agent", "JOB_BACKOFF_LIMIT": "0",
           "JOB_ACTIVE_DEADLINE_SECONDS": "600", "JOB_TTL_SECONDS_AFTER_FINISHED": "60",
           "JOB_SPOOL_SIZE_LIMIT": "2Gi", "JOB_CPU_LIMIT": "2", "JOB_MEMORY_LIMIT": "2Gi",
           "JOB_EPHEMERAL_STORAGE_LIMIT": "3Gi", "JOB_RUN_AS_USER": "4242"}
    spec = build_job(target=TARGET, settings=job_settings_from_env(env), scheduled_time=AT)["spec"]
    pod = spec["template"]["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (0, 600, 60)
    assert pod["serviceAccountName"] == "backup-agent"
    assert pod["securityContext"]["runAsUser"] == 4242
    assert pod["volumes"][0] == {"name": "spool", "emptyDir": {"sizeLimit": "2Gi"}}
    assert pod["containers"][0]["resources"]["limits"] == {"memory": "2Gi", "ephemeral-storage": "3Gi", "cpu": "2"}


def test_no_password_or_foreign_variable_reaches_the_job() -> None:
    env = {**ENV, "MARIADB_PASSWORD": "hunter2", "AWS_SECRET_ACCESS_KEY": "wJalr", "MARIADB_PASSWORD_FILE": "/p"}
    job = build_job(target=TARGET, settings=job_settings_from_env(env), scheduled_time=AT)
    assert "hunter2" not in repr(job) and "wJalr" not in repr(job)
    names = {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not names & {"MARIADB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "MARIADB_PASSWORD_FILE"}


def test_job_name_is_the_scheduled_minute_in_utc() -> None:
    later_in_minute = AT.replace(second=59)
    same_instant_elsewhere = AT.astimezone(timezone(timedelta(hours=-5)))
    assert job_name(TARGET, later_in_minute) == job_name(TARGET, AT) == job_name(TARGET, same_instant_elsewhere)
    assert job_name(TARGET, AT + timedelta(minutes=1)) == "mariadb-ha-backup-mariadb-ha-202501310201"


def test_long_targets_are_shortened_to_distinct_dns_labels() -> None:
    long_a = Target(namespace="ns", service="a" * 40 + "-primary-cluster-service", secret="s")
    long_b = Target(namespace="ns", service="a" * 40 + "-replica-cluster-service", secret="s")
    names = {job_name(t, AT) for t in (long_a, long_b)}
    assert len(names) == 2
    for name in names:
        assert len(name) <= 63 and DNS_LABEL.match(name), name
        assert name.startswith("mariadb-ha-backup-aaaa") and name.endswith("-202501310200")
    exact_fit = Target(namespace="ns", service="s" * 32, secret="s")
    assert job_name(exact_fit, AT) == f"mariadb-ha-backup-{'s' * 32}-202501310200"


@pytest.mark.parametrize(("env", "message"), [
    ({"CLOUD_PROVIDER": "aws"}, "AGENT_IMAGE is not set"),
    ({"AGENT_IMAGE": "img:1"}, "set CLOUD_PROVIDER (and its bucket variable) or BACKUP_URL"),
    ({**ENV, "JOB_SPOOL_SIZE_LIMIT": "20 GB"}, "JOB_SPOOL_SIZE_LIMIT '20 GB' is not a quantity"),
    ({**ENV, "JOB_BACKOFF_LIMIT": "-1"}, "JOB_BACKOFF_LIMIT must be a whole number"),
    ({**ENV, "JOB_CPU_REQUEST": "lots"}, "JOB_CPU_REQUEST 'lots' is not a CPU quantity"),
    ({**ENV, "JOB_RUN_AS_USER": "0"}, "JOB_RUN_AS_USER must not be 0"),
    ({**ENV, "JOB_EPHEMERAL_STORAGE_LIMIT": "1Gi"}, "JOB_EPHEMERAL_STORAGE_LIMIT is below JOB_SPOOL_SIZE_LIMIT"),
    ({**ENV, "AGENT_IMAGE": "img; rm -rf /"}, "is not a container image reference"),
])
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(BadInputError) as caught:
        job_settings_from_env(env)
    assert message in str(caught.value)


def test_cron_schedule_must_have_five_fields() -> None:
    with pytest.raises(BadInputError, match="is not a 5-field cron expression"):
        build_cronjob(target=TARGET, settings=job_settings_from_env(ENV), schedule="0 0 2 * * *")


def test_azure_pods_opt_in_to_workload_identity() -> None:
    azure = job_settings_from_env({"AGENT_IMAGE": "img:1", "CLOUD_PROVIDER": "azure",
                                   "AZURE_STORAGE_CONTAINER": "backups", "AZURE_STORAGE_ACCOUNT": "acct"})
    aws = job_settings_from_env(ENV)
    azure_pod = build_job(target=TARGET, settings=azure, scheduled_time=AT)["spec"]["template"]
    aws_pod = build_job(target=TARGET, settings=aws, scheduled_time=AT)["spec"]["template"]
    assert azure_pod["metadata"]["labels"] == {**EXPECTED_LABELS, "azure.workload.identity/use": "true"}
    assert aws_pod["metadata"]["labels"] == EXPECTED_LABELS
