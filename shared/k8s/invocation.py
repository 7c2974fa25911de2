"""One dispatch invocation, the same for the three functions and ``mariadb-ha-backup dispatch``.

Each entry point only extracts (a) the optional test payload ``{"dry_run", "scheduled_time",
"targets"}`` and (b) its platform's notion of the scheduled time, then calls ``run_invocation``. The
payload is parsed strictly: a typo such as ``"dryrun": true`` from a console test must fail loudly
rather than silently create real Jobs.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.config import ConfigError
from shared.errors import BackupFailedError
from shared.k8s.dispatching import FAILED, JobOutcome, dispatch_jobs
from shared.k8s.job_settings import job_settings_from_env
from shared.k8s.job_spec import build_job
from shared.k8s.physical_job import physical_settings_from_env
from shared.k8s.targets import Target, parse_targets, targets_from_env, with_default_secret_key
from shared.times import parse_time

PAYLOAD_KEYS = ("dry_run", "scheduled_time", "targets")


class PayloadError(ConfigError):
    """The test-invocation payload is not ``{"dry_run": bool, "scheduled_time": RFC3339, "targets": [...]}``."""


class DispatchIncompleteError(BackupFailedError):
    """At least one target failed; the others were dispatched. Raised so the platform retries,
    which is safe: the Job names are deterministic, so created Jobs come back as ``exists``."""


# What a dispatch creates: backup Jobs (the default), or restore-drill Jobs (``DISPATCH_KIND=drill``
# on a second schedule, or ``mariadb-ha-backup dispatch --drill``; shared/k8s/drill_spec.py).
BACKUP_KIND, DRILL_KIND = "backup", "drill"


@dataclass(frozen=True)
class DispatchRequest:
    dry_run: bool = False
    scheduled_time: datetime | None = None
    targets: list[Target] | None = None
    kind: str | None = None  # None: DISPATCH_KIND, else backup


@dataclass(frozen=True)
class DispatchResult:
    outcomes: list[JobOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[JobOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == FAILED]

    def counts(self) -> Counter[str]:
        return Counter(outcome.status for outcome in self.outcomes)

    def response(self) -> dict[str, Any]:
        return {"jobs": [outcome.to_json() for outcome in self.outcomes]}

    def raise_if_failed(self) -> None:
        if self.failed:
            details = "; ".join(f"{o.namespace}/{o.name}: {o.error}" for o in self.failed)
            raise DispatchIncompleteError(f"{len(self.failed)} of {len(self.outcomes)} backup Job(s) failed: {details}")


def parse_request(payload: Any) -> DispatchRequest:
    """Validate the optional payload; ``None`` or ``{}`` means a normal scheduled run."""
    if payload is None:
        return DispatchRequest()
    if not isinstance(payload, dict):
        raise PayloadError("the invocation payload must be a JSON object with dry_run, scheduled_time, targets")
    unknown = sorted(set(payload) - set(PAYLOAD_KEYS))
    if unknown:
        raise PayloadError(f"unknown payload field(s) {', '.join(map(repr, unknown))}; "
                           f"allowed: {', '.join(PAYLOAD_KEYS)}")
    dry_run = payload.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise PayloadError("payload dry_run must be true or false")
    scheduled = payload.get("scheduled_time")
    if scheduled is not None and not isinstance(scheduled, str):
        raise PayloadError("payload scheduled_time must be an RFC 3339 string such as 2025-01-31T02:00:00Z")
    targets = payload.get("targets")
    return DispatchRequest(
        dry_run=dry_run,
        scheduled_time=parse_time(scheduled, what="payload scheduled_time") if scheduled else None,
        targets=parse_targets(targets, source="payload targets") if targets is not None else None,
    )


def run_invocation(
    *, request: DispatchRequest, platform: str, platform_time: datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> DispatchResult:
    """Dispatch per ``request``; the scheduled time is the payload's, else the platform's, else now.

    ``platform`` selects cluster access: ``kubeconfig``, ``eks``, ``gke`` or ``aks``. Configuration
    problems raise (BadInputError) before anything is sent; per-target failures are in the result.
    """
    env = os.environ if env is None else env
    settings = job_settings_from_env(env)
    build = _builder(request.kind, env)  # a bad DISPATCH_KIND or drill setting fails before any request
    targets = with_default_secret_key(request.targets if request.targets is not None else targets_from_env(env), env)
    # A drill restores into its own throwaway server: only the backup Job is pinned to a node's volume.
    physical = physical_settings_from_env(env) if build is build_job else None
    scheduled = request.scheduled_time or platform_time or datetime.now(UTC)
    access = None
    if not request.dry_run or physical is not None:
        from shared.k8s.clients import cluster_access_for

        access = cluster_access_for(platform, env)
    outcomes = dispatch_jobs(targets=targets, settings=settings, scheduled_time=scheduled,
                             access=access, dry_run=request.dry_run, build=build, physical=physical)
    return DispatchResult(outcomes=outcomes)


def _builder(kind: str | None, env: Mapping[str, str]) -> Callable[..., Any]:
    kind = kind or env.get("DISPATCH_KIND", "").strip() or BACKUP_KIND
    if kind == BACKUP_KIND:
        return build_job
    if kind == DRILL_KIND:
        from shared.k8s.drill_spec import build_drill_job, drill_settings_from_env

        return functools.partial(build_drill_job, drill=drill_settings_from_env(env))
    raise ConfigError(f"DISPATCH_KIND must be {BACKUP_KIND} or {DRILL_KIND}, not {kind[:40]!r}")
