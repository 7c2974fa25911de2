"""Run configuration: the seed's environment variables, each also a CLI flag, validated up front.

One table (``OPTIONS``) drives both the environment lookup and the CLI flags so the two can never
drift. ``load_settings`` returns a frozen ``Settings`` or raises ``ConfigError`` with one line that
names the offending variable; nothing has been written at that point.

Password handling is deliberately asymmetric: ``MARIADB_PASSWORD`` is read from the environment only
(a ``--password`` flag would put the secret on argv); the CLI offers ``--password-file`` instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from shared.errors import BadInputError

PROVIDERS = ("aws", "gcp", "azure", "local")
FORMATS = ("tar.gz", "sql.gz", "sql.zst")
DEFAULT_LOCAL_DIR = "./backups"

# RFC 1123 label (namespaces, Secret names as used here) and RFC 1035 label (Service names).
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_GCS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_AZURE_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9._=+@-]+$")


class ConfigError(BadInputError):
    """A setting is missing or malformed; the message names the setting, never a secret value."""


@dataclass(frozen=True)
class Option:
    env: str
    flag: str
    help: str


# Every setting the agent reads. MARIADB_PASSWORD is absent on purpose (see module docstring).
OPTIONS: tuple[Option, ...] = (
    Option("CLOUD_PROVIDER", "--provider", "where backups go: aws | gcp | azure | local"),
    Option("S3_BUCKET", "--s3-bucket", "S3 bucket (provider aws)"),
    Option("AWS_REGION", "--aws-region", "S3 region (provider aws)"),
    Option("GCS_BUCKET", "--gcs-bucket", "GCS bucket (provider gcp)"),
    Option("AZURE_STORAGE_CONTAINER", "--azure-container", "Blob container (provider azure)"),
    Option("AZURE_STORAGE_ACCOUNT", "--azure-account", "storage account name (provider azure)"),
    Option(
        "LOCAL_BACKUP_DIR", "--local-dir", f"directory used as the bucket (provider local, default {DEFAULT_LOCAL_DIR})"
    ),
    Option("BACKUP_URL", "--url", "full destination, overrides the provider settings: s3:// gs:// azblob:// file://"),
    Option("BACKUP_PREFIX", "--prefix", "key prefix (default mariadb-ha-backup/<namespace>/<service>)"),
    Option("BACKUP_FORMAT", "--format", "tar.gz (default) | sql.gz | sql.zst"),
    Option("CELL_DEFAULT_NAMESPACE", "--namespace", "namespace of the MariaDB Service and its Secret"),
    Option("MARIADB_HA_SERVICE_NAME", "--service", "MariaDB Service name (the host to dump)"),
    Option("MARIADB_HA_SECRET_NAME", "--secret", "Secret holding key root-password"),
    Option("MARIADB_HOST", "--host", "host override (default: the service name)"),
    Option("MARIADB_PORT", "--port", "port (default 3306)"),
    Option("MARIADB_USER", "--user", "user (default root)"),
    Option("MARIADB_PASSWORD_FILE", "--password-file", "file holding the password (instead of the Secret)"),
    Option("BACKUP_KEEP_LAST", "--keep-last", "retention: keep this many newest backups"),
    Option("BACKUP_MAX_AGE_DAYS", "--max-age-days", "retention: delete backups older than this"),
    Option("BACKUP_TMPDIR", "--tmp-dir", "where the run's private spool directory is made (default: system temp)"),
    Option("BACKUP_RETRY_SECONDS", "--retry-seconds", "total time budget for retrying the dump (default 600)"),
    Option("BACKUP_RETRY_ATTEMPTS", "--retry-attempts", "attempts for the dump (default 5)"),
    Option("BACKUP_ENCRYPT_RECIPIENTS", "--encrypt-recipients", "encrypt to these age public keys (age1..., commas)"),
    Option("BACKUP_ENCRYPT_RECIPIENTS_FILE", "--encrypt-recipients-file", "file of age public keys (as age -R)"),
    Option("BACKUP_DECRYPT_IDENTITY_FILE", "--identity-file", "age identity file to read encrypted backups with"),
    Option("BACKUP_DECRYPT_IDENTITY_SECRET", "--identity-secret", "Secret holding key age-identity"),
    Option("BACKUP_LOCK_DAYS", "--lock-days", "object lock: retain every object of a backup until its start + DAYS"),
    Option("BACKUP_LOCK_MODE", "--lock-mode", "object lock mode: GOVERNANCE (default) | COMPLIANCE"),
)


@dataclass(frozen=True)
class Destination:
    """Where objects go: a storage URL (bucket level) plus the key prefix of this target's backups."""

    storage_url: str
    prefix: str


@dataclass(frozen=True)
class Settings:
    destination: Destination
    format: str
    namespace: str | None
    service: str | None
    secret_name: str | None
    host: str
    port: int
    user: str
    password: str | None
    password_file: Path | None
    keep_last: int | None
    max_age_days: float | None
    tmp_dir: Path | None
    retry_seconds: float
    retry_attempts: int


def load_settings(env: Mapping[str, str] | None = None, overrides: Mapping[str, str | None] | None = None) -> Settings:
    """Build validated settings from ``env`` (default ``os.environ``) overridden by CLI values keyed by env name."""
    raw = {o.env: v for o in OPTIONS if (v := (env if env is not None else os.environ).get(o.env))}
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None and v != ""})
    source_env = env if env is not None else os.environ
    namespace = _optional(raw, "CELL_DEFAULT_NAMESPACE", DNS1123_LABEL, "a DNS label")
    service = _optional(raw, "MARIADB_HA_SERVICE_NAME", DNS1035_LABEL, "a DNS-1035 label")
    secret = _optional(raw, "MARIADB_HA_SECRET_NAME", DNS1123_SUBDOMAIN, "a DNS subdomain name")
    host = raw.get("MARIADB_HOST") or service
    if not host:
        raise ConfigError("no database host: set MARIADB_HA_SERVICE_NAME (or MARIADB_HOST)")
    password = source_env.get("MARIADB_PASSWORD")
    password_file = Path(raw["MARIADB_PASSWORD_FILE"]) if "MARIADB_PASSWORD_FILE" in raw else None
    if password is None and password_file is None and not (secret and namespace):
        raise ConfigError(
            "no password source: set MARIADB_HA_SECRET_NAME and CELL_DEFAULT_NAMESPACE, "
            "or MARIADB_PASSWORD_FILE / MARIADB_PASSWORD"
        )
    fmt = raw.get("BACKUP_FORMAT", "tar.gz")
    if fmt not in FORMATS:
        raise ConfigError(f"BACKUP_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return Settings(
        destination=resolve_destination(raw, namespace=namespace, service=service),
        format=fmt,
        namespace=namespace,
        service=service,
        secret_name=secret,
        host=host,
        port=_int(raw, "MARIADB_PORT", default=3306, low=1, high=65535) or 3306,
        user=raw.get("MARIADB_USER", "root"),
        password=password,
        password_file=password_file,
        keep_last=_int(raw, "BACKUP_KEEP_LAST", default=None, low=1, high=100_000),
        max_age_days=_float(raw, "BACKUP_MAX_AGE_DAYS", default=None),
        tmp_dir=Path(raw["BACKUP_TMPDIR"]) if "BACKUP_TMPDIR" in raw else None,
        retry_seconds=_float(raw, "BACKUP_RETRY_SECONDS", default=600.0) or 0.0,
        retry_attempts=_int(raw, "BACKUP_RETRY_ATTEMPTS", default=5, low=1, high=100) or 1,
    )


def resolve_destination(raw: Mapping[str, str], *, namespace: str | None, service: str | None) -> Destination:
    """Storage URL and key prefix from BACKUP_URL, or from CLOUD_PROVIDER and its bucket variable.

    The prefix is BACKUP_PREFIX if set, else the path of BACKUP_URL if it has one, else
    ``mariadb-ha-backup/<namespace>/<service>`` so that several clusters can share one bucket.
    """
    url_path = ""
    if "BACKUP_URL" in raw:
        storage_url, url_path = parse_backup_url(raw["BACKUP_URL"])
    else:
        storage_url = _url_from_provider(raw)
    if "BACKUP_PREFIX" in raw:
        prefix = validate_prefix(raw["BACKUP_PREFIX"], name="BACKUP_PREFIX")
    elif url_path:
        prefix = validate_prefix(url_path, name="BACKUP_URL path")
    else:
        prefix = "/".join(["mariadb-ha-backup", namespace or "default", service or "mariadb"])
    return Destination(storage_url=storage_url, prefix=prefix)


def parse_backup_url(url: str) -> tuple[str, str]:
    """Split a BACKUP_URL into (bucket-level storage URL with its query, key path inside the bucket)."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ConfigError(f"BACKUP_URL: a file URL needs an absolute path, like file:///var/backups (got {url!r})")
        return f"file://{unquote(parts.path)}", ""
    rules = {
        "s3": (_S3_BUCKET, "an S3 bucket name"),
        "gs": (_GCS_BUCKET, "a GCS bucket name"),
        "azblob": (_AZURE_CONTAINER, "an Azure container name"),
    }
    if scheme not in rules:
        raise ConfigError(f"BACKUP_URL must start with s3://, gs://, azblob:// or file:// (got {_safe(url)!r})")
    pattern, what = rules[scheme]
    bucket = parts.netloc
    if not pattern.match(bucket):
        raise ConfigError(f"BACKUP_URL: {bucket!r} is not {what}")
    if parts.query:
        _check_query(scheme, parts.query)
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{bucket}{query}", unquote(parts.path).strip("/")


def validate_prefix(prefix: str, *, name: str) -> str:
    """Reject prefixes that could escape the bucket root or collide with another layout (``..``, ``//``)."""
    cleaned = prefix.strip("/")
    segments = cleaned.split("/")
    if not cleaned or any(s in ("", ".", "..") or not _PREFIX_SEGMENT.match(s) for s in segments):
        raise ConfigError(
            f"{name} {_safe(prefix)!r} is not a valid key prefix: use segments of letters, digits and ._=+@- "
            "separated by '/', without '..'"
        )
    return cleaned


def _url_from_provider(raw: Mapping[str, str]) -> str:
    provider = raw.get("CLOUD_PROVIDER")
    if provider is None:
        raise ConfigError("set CLOUD_PROVIDER (aws, gcp, azure or local) or BACKUP_URL")
    if provider not in PROVIDERS:
        raise ConfigError(f"CLOUD_PROVIDER must be one of {', '.join(PROVIDERS)}, not {_safe(provider)!r}")
    if provider == "local":
        return "file://" + str(Path(raw.get("LOCAL_BACKUP_DIR", DEFAULT_LOCAL_DIR)).absolute())
    variable, scheme = {
        "aws": ("S3_BUCKET", "s3"),
        "gcp": ("GCS_BUCKET", "gs"),
        "azure": ("AZURE_STORAGE_CONTAINER", "azblob"),
    }[provider]
    bucket = raw.get(variable)
    if not bucket:
        raise ConfigError(f"CLOUD_PROVIDER={provider} needs {variable}")
    query = f"?region={raw['AWS_REGION']}" if provider == "aws" and "AWS_REGION" in raw else ""
    if provider == "azure" and "AZURE_STORAGE_ACCOUNT" in raw:
        query = f"?account={raw['AZURE_STORAGE_ACCOUNT']}"
    storage_url, _ = parse_backup_url(f"{scheme}://{bucket}{query}")
    return storage_url


_QUERY_KEYS = {"s3": {"region", "endpoint"}, "gs": {"endpoint", "project"}, "azblob": {"account", "endpoint"}}


def _check_query(scheme: str, query: str) -> None:
    try:
        keys = set(parse_qs(query, strict_parsing=True))
    except ValueError:
        raise ConfigError(f"BACKUP_URL: malformed query string {_safe(query)!r}") from None
    unknown = keys - _QUERY_KEYS[scheme]
    if unknown:
        raise ConfigError(f"BACKUP_URL: unknown parameter(s) {', '.join(sorted(unknown))} for {scheme}://")


def _optional(raw: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str) -> str | None:
    value = raw.get(name)
    if value is not None and not pattern.match(value):
        raise ConfigError(f"{name} {_safe(value)!r} is not {what}")
    return value


def _int(raw: Mapping[str, str], name: str, *, default: int | None, low: int, high: int) -> int | None:
    """An integer setting within [low, high]; ``default`` when unset."""
    if name not in raw:
        return default
    try:
        value = int(raw[name])
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {_safe(raw[name])!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _float(raw: Mapping[str, str], name: str, *, default: float | None) -> float | None:
    if name not in raw:
        return default
    try:
        value = float(raw[name])
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {_safe(raw[name])!r}") from None
    if not 0 < value < 1e9:
        raise ConfigError(f"{name} must be a positive number, not {raw[name]}")
    return value


def _safe(value: str, limit: int = 80) -> str:
    """Echo user input safely: one line, bounded length (a stray secret in a URL must not flood logs)."""
    flat = value.replace("\n", "\\n").replace("\r", "\\r")
    return flat if len(flat) <= limit else flat[:limit] + "..."
