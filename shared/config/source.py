"""The source section: which MariaDB server to talk to, as whom, and where its password comes from.

Password sources, one at a time: ``MARIADB_PASSWORD`` (environment only), ``MARIADB_PASSWORD_FILE``
(``--password-file``), or the Kubernetes Secret (``MARIADB_HA_SECRET_NAME`` in
``CELL_DEFAULT_NAMESPACE``). Giving both a password and a password file is refused: one of them
would be silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.config.parsing import ConfigError, optional_name, whole_number

# RFC 1123 label (namespaces, Secret names as used here) and RFC 1035 label (Service names).
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
# A Secret data key (Kubernetes: alphanumerics, '-', '_', '.'). mariadb-operator names the root
# password's key root-password, Bitnami's charts mariadb-root-password.
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
DEFAULT_SECRET_KEY = "root-password"  # noqa: S105  # the name of a key, not a password


@dataclass(frozen=True)
class SourceSettings:
    """The server to dump (or to restore into) and where its password comes from: the Secret
    (namespace, name), ``MARIADB_PASSWORD_FILE`` or ``MARIADB_PASSWORD``."""

    host: str
    port: int
    user: str
    namespace: str | None
    service: str | None
    secret_name: str | None
    password: str | None = field(repr=False)
    password_file: Path | None
    secret_key: str = DEFAULT_SECRET_KEY

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def load_source(values: Mapping[str, str]) -> SourceSettings:
    namespace = optional_name(values, "CELL_DEFAULT_NAMESPACE", DNS1123_LABEL, "a DNS label")
    service = optional_name(values, "MARIADB_HA_SERVICE_NAME", DNS1035_LABEL, "a DNS-1035 label")
    secret = optional_name(values, "MARIADB_HA_SECRET_NAME", DNS1123_SUBDOMAIN, "a DNS subdomain name")
    secret_key = optional_name(values, "MARIADB_HA_SECRET_KEY", SECRET_KEY, "a Secret key") or DEFAULT_SECRET_KEY
    host = values.get("MARIADB_HOST") or service
    if not host:
        raise ConfigError("no database host: set MARIADB_HA_SERVICE_NAME (or MARIADB_HOST)")
    password = values.get("MARIADB_PASSWORD")
    password_file = Path(values["MARIADB_PASSWORD_FILE"]) if "MARIADB_PASSWORD_FILE" in values else None
    if password is not None and password_file is not None:
        raise ConfigError("MARIADB_PASSWORD and MARIADB_PASSWORD_FILE (--password-file) are both set: give only one")
    if password is None and password_file is None and not (secret and namespace):
        raise ConfigError(
            "no password source: set MARIADB_HA_SECRET_NAME and CELL_DEFAULT_NAMESPACE, "
            "or MARIADB_PASSWORD_FILE / MARIADB_PASSWORD"
        )
    return SourceSettings(host=host, port=whole_number(values, "MARIADB_PORT", low=1, high=65535) or 3306,
                  user=values.get("MARIADB_USER", "root"), namespace=namespace, service=service,
                  secret_name=secret, password=password, password_file=password_file, secret_key=secret_key)
