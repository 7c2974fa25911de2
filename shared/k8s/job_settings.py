"""What every backup Job gets: the agent image, its limits, and the agent's environment.

Read once per invocation from the dispatcher's environment (set by Terraform on the function, or the
shell for ``mariadb-ha-backup dispatch``). Every tunable has a default chosen for a typical cluster of
a few GB of data; each default's reason sits next to it.

The agent environment is an allowlist of the variables the agent reads. Anything else in the
dispatcher's environment (credentials, ``MARIADB_PASSWORD``) can never leak into a Job spec, where it
would be readable by anyone allowed to ``get jobs``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.config import DNS1123_SUBDOMAIN, OPTIONS, ConfigError

# Where the agent's spool emptyDir is mounted; the agent learns it through BACKUP_TMPDIR.
SPOOL_MOUNT_PATH = "/var/spool/mariadb-ha-backup"

# Variables passed through unchanged from the dispatcher to the agent (see module docstring): the
# option table's rows marked ``to_job``.
AGENT_ENV_PASSTHROUGH = tuple(option.env for option in OPTIONS if option.to_job)

_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_UNIT_BYTES = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
               "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_CPU = re.compile(r"^(\d+m|\d+(\.\d+)?)$")
IMAGE_REFERENCE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$", re.IGNORECASE)
# Room on top of the two emptyDirs for container logs and image layers written by the runtime.
_EPHEMERAL_HEADROOM = 1 * 2**30


@dataclass(frozen=True)
class JobSettings:
    image: str
    # The agent's ServiceAccount: bound by infra to `get` one Secret and to the bucket's cloud identity.
    service_account: str = "mariadb-ha-backup"
    # The agent already retries dumps and uploads itself; two more pods cover a lost node.
    backoff_limit: int = 2
    # A backup of a few hundred GB fits in 4 h at the measured rates; a hung run must not block the next.
    active_deadline_seconds: int = 4 * 3600
    # Keep finished Jobs (and their pod logs) three days: a Friday-night failure is still there on Monday.
    ttl_seconds_after_finished: int = 3 * 86400
    # The tar.gz spool holds the compressed dump (~1/4 of raw): 20 GiB covers ~80 GiB of data.
    spool_size_limit: str = "20Gi"
    # /tmp only holds small scratch files (the 0600 defaults file, Python's temp files).
    tmp_size_limit: str = "256Mi"
    # Compression runs 2 threads at ~1 GB/s: half a core is enough to keep up with mariadb-dump.
    cpu_request: str = "500m"
    # No CPU limit by default: throttling only slows the backup; set one where a LimitRange demands it.
    cpu_limit: str | None = None
    memory_request: str = "256Mi"
    memory_limit: str = "1Gi"
    ephemeral_storage_request: str = "1Gi"
    ephemeral_storage_limit: str | None = None  # default: both emptyDir limits plus headroom
    # Must match the numeric USER of the agent image (infra/docker): runAsNonRoot needs a numeric uid.
    run_as_user: int = 10001
    agent_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def effective_ephemeral_storage_limit(self) -> str:
        if self.ephemeral_storage_limit:
            return self.ephemeral_storage_limit
        total = quantity_bytes(self.spool_size_limit) + quantity_bytes(self.tmp_size_limit) + _EPHEMERAL_HEADROOM
        return f"{-(-total // 2**20)}Mi"


# The tunables by kind of value; each one's JobSettings field is its name without the AGENT_/JOB_
# prefix, lower-cased (JOB_CPU_LIMIT → cpu_limit).
_TUNABLES_BY_KIND = {
    "name": ("AGENT_SERVICE_ACCOUNT",),
    "int": ("JOB_BACKOFF_LIMIT", "JOB_ACTIVE_DEADLINE_SECONDS", "JOB_TTL_SECONDS_AFTER_FINISHED", "JOB_RUN_AS_USER"),
    "cpu": ("JOB_CPU_REQUEST", "JOB_CPU_LIMIT"),
    "quantity": ("JOB_SPOOL_SIZE_LIMIT", "JOB_TMP_SIZE_LIMIT", "JOB_MEMORY_REQUEST", "JOB_MEMORY_LIMIT",
                 "JOB_EPHEMERAL_STORAGE_REQUEST", "JOB_EPHEMERAL_STORAGE_LIMIT"),
}
_TUNABLES = {name: kind for kind, names in _TUNABLES_BY_KIND.items() for name in names}


def _field(env_name: str) -> str:
    return env_name.removeprefix("AGENT_").removeprefix("JOB_").lower()


def job_settings_from_env(env: Mapping[str, str]) -> JobSettings:
    """Validated settings; a missing image or a malformed tunable raises ``ConfigError`` naming it."""
    image = env.get("AGENT_IMAGE", "").strip()
    if not image:
        raise ConfigError("AGENT_IMAGE is not set: the backup Job needs the agent's container image")
    if not IMAGE_REFERENCE.match(image):
        raise ConfigError(f"AGENT_IMAGE {image[:120]!r} is not a container image reference")
    values: dict[str, object] = {name: _parse(env[name], name=name, kind=kind)
                                 for name, kind in _TUNABLES.items() if env.get(name, "").strip()}
    agent_env = {name: env[name] for name in AGENT_ENV_PASSTHROUGH if env.get(name)}
    if "CLOUD_PROVIDER" not in agent_env and "BACKUP_URL" not in agent_env:
        raise ConfigError("set CLOUD_PROVIDER (and its bucket variable) or BACKUP_URL: the agent needs a destination")
    settings = JobSettings(image=image, agent_env=agent_env,
                           **{_field(name): value for name, value in values.items()})  # type: ignore[arg-type]  # fields checked by _parse
    if quantity_bytes(settings.effective_ephemeral_storage_limit) < quantity_bytes(settings.spool_size_limit):
        raise ConfigError("JOB_EPHEMERAL_STORAGE_LIMIT is below JOB_SPOOL_SIZE_LIMIT: the pod would be evicted "
                          "before the spool is full")
    return settings


def quantity_bytes(quantity: str) -> int:
    """Bytes in a Kubernetes memory/storage quantity such as ``20Gi`` or ``500M``."""
    match = _QUANTITY.match(quantity)
    if not match:
        raise ConfigError(f"{quantity!r} is not a Kubernetes quantity like 512Mi or 20Gi")
    return int(match.group(1)) * _UNIT_BYTES[match.group(2)]


def _parse(value: str, *, name: str, kind: str) -> object:
    value = value.strip()
    if kind == "int":
        if not value.isdigit():
            raise ConfigError(f"{name} must be a whole number, not {value[:40]!r}")
        if name == "JOB_RUN_AS_USER" and int(value) == 0:
            raise ConfigError("JOB_RUN_AS_USER must not be 0: the Job runs as non-root")
        return int(value)
    if kind == "quantity" and not _QUANTITY.match(value):
        _bad(name, value, "a quantity like 512Mi or 20Gi")
    if kind == "cpu" and not _CPU.match(value):
        _bad(name, value, "a CPU quantity like 500m or 2")
    if kind == "name" and not DNS1123_SUBDOMAIN.match(value):
        _bad(name, value, "a Kubernetes object name")
    return value


def _bad(name: str, value: str, what: str) -> None:
    raise ConfigError(f"{name} {value[:40]!r} is not {what}")
