"""Create one backup Job per target, idempotently, without piling up runs.

Per target: list the target's Jobs by label; an unfinished one means a backup is still running, so
report ``skipped-active`` (or ``exists`` when it is this very schedule's Job); otherwise create the
Job, and a 409 AlreadyExists (a retried or duplicated invocation) is reported as ``exists``. A
failure is recorded for its target and the loop goes on: one broken namespace must not stop the
fleet's backups.

With ``physical`` settings (``BACKUP_METHOD=physical``) each target's Job is first pinned to a node
chosen from the pods behind its Service (``physical_job``); that lookup reads the cluster even on a
dry run, since the Job cannot be written without it.

"Unfinished" means no Complete/Failed condition yet, not ``status.active > 0``: a Job the
controller has not picked up yet has no status at all and must still count as running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.errors import BackupFailedError, BadInputError, ToolError
from shared.k8s.api_calls import REQUEST_TIMEOUT, call_api, refused, server_message
from shared.k8s.clients import ClusterAccess
from shared.k8s.job_settings import JobSettings
from shared.k8s.job_spec import KubeObject, build_job
from shared.k8s.physical_job import PhysicalSettings, build_physical_job
from shared.k8s.targets import Target

log = logging.getLogger("mariadb_ha_backup.dispatch")

CREATED, EXISTS, SKIPPED_ACTIVE, DRY_RUN, FAILED = "created", "exists", "skipped-active", "dry-run", "failed"


class JobRejectedError(BadInputError):
    """The API server refused the Job as invalid (422) or the namespace does not exist (404)."""


@dataclass(frozen=True)
class JobOutcome:
    name: str
    namespace: str
    status: str
    job: KubeObject | None = None  # the Job body, on a dry run only
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "namespace": self.namespace, "status": self.status}
        if self.job is not None:
            entry["job"] = self.job
            # The test-invocation response is a contract whose first version called the Job body
            # "manifest"; scripts that read it keep working. Deprecated: read "job".
            entry["manifest"] = self.job
        if self.error is not None:
            entry["error"] = self.error
        return entry


def dispatch_jobs(
    *, targets: Sequence[Target], settings: JobSettings, scheduled_time: datetime,
    access: ClusterAccess | None, dry_run: bool = False, build: Callable[..., KubeObject] = build_job,
    physical: PhysicalSettings | None = None,
) -> list[JobOutcome]:
    """One outcome per target, in order. ``access`` may be None only for a logical dry run. ``build`` makes
    the Job (called with ``target``, ``settings``, ``scheduled_time``): the backup Job unless told otherwise;
    ``physical`` pins a backup Job to the chosen Galera node's Kubernetes node and data volume."""
    outcomes = []
    for target in targets:
        job = build(target=target, settings=settings, scheduled_time=scheduled_time)
        name = job["metadata"]["name"]
        if physical is not None:
            if access is None:
                raise ValueError("cluster access is required for a physical backup Job, even on a dry run")
            try:
                job = _pinned(job, target=target, physical=physical, access=access)
            except ToolError as exc:
                log.warning("no physical backup Job for %s: %s", target.label, exc,
                            extra={"event": "dispatch_failed", "target": target.label})
                outcomes.append(JobOutcome(name=name, namespace=target.namespace, status=FAILED, error=str(exc)))
                continue
        if dry_run:
            outcomes.append(JobOutcome(name=name, namespace=target.namespace, status=DRY_RUN, job=job))
            continue
        if access is None:
            raise ValueError("cluster access is required unless dry_run")
        outcomes.append(_dispatch_one(target=target, job=job, access=access))
    return outcomes


def _pinned(job: KubeObject, *, target: Target, physical: PhysicalSettings, access: ClusterAccess) -> KubeObject:
    from shared.k8s.galera_nodes import find_backup_node

    node = find_backup_node(access=access, namespace=target.namespace, service=target.service,
                            preferred=physical.preferred_pods, server_container=physical.server_container,
                            fallback_uid=physical.fallback_uid)
    return build_physical_job(job=job, target=target, node=node, settings=physical)


def _dispatch_one(*, target: Target, job: KubeObject, access: ClusterAccess) -> JobOutcome:
    name = job["metadata"]["name"]
    try:
        status = _create_unless_active(target=target, job=job, access=access)
    except ToolError as exc:
        log.warning("backup Job for %s failed: %s", target.label, exc,
                    extra={"event": "dispatch_failed", "target": target.label})
        return JobOutcome(name=name, namespace=target.namespace, status=FAILED, error=str(exc))
    except Exception as exc:  # one target's surprise must not stop the others
        log.exception("backup Job for %s failed unexpectedly", target.label)
        return JobOutcome(name=name, namespace=target.namespace, status=FAILED,
                          error=f"unexpected {type(exc).__name__}: {str(exc)[:300]}")
    log.info("backup Job %s/%s: %s", target.namespace, name, status,
             extra={"event": "dispatched", "job": name, "namespace": target.namespace, "status": status})
    return JobOutcome(name=name, namespace=target.namespace, status=status)


def _create_unless_active(*, target: Target, job: KubeObject, access: ClusterAccess) -> str:
    from kubernetes.client import BatchV1Api
    from kubernetes.client.exceptions import ApiException

    batch = BatchV1Api(access.api_client)
    name, namespace = job["metadata"]["name"], target.namespace
    try:
        # The Job's own labels: a running drill blocks the next drill, never a backup (their components differ).
        selector = ",".join(f"{key}={value}" for key, value in job["metadata"]["labels"].items())
        jobs = call_api(lambda: batch.list_namespaced_job(namespace, label_selector=selector,
                                                          _request_timeout=REQUEST_TIMEOUT),
                        what=f"listing backup Jobs in namespace {namespace!r}")
        running = [other.metadata.name for other in jobs.items if other.metadata and not _finished(other)]
        if running:
            return EXISTS if name in running else SKIPPED_ACTIVE
        call_api(lambda: batch.create_namespaced_job(
                     namespace,
                     job,  # type: ignore[arg-type]  # the client sends a plain dict exactly as built
                     _request_timeout=REQUEST_TIMEOUT),
                 what=f"creating Job {name!r} in namespace {namespace!r}")
    except ApiException as exc:
        if exc.status == 409:
            return EXISTS
        raise _api_error(exc, namespace=namespace, identity=access.identity) from None
    return CREATED


def _finished(job: Any) -> bool:
    conditions = (job.status.conditions if job.status else None) or []
    return any(c.type in ("Complete", "Failed") and c.status == "True" for c in conditions)


def _api_error(exc: Any, *, namespace: str, identity: str) -> ToolError:
    message = server_message(exc.body)
    what = f"backup Jobs in namespace {namespace!r}"
    if exc.status in (401, 403):
        return refused(status=exc.status, reason=exc.reason or "", server_message=message,
                       identity=identity, what=what)
    if exc.status in (404, 422):
        return JobRejectedError(f"{what}: HTTP {exc.status} {exc.reason}: {message}")
    return BackupFailedError(f"{what}: HTTP {exc.status} {exc.reason}: {message}")
