"""The restore-drill Job (and its CronJob) as plain dicts: the agent beside a throwaway MariaDB server.

The pod runs two containers. ``drill-server`` is the user's own MariaDB server image (so the server
version matches production) on an ``emptyDir`` datadir, listening on 127.0.0.1 only, with an empty
root password the agent replaces before restoring; it is a native sidecar (an init container with
``restartPolicy: Always``, Kubernetes 1.29+), so it starts first and the Job completes when the
agent ends. ``agent`` runs ``mariadb-ha-backup drill`` with ``DRILL_SERVER=127.0.0.1:3306``.

What the drill never gets: the production root password (no ``MARIADB_HA_SECRET_NAME``), and a
ServiceAccount token unless encrypted backups need the identity Secret read through the API. The
namespace and service name still reach the agent: they name the bucket prefix and the metrics
group, nothing connects to them. Same hardening as the backup Job (``job_spec``): non-root,
read-only root filesystems, no privilege escalation, all capabilities dropped, resource limits.

Kept apart from ``job_spec`` so the backup Job's builders stay as they are; the labels (component
``drill``) keep the dispatcher's overlap guard for drills separate from the one for backups.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.config import ConfigError
from shared.k8s.job_settings import SPOOL_MOUNT_PATH, JobSettings, quantity_bytes
from shared.k8s.job_spec import (
    SCHEDULED_TIME_ANNOTATION,
    KubeObject,
    _utc,
    _workload_identity_labels,  # the AKS opt-in label, exactly as the backup pod carries it
    agent_container,
    container_security_context,
    cronjob_name,
    job_name,
    pod_security_context,
    target_labels,
)
from shared.k8s.targets import Target

DRILL_JOB_PREFIX = "mariadb-ha-drill-"
DRILL_COMPONENT = "drill"
SERVER_CONTAINER = "drill-server"
# The server listens where only the pod's own containers reach it; the agent is told this address.
SERVER_ADDRESS = "127.0.0.1:3306"
# The official MariaDB image's server arguments: loopback only, no DNS lookups, any row the source had.
SERVER_ARGS = ("--bind-address=127.0.0.1", "--skip-name-resolve", "--max-allowed-packet=1G")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$", re.IGNORECASE)
# A failed drill is an answer, not a glitch: a second pod would drill the same backup again. An
# evicted or preempted pod is ignored by the pod failure policy instead of counting as a failure.
_BACKOFF_LIMIT = 0
_TERMINATION_GRACE_SECONDS = 60


@dataclass(frozen=True)
class DrillSettings:
    # The user's MariaDB server image (the version production runs), e.g. mariadb:10.11.
    server_image: str
    # The official image's mysql user; its datadir, /run/mysqld and /tmp are emptyDirs it owns via fsGroup.
    server_run_as_user: int = 999
    # The restored data lives here: size it for the largest database plus InnoDB's logs.
    datadir_size_limit: str = "20Gi"
    server_cpu_request: str = "500m"
    server_memory_request: str = "1Gi"
    server_memory_limit: str = "2Gi"
    # Published beside the measured restore time for MariaDBRecoveryTimeAboveTarget; None: not set.
    recovery_target_seconds: int | None = None
    # Set when backups are encrypted: the agent reads this Secret's age identity through the API.
    identity_secret: str | None = None
    # Drill the newest archived second (backup + binlog replay) instead of the newest backup.
    point: bool = False


_TUNABLES = {
    "DRILL_SERVER_RUN_AS_USER": ("server_run_as_user", "int"),
    "DRILL_DATADIR_SIZE_LIMIT": ("datadir_size_limit", "quantity"),
    "DRILL_SERVER_CPU_REQUEST": ("server_cpu_request", "text"),
    "DRILL_SERVER_MEMORY_REQUEST": ("server_memory_request", "quantity"),
    "DRILL_SERVER_MEMORY_LIMIT": ("server_memory_limit", "quantity"),
    "DRILL_RECOVERY_TARGET_SECONDS": ("recovery_target_seconds", "int"),
    "BACKUP_DECRYPT_IDENTITY_SECRET": ("identity_secret", "text"),
}


def drill_settings_from_env(env: Mapping[str, str]) -> DrillSettings:
    image = env.get("DRILL_SERVER_IMAGE", "").strip()
    if not image:
        raise ConfigError("DRILL_SERVER_IMAGE is not set: the drill Job needs your MariaDB server image "
                          "(e.g. mariadb:10.11, the version production runs)")
    if not _IMAGE.match(image):
        raise ConfigError(f"DRILL_SERVER_IMAGE {image[:120]!r} is not a container image reference")
    values: dict[str, Any] = {}
    for name, (field_name, kind) in _TUNABLES.items():
        value = env.get(name, "").strip()
        if not value:
            continue
        if kind == "int" and (not value.isdigit() or int(value) == 0):
            raise ConfigError(f"{name} must be a positive whole number, not {value[:40]!r}")
        if kind == "quantity":
            quantity_bytes(value)  # raises ConfigError naming the bad quantity
        values[field_name] = int(value) if kind == "int" else value
    point = env.get("DRILL_POINT", "").strip().lower()
    if point not in ("", "0", "1", "true", "false"):
        raise ConfigError(f"DRILL_POINT must be 1 or 0, not {point[:20]!r}")
    return DrillSettings(server_image=image, point=point in ("1", "true"), **values)


def drill_labels(target: Target) -> dict[str, str]:
    return {**target_labels(target), "app.kubernetes.io/component": DRILL_COMPONENT}


def drill_job_name(target: Target, scheduled_time: datetime) -> str:
    """``mariadb-ha-drill-<service>-<YYYYMMDDHHMM>``, from the scheduled time like a backup Job's name."""
    return job_name(target, scheduled_time, prefix=DRILL_JOB_PREFIX)


def drill_cronjob_name(target: Target) -> str:
    return cronjob_name(target, prefix=DRILL_JOB_PREFIX)


def build_drill_job(*, target: Target, settings: JobSettings, drill: DrillSettings,
                    scheduled_time: datetime) -> KubeObject:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": drill_job_name(target, scheduled_time),
            "namespace": target.namespace,
            "labels": drill_labels(target),
            "annotations": {SCHEDULED_TIME_ANNOTATION: _utc(scheduled_time).strftime("%Y-%m-%dT%H:%M:%SZ")},
        },
        "spec": drill_job_spec(target=target, settings=settings, drill=drill),
    }


def build_drill_cronjob(*, target: Target, settings: JobSettings, drill: DrillSettings, schedule: str) -> KubeObject:
    if len(schedule.split()) != 5:
        raise ConfigError(f"schedule {schedule[:60]!r} is not a 5-field cron expression")
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": drill_cronjob_name(target), "namespace": target.namespace,
                     "labels": drill_labels(target)},
        "spec": {
            "schedule": schedule, "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
            "jobTemplate": {"metadata": {"labels": drill_labels(target)},
                            "spec": drill_job_spec(target=target, settings=settings, drill=drill)},
        },
    }


def drill_job_spec(*, target: Target, settings: JobSettings, drill: DrillSettings) -> KubeObject:
    return {
        "backoffLimit": _BACKOFF_LIMIT,
        "activeDeadlineSeconds": settings.active_deadline_seconds,
        "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
        "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]},
        "template": drill_pod_template(target=target, settings=settings, drill=drill),
    }


def drill_pod_template(*, target: Target, settings: JobSettings, drill: DrillSettings) -> KubeObject:
    return {
        "metadata": {"labels": {**drill_labels(target), **_workload_identity_labels(settings)}},
        "spec": {
            "serviceAccountName": settings.service_account,
            # The bucket identity (IRSA, GKE and Azure workload identity) needs no API token; only reading
            # the identity Secret of encrypted backups does.
            "automountServiceAccountToken": drill.identity_secret is not None,
            "restartPolicy": "Never",
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": _TERMINATION_GRACE_SECONDS,
            "securityContext": pod_security_context(settings.run_as_user),
            "initContainers": [_server_container(drill)],
            "containers": [_agent_container(target=target, settings=settings, drill=drill)],
            "volumes": [
                {"name": "spool", "emptyDir": {"sizeLimit": settings.spool_size_limit}},
                {"name": "tmp", "emptyDir": {"sizeLimit": settings.tmp_size_limit}},
                {"name": "datadir", "emptyDir": {"sizeLimit": drill.datadir_size_limit}},
                # The server's socket and pid file, and its own scratch space.
                {"name": "server-run", "emptyDir": {"sizeLimit": "16Mi"}},
                {"name": "server-tmp", "emptyDir": {"sizeLimit": settings.tmp_size_limit}},
            ],
        },
    }


def _server_container(drill: DrillSettings) -> KubeObject:
    return {
        "name": SERVER_CONTAINER,
        "image": drill.server_image,
        # A native sidecar: started before the agent, stopped once the agent has ended.
        "restartPolicy": "Always",
        "args": list(SERVER_ARGS),
        # Safe only because the server listens on loopback inside this pod; the agent sets a random
        # password before it restores anything (agent/drill/given_server.py).
        "env": [{"name": "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "value": "1"}],
        "resources": {
            "requests": {"cpu": drill.server_cpu_request, "memory": drill.server_memory_request,
                         "ephemeral-storage": drill.datadir_size_limit},
            "limits": {"memory": drill.server_memory_limit, "ephemeral-storage": _server_storage_limit(drill)},
        },
        "securityContext": container_security_context(drill.server_run_as_user),
        "volumeMounts": [
            {"name": "datadir", "mountPath": "/var/lib/mysql"},
            {"name": "server-run", "mountPath": "/run/mysqld"},
            {"name": "server-tmp", "mountPath": "/tmp"},  # noqa: S108  # an emptyDir, not the host's /tmp
        ],
    }


def _server_storage_limit(drill: DrillSettings) -> str:
    # The datadir plus a GiB for the server's logs and temporary tables (the same headroom as the agent's).
    return f"{-(-(quantity_bytes(drill.datadir_size_limit) + 2**30) // 2**20)}Mi"


def _agent_container(*, target: Target, settings: JobSettings, drill: DrillSettings) -> KubeObject:
    env = {
        # They name the bucket prefix and the metrics group; the drill never connects to the service.
        "CELL_DEFAULT_NAMESPACE": target.namespace,
        "MARIADB_HA_SERVICE_NAME": target.service,
        "BACKUP_TMPDIR": SPOOL_MOUNT_PATH,
        "DRILL_SERVER": SERVER_ADDRESS,
        **settings.agent_env,
    }
    if drill.recovery_target_seconds is not None:
        env["DRILL_RECOVERY_TARGET_SECONDS"] = str(drill.recovery_target_seconds)
    if drill.identity_secret is not None:
        env["BACKUP_DECRYPT_IDENTITY_SECRET"] = drill.identity_secret
    if drill.point:
        env["DRILL_POINT"] = "1"
    return agent_container(settings, command="drill", env=env)
