"""Read the MariaDB root password from a Kubernetes Secret.

Every error names the Secret, the namespace and (for a missing key) the key — never the value, and
never an exception that could carry part of it: a ``UnicodeDecodeError`` quotes the offending
byte, so it is not chained. The value is registered with ``shared.logs`` at once so that no later
log line or error message can echo it.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from shared.errors import BadInputError
from shared.k8s.api_calls import REQUEST_TIMEOUT, call_api, refused, server_message
from shared.logs import register_secret

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


class SecretError(BadInputError):
    """The Secret cannot give a password; retrying cannot help, fix the Secret or the RBAC."""


class SecretNotFoundError(SecretError):
    pass


class SecretKeyMissingError(SecretError):
    pass


class SecretValueError(SecretError):
    """The value is present but unusable (empty, not base64, not UTF-8)."""


def read_root_password(
    *, namespace: str, secret_name: str, key: str = "root-password", api_client: ApiClient | None = None
) -> str:
    """The decoded value of ``key`` in Secret ``namespace/secret_name``.

    Without ``api_client``: in-cluster config inside a pod, else the kubeconfig. Transient API errors
    are retried briefly, then ``KubeApiUnavailableError`` (a BackupFailedError, exit 1).
    """
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException

    where = f"Secret {secret_name!r} in namespace {namespace!r}"
    identity = "this process's Kubernetes identity"
    if api_client is None:
        from shared.k8s.clients import default_cluster_access

        access = default_cluster_access(os.environ)
        api_client, identity = access.api_client, access.identity
    api = CoreV1Api(api_client)
    try:
        secret = call_api(
            lambda: api.read_namespaced_secret(secret_name, namespace, _request_timeout=REQUEST_TIMEOUT),
            what=f"reading {where}",
        )
    except ApiException as exc:
        if exc.status == 404:
            raise SecretNotFoundError(f"{where} not found") from None
        if exc.status in (401, 403):
            raise refused(status=exc.status, reason=exc.reason or "", server_message=server_message(exc.body),
                          identity=identity, what=f"reading {where}") from None
        raise SecretError(f"reading {where} failed: HTTP {exc.status} {exc.reason}") from None
    return _decode(secret.data or {}, key=key, where=where)


def _decode(data: Mapping[str, str | bytes], *, key: str, where: str) -> str:
    if key not in data:
        present = ", ".join(sorted(data)) or "none"
        raise SecretKeyMissingError(f"{where} has no key {key!r} (keys present: {present})")
    try:
        value = base64.b64decode(data[key], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        # `from None`: the original exception text quotes the offending bytes.
        raise SecretValueError(f"key {key!r} of {where} is not valid UTF-8 text") from None
    if not value:
        raise SecretValueError(f"key {key!r} of {where} is empty")
    register_secret(value)
    return value
