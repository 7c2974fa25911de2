"""The backup Job (and the equivalent CronJob) as plain dicts: no cluster, no ``kubernetes`` import.

The functions create the Job; clusters without cloud functions use the CronJob rendered by infra. Both
wrap the same pod template and Job spec (``build_pod_template``, ``_job_spec``) so the two paths cannot
drift: a test compares them.

Job names are derived from the *scheduled* time, not the time the function happened to run, so a
retried or duplicated invocation asks for the same name and gets 409 AlreadyExists instead of a
second backup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.config import DEFAULT_SECRET_KEY, ConfigError
from shared.errors import NO_RETRY_EXIT_CODES
from shared.k8s.job_settings import SPOOL_MOUNT_PATH, JobSettings
from shared.k8s.targets import Target

JOB_NAME_PREFIX = "mariadb-ha-backup-"
CONTAINER_NAME = "agent"
SCHEDULED_TIME_ANNOTATION = "mariadb-ha-backup/scheduled-time"
# Job names are DNS labels (63); CronJob names leave 11 characters for the controller's suffix.
_JOB_NAME_MAX = 63
_CRONJOB_NAME_MAX = 52
_STAMP_FORMAT = "%Y%m%d%H%M"
# The agent aborts multipart uploads and removes its spool on SIGTERM; slow object stores need a moment.
_TERMINATION_GRACE_SECONDS = 60

# A Kubernetes object body (Job, CronJob, pod template, container) as the API takes it; not a backup
# manifest (shared.manifest.Manifest).
KubeObject = dict[str, Any]


def target_labels(target: Target) -> dict[str, str]:
    """Labels on the Job and its pods; the overlap guard lists Jobs by exactly these."""
    return {
        "app.kubernetes.io/name": "mariadb-ha-backup",
        "app.kubernetes.io/component": "backup",
        "app.kubernetes.io/instance": target.service,
        "app.kubernetes.io/managed-by": "mariadb-ha-backup",
    }


def label_selector(target: Target) -> str:
    return ",".join(f"{key}={value}" for key, value in target_labels(target).items())


def job_name(target: Target, scheduled_time: datetime, *, prefix: str = JOB_NAME_PREFIX) -> str:
    """``mariadb-ha-backup-<service>-<YYYYMMDDHHMM>`` (UTC), shortened with a hash to stay a DNS label."""
    stamp = _utc(scheduled_time).strftime(_STAMP_FORMAT)
    room = _JOB_NAME_MAX - len(prefix) - len(stamp) - 1
    return f"{prefix}{_fit(target.service, room)}-{stamp}"


def cronjob_name(target: Target, *, prefix: str = JOB_NAME_PREFIX) -> str:
    return prefix + _fit(target.service, _CRONJOB_NAME_MAX - len(prefix))


def build_job(*, target: Target, settings: JobSettings, scheduled_time: datetime) -> KubeObject:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(target, scheduled_time),
            "namespace": target.namespace,
            "labels": target_labels(target),
            "annotations": {SCHEDULED_TIME_ANNOTATION: _utc(scheduled_time).strftime("%Y-%m-%dT%H:%M:%SZ")},
        },
        "spec": _job_spec(target=target, settings=settings),
    }


def build_cronjob(*, target: Target, settings: JobSettings, schedule: str) -> KubeObject:
    """A CronJob running the same Job spec on ``schedule`` (cron syntax, UTC)."""
    return cronjob_around(name=cronjob_name(target), namespace=target.namespace, labels=target_labels(target),
                          schedule=schedule, job_spec=_job_spec(target=target, settings=settings))


def cronjob_around(*, name: str, namespace: str, labels: dict[str, str], schedule: str,
                   job_spec: KubeObject) -> KubeObject:
    """A CronJob that runs ``job_spec`` on ``schedule`` (UTC), one run at a time."""
    if len(schedule.split()) != 5:
        raise ConfigError(f"schedule {schedule[:60]!r} is not a 5-field cron expression")
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "schedule": schedule,
            "timeZone": "Etc/UTC",
            # The CronJob's own overlap guard, the counterpart of the dispatcher's skipped-active.
            "concurrencyPolicy": "Forbid",
            # A run missed by more than an hour (controller down) is skipped rather than started late.
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"metadata": {"labels": dict(labels)}, "spec": job_spec},
        },
    }


def build_pod_template(*, target: Target, settings: JobSettings) -> KubeObject:
    return {
        "metadata": {"labels": {**target_labels(target), **_workload_identity_labels(settings)}},
        "spec": {
            "serviceAccountName": settings.service_account,
            "restartPolicy": "Never",
            # Service links would add a dozen *_SERVICE_HOST variables per Service; the agent uses DNS.
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": _TERMINATION_GRACE_SECONDS,
            "securityContext": pod_security_context(settings.run_as_user),
            "containers": [_container(target=target, settings=settings)],
            "volumes": [
                {"name": "spool", "emptyDir": {"sizeLimit": settings.spool_size_limit}},
                {"name": "tmp", "emptyDir": {"sizeLimit": settings.tmp_size_limit}},
            ],
        },
    }


def _workload_identity_labels(settings: JobSettings) -> dict[str, str]:
    """AKS only injects the federated token into pods that opt in with this label; EKS and GKE need
    no pod label (their identity comes from the ServiceAccount)."""
    if settings.agent_env.get("CLOUD_PROVIDER") == "azure":
        return {"azure.workload.identity/use": "true"}
    return {}


def _job_spec(*, target: Target, settings: JobSettings) -> KubeObject:
    return {
        "backoffLimit": settings.backoff_limit,
        "activeDeadlineSeconds": settings.active_deadline_seconds,
        "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
        "podFailurePolicy": {"rules": [
            # First: an evicted or preempted pod says nothing about the backup, whatever its exit code.
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": CONTAINER_NAME, "operator": "In",
                                                  "values": list(NO_RETRY_EXIT_CODES)}},
        ]},
        "template": build_pod_template(target=target, settings=settings),
    }


def _container(*, target: Target, settings: JobSettings) -> KubeObject:
    env = {
        "CELL_DEFAULT_NAMESPACE": target.namespace,
        "MARIADB_HA_SERVICE_NAME": target.service,
        "MARIADB_HA_SECRET_NAME": target.secret,
        # Only when it is not the agent's default, so Jobs of the default shape stay as they were.
        **({"MARIADB_HA_SECRET_KEY": target.password_key} if target.password_key != DEFAULT_SECRET_KEY else {}),
        "BACKUP_TMPDIR": SPOOL_MOUNT_PATH,
        **settings.agent_env,
        **({"BACKUP_DUMP_THREADS": str(target.dump_threads)} if target.dump_threads is not None else {}),
    }
    return agent_container(settings, command="backup", env=env)


def agent_container(settings: JobSettings, *, command: str, env: Mapping[str, str]) -> KubeObject:
    """The agent's container running ``command``, with the spool and /tmp emptyDirs mounted (a read-only root
    filesystem leaves them the only places to write)."""
    return {
        "name": CONTAINER_NAME,
        "image": settings.image,
        # The image's ENTRYPOINT is ["mariadb-ha-backup"].
        "args": [command],
        "env": [{"name": name, "value": value} for name, value in env.items()],
        "resources": agent_resources(settings),
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "spool", "mountPath": SPOOL_MOUNT_PATH}, {"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108  # an emptyDir, not the host's /tmp
    }


def pod_security_context(uid: int) -> KubeObject:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"}}


def container_security_context(uid: int | None = None) -> KubeObject:
    """Every container of ours: no privilege escalation, read-only root, no capabilities; ``uid`` when the
    container runs as another user than the pod (the drill's MariaDB server)."""
    context: KubeObject = {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
    }
    if uid is not None:
        context.update(runAsUser=uid, runAsGroup=uid)
    return context


def agent_resources(settings: JobSettings) -> KubeObject:
    """The agent container's requests and limits (a CPU limit only when one is set)."""
    resources: KubeObject = {
        "requests": {"cpu": settings.cpu_request, "memory": settings.memory_request,
                     "ephemeral-storage": settings.ephemeral_storage_request},
        "limits": {"memory": settings.memory_limit,
                   "ephemeral-storage": settings.effective_ephemeral_storage_limit},
    }
    if settings.cpu_limit:
        resources["limits"]["cpu"] = settings.cpu_limit
    return resources


def _fit(text: str, room: int) -> str:
    """``text`` if it fits in ``room`` characters, else a prefix plus a short hash (unique, still a label)."""
    if len(text) <= room:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: room - len(digest) - 1].rstrip('-')}-{digest}"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("scheduled time must be timezone-aware")
    return moment.astimezone(UTC)
