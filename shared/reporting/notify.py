"""Webhook notifications, healthchecks.io style: POST a JSON summary to ``URL`` on success and to
``URL/fail`` on failure (healthchecks.io, Cronitor-style pings and any HTTP receiver understand it).

Standard library ``urllib`` rather than ``requests``: one POST needs nothing more, and it keeps the
agent's dependency list to what it declares (``requests`` only arrives through ``kubernetes``).
Retries and backoff come from tenacity, like every other retry in the tool.

Never a secret in the body: the caller builds it from sizes, ids and an error message, and every
string value goes through ``shared.logs.redact`` (the password is registered there as soon as it
is read), so even an error message that echoed the password would arrive as ``***``. The URL itself
often carries a token (healthchecks' UUID, a Slack webhook path), so it is never logged: warnings
name only its scheme and host.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

import shared  # shared.__version__ is read when used: looking it up costs ~16 ms
from shared.config import ConfigError
from shared.logs import redact

log = logging.getLogger("mariadb_ha_backup.notify")

# A webhook receiver answers in well under a second; 10 s per try and 3 tries bound what a dead
# receiver adds to the end of a Job (and stay inside the pod's 60 s termination grace).
TIMEOUT_SECONDS = 10.0
ATTEMPTS = 3


@dataclass(frozen=True)
class NotifySettings:
    url: str | None = None


def notify_settings_from(raw: Mapping[str, str]) -> NotifySettings:
    url = raw.get("BACKUP_NOTIFY_URL") or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            # Not echoed: the URL may hold a token.
            raise ConfigError("BACKUP_NOTIFY_URL must be an http:// or https:// URL")
    return NotifySettings(url=url)


def notify(summary: Mapping[str, Any], settings: NotifySettings, *, failed: bool) -> bool:
    """POST ``summary`` (redacted) to the URL, or URL/fail; True if delivered. Never raises."""
    if not settings.url:
        return False
    url = settings.url.rstrip("/") + "/fail" if failed else settings.url
    body = json.dumps(redacted(summary), ensure_ascii=False).encode()
    try:
        for attempt in Retrying(retry=retry_if_exception(_transient), stop=stop_after_attempt(ATTEMPTS),
                                wait=wait_exponential(multiplier=1, max=4), reraise=True):
            with attempt:
                _post(url, body)
    except Exception as exc:  # a notification must never fail the run it reports
        where = urlsplit(url)
        log.warning("notification to %s://%s failed, the run is not affected: %s", where.scheme, where.hostname,
                    _describe(exc), extra={"event": "notify-failed"})
        return False
    return True


def redacted(value: Any) -> Any:
    """``value`` with every string passed through ``redact`` (nested dicts and lists too)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    return value


def _post(url: str, body: bytes) -> None:
    headers = {"Content-Type": "application/json", "User-Agent": f"mariadb-ha-backup/{shared.__version__}"}
    # S310: the scheme is checked (http/https only) when the setting is loaded.
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
        response.read()


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, HTTPError):
        return exc.code >= 500 or exc.code == 429
    return isinstance(exc, OSError)  # URLError, refused, reset, timeout


def _describe(exc: Exception) -> str:
    # HTTPError's str() is "HTTP Error 404: Not Found" (no URL); URLError's names only the reason.
    return redact(f"{type(exc).__name__}: {exc}")
