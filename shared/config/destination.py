"""The destination section: a bucket-level storage URL plus the key prefix of this target's backups.

From ``BACKUP_URL``, or from ``CLOUD_PROVIDER`` and its bucket variable. The prefix is ``BACKUP_PREFIX``
if set, else the path of ``BACKUP_URL`` if it has one, else ``mariadb-ha-backup/<namespace>/<service>``
so that several clusters can share one bucket. ``AWS_REGION`` / ``AZURE_STORAGE_ACCOUNT`` become URL
parameters here, so no storage adapter reads them from the environment again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from shared.config.options import DEFAULT_LOCAL_DIR
from shared.config.parsing import ConfigError, safe

PROVIDERS = ("aws", "gcp", "azure", "local")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_GCS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_AZURE_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9._=+@-]+$")
_BUCKET_RULES = {
    "s3": (_S3_BUCKET, "an S3 bucket name"),
    "gs": (_GCS_BUCKET, "a GCS bucket name"),
    "azblob": (_AZURE_CONTAINER, "an Azure container name"),
}
_QUERY_KEYS = {"s3": {"region", "endpoint"}, "gs": {"endpoint", "project"}, "azblob": {"account", "endpoint"}}
# URL parameter a variable supplies when the URL does not carry it itself.
_PARAMETER_VARIABLES = {"s3": ("region", "AWS_REGION"), "azblob": ("account", "AZURE_STORAGE_ACCOUNT")}
_PROVIDER_BUCKETS = {
    "aws": ("S3_BUCKET", "s3"), "gcp": ("GCS_BUCKET", "gs"), "azure": ("AZURE_STORAGE_CONTAINER", "azblob"),
}


@dataclass(frozen=True)
class Destination:
    """Where objects go: a storage URL (bucket level) plus the key prefix of this target's backups."""

    storage_url: str
    prefix: str


def load_destination(values: Mapping[str, str]) -> Destination:
    url_path = ""
    if "BACKUP_URL" in values:
        storage_url, url_path = parse_backup_url(values["BACKUP_URL"])
    else:
        storage_url = _url_from_provider(values)
    storage_url = _with_parameter_variable(storage_url, values)
    if "BACKUP_PREFIX" in values:
        prefix = validate_prefix(values["BACKUP_PREFIX"], name="BACKUP_PREFIX")
    elif url_path:
        prefix = validate_prefix(url_path, name="BACKUP_URL path")
    else:
        default = "/".join(["mariadb-ha-backup", values.get("CELL_DEFAULT_NAMESPACE", "default"),
                            values.get("MARIADB_HA_SERVICE_NAME", "mariadb")])
        prefix = validate_prefix(default, name="backup prefix")
    return Destination(storage_url=storage_url, prefix=prefix)


def parse_backup_url(url: str) -> tuple[str, str]:
    """Split a BACKUP_URL into (bucket-level storage URL with its query, key path inside the bucket)."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ConfigError(f"BACKUP_URL: a file URL needs an absolute path, like file:///var/backups (got {url!r})")
        return f"file://{unquote(parts.path)}", ""
    if scheme not in _BUCKET_RULES:
        raise ConfigError(f"BACKUP_URL must start with s3://, gs://, azblob:// or file:// (got {safe(url)!r})")
    pattern, what = _BUCKET_RULES[scheme]
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
            f"{name} {safe(prefix)!r} is not a valid key prefix: use segments of letters, digits and ._=+@- "
            "separated by '/', without '..'"
        )
    return cleaned


def _url_from_provider(values: Mapping[str, str]) -> str:
    provider = values.get("CLOUD_PROVIDER")
    if provider is None:
        raise ConfigError("set CLOUD_PROVIDER (aws, gcp, azure or local) or BACKUP_URL")
    if provider not in PROVIDERS:
        raise ConfigError(f"CLOUD_PROVIDER must be one of {', '.join(PROVIDERS)}, not {safe(provider)!r}")
    if provider == "local":
        return "file://" + str(Path(values.get("LOCAL_BACKUP_DIR", DEFAULT_LOCAL_DIR)).absolute())
    variable, scheme = _PROVIDER_BUCKETS[provider]
    bucket = values.get(variable)
    if not bucket:
        raise ConfigError(f"CLOUD_PROVIDER={provider} needs {variable}")
    storage_url, _ = parse_backup_url(f"{scheme}://{bucket}")
    return storage_url


def _with_parameter_variable(storage_url: str, values: Mapping[str, str]) -> str:
    """Add ``region=`` from AWS_REGION (s3) or ``account=`` from AZURE_STORAGE_ACCOUNT (azblob) when absent."""
    parts = urlsplit(storage_url)
    parameter, variable = _PARAMETER_VARIABLES.get(parts.scheme, ("", ""))
    if not parameter or variable not in values or parameter in parse_qs(parts.query):
        return storage_url
    query = "&".join(q for q in (parts.query, urlencode({parameter: values[variable]})) if q)
    return parse_backup_url(f"{parts.scheme}://{parts.netloc}?{query}")[0]


def _check_query(scheme: str, query: str) -> None:
    try:
        keys = set(parse_qs(query, strict_parsing=True))
    except ValueError:
        raise ConfigError(f"BACKUP_URL: malformed query string {safe(query)!r}") from None
    unknown = keys - _QUERY_KEYS[scheme]
    if unknown:
        raise ConfigError(f"BACKUP_URL: unknown parameter(s) {', '.join(sorted(unknown))} for {scheme}://")
