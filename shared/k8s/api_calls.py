"""One place that decides which Kubernetes API failures are retried and how each is reported.

Retried briefly (tenacity, via ``shared.retry``): 429, 5xx and connection-level errors — an API
server behind a load balancer restarts or scales, and a function invocation has a minute or so to
spare. Never retried: 401/403 (reported naming the refused identity), 404, 409 and other 4xx, which
the caller interprets (a 409 on create means "exists").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TypeVar

from shared.errors import BackupFailedError, BadInputError
from shared.retry import RetryPolicy, call_with_retries

log = logging.getLogger("mariadb_ha_backup.k8s")
T = TypeVar("T")

_TRANSIENT_STATUSES = {429, 500, 502, 503, 504}
# Four attempts within 20 s: enough to ride out an API server restart, short enough that a
# function invocation (default timeout 60 s) still reports the failure itself.
_POLICY = RetryPolicy(attempts=4, max_seconds=20.0)
# (connect, read) seconds per request: the API server answers in milliseconds when healthy.
REQUEST_TIMEOUT = (5, 15)


class KubeAccessDeniedError(BadInputError):
    """401/403: the identity needs RBAC (or cluster access) granted; retrying cannot help."""


class KubeApiUnavailableError(BackupFailedError):
    """The API server kept failing (5xx, 429, connection errors) after the retries."""


class _TransientApiError(Exception):
    """Internal marker so tenacity retries exactly the transient statuses."""


def call_api(call: Callable[[], T], *, what: str) -> T:
    """Run ``call`` with retries on transient failures; ApiException with other statuses propagate."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError as Urllib3Error

    def attempt() -> T:
        try:
            return call()
        except ApiException as exc:
            if exc.status in _TRANSIENT_STATUSES or exc.status == 0:
                raise _TransientApiError(f"HTTP {exc.status} {exc.reason}") from exc
            raise

    try:
        return call_with_retries(attempt, policy=_POLICY, retry_on=(_TransientApiError, Urllib3Error), what=what,
                                 logger=log)
    except (_TransientApiError, Urllib3Error) as exc:
        raise KubeApiUnavailableError(f"{what}: Kubernetes API unavailable after retries ({_describe(exc)})") from None


def refused(*, status: int, reason: str, server_message: str, identity: str, what: str) -> KubeAccessDeniedError:
    """The error for a 401/403, naming who was refused and what the API server said."""
    detail = f": {server_message}" if server_message else ""
    return KubeAccessDeniedError(f"{what}: Kubernetes API refused {identity} ({status} {reason}){detail}")


def server_message(body: object) -> str:
    """The ``message`` of a Kubernetes Status body, one line and bounded (never the whole body)."""
    try:
        message = json.loads(body)["message"] if isinstance(body, str | bytes) else ""
    except (ValueError, KeyError, TypeError):
        return ""
    return str(message).replace("\n", " ")[:300]


def _describe(exc: BaseException) -> str:
    return str(exc).replace("\n", " ")[:200] or type(exc).__name__
