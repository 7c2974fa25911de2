"""Backup targets: which MariaDB Service (and Secret) in which namespace gets a Job.

One target comes from the agent's own variables (``CELL_DEFAULT_NAMESPACE``,
``MARIADB_HA_SERVICE_NAME``, ``MARIADB_HA_SECRET_NAME``); a fleet comes from ``DISPATCH_TARGETS``, a
JSON list of ``{"namespace", "service", "secret"}`` plus an optional ``"secret_key"`` (the key of the
password in the Secret; default ``MARIADB_HA_SECRET_KEY``, else ``root-password``), so one fleet can
mix mariadb-operator clusters and Bitnami charts. Names are validated here, before anything is sent to
a cluster, because they end up in Job names, labels and URLs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared.config import DEFAULT_SECRET_KEY, DNS1035_LABEL, DNS1123_LABEL, DNS1123_SUBDOMAIN, SECRET_KEY, ConfigError

_FIELDS = ("namespace", "service", "secret")
_OPTIONAL_FIELDS = ("secret_key", "dump_threads")


class TargetsError(ConfigError):
    """The target list is not valid JSON, has unknown fields, or names that Kubernetes would reject."""


@dataclass(frozen=True)
class Target:
    """One MariaDB Service to back up: its namespace, its name, and the Secret holding its root password."""

    namespace: str
    service: str
    secret: str
    secret_key: str | None = None  # None: the dispatcher's default (with_default_secret_key)

    @property
    def password_key(self) -> str:
        return self.secret_key or DEFAULT_SECRET_KEY
    # Optional per cluster: BACKUP_DUMP_THREADS for this target's Job (1: never pause the cluster's commits
    # for a parallel dump's snapshot, e.g. a Galera cluster whose writers must not wait even milliseconds).
    dump_threads: int | None = None

    @property
    def label(self) -> str:
        """Human-readable ``namespace/service``, used in responses and errors."""
        return f"{self.namespace}/{self.service}"


def targets_from_env(env: Mapping[str, str]) -> list[Target]:
    """``DISPATCH_TARGETS`` if set, else the single target described by the agent's variables."""
    raw = env.get("DISPATCH_TARGETS", "").strip()
    if raw:
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TargetsError(f"DISPATCH_TARGETS is not valid JSON ({exc.msg} at position {exc.pos})") from None
        return parse_targets(parsed, source="DISPATCH_TARGETS")
    names = {"namespace": "CELL_DEFAULT_NAMESPACE", "service": "MARIADB_HA_SERVICE_NAME",
             "secret": "MARIADB_HA_SECRET_NAME"}
    missing = [variable for variable in names.values() if not env.get(variable)]
    if missing:
        raise TargetsError(f"no backup target: set DISPATCH_TARGETS, or {', '.join(missing)}")
    return parse_targets([{field: env[variable] for field, variable in names.items()}], source="environment")


def with_default_secret_key(targets: list[Target], env: Mapping[str, str]) -> list[Target]:
    """Targets that name no ``secret_key`` get ``MARIADB_HA_SECRET_KEY`` (else ``root-password``)."""
    key = env.get("MARIADB_HA_SECRET_KEY", "").strip() or DEFAULT_SECRET_KEY
    if not SECRET_KEY.match(key):
        raise TargetsError(f"MARIADB_HA_SECRET_KEY {key[:80]!r} is not a Secret key")
    return [target if target.secret_key else replace(target, secret_key=key) for target in targets]


def parse_targets(value: Any, *, source: str) -> list[Target]:
    """Validate a decoded target list (from ``DISPATCH_TARGETS`` or a test payload's ``targets``)."""
    if not isinstance(value, list) or not value:
        raise TargetsError(f"{source} must be a non-empty JSON list of {{namespace, service, secret}} objects")
    targets = [_parse_one(item, where=f"{source}[{index}]") for index, item in enumerate(value)]
    seen: set[tuple[str, str]] = set()
    for target in targets:
        if (target.namespace, target.service) in seen:
            # The same service twice would get the same Job name: the second would only ever "exist".
            raise TargetsError(f"{source} lists {target.label} more than once")
        seen.add((target.namespace, target.service))
    return targets


def _parse_one(item: Any, *, where: str) -> Target:
    if not isinstance(item, dict):
        raise TargetsError(f"{where} must be an object with namespace, service and secret")
    unknown = sorted(set(item) - set(_FIELDS) - set(_OPTIONAL_FIELDS))
    if unknown:
        raise TargetsError(f"{where} has unknown field(s) {', '.join(map(repr, unknown))}")
    missing = [field for field in _FIELDS if not isinstance(item.get(field), str) or not item[field]]
    if missing:
        raise TargetsError(f"{where} needs string field(s) {', '.join(missing)}")
    rules = (("namespace", DNS1123_LABEL, "a DNS label"), ("service", DNS1035_LABEL, "a DNS-1035 label"),
             ("secret", DNS1123_SUBDOMAIN, "a DNS subdomain name"))
    for field, pattern, what in rules:
        if not pattern.match(item[field]):
            raise TargetsError(f"{where}.{field} {item[field][:80]!r} is not {what}")
    key = item.get("secret_key")
    if key is not None and (not isinstance(key, str) or not SECRET_KEY.match(key)):
        raise TargetsError(f"{where}.secret_key {str(key)[:80]!r} is not a Secret key")
    threads = item.get("dump_threads")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or not 1 <= threads <= 64):
        raise TargetsError(f"{where}.dump_threads must be a whole number from 1 to 64")
    return Target(namespace=item["namespace"], service=item["service"], secret=item["secret"], secret_key=key,
                  dump_threads=threads)
