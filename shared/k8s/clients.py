"""Kubernetes API clients for each way this tool reaches a cluster.

- The agent and ``mariadb-ha-backup dispatch``: in-cluster config inside a pod (the ServiceAccount
  token is mounted), else the kubeconfig (``KUBECONFIG`` or ``~/.kube/config``).
- The cloud functions: no kubeconfig exists there. Terraform sets ``K8S_ENDPOINT`` (the API server
  URL) and ``K8S_CA_DATA`` (its CA bundle, base64 PEM, as in a kubeconfig's
  ``certificate-authority-data``); the token comes from the platform identity (``eks_auth``,
  ``gke_auth``, ``aks_auth``), fresh for every invocation because EKS tokens live 15 minutes.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from shared.config import ConfigError
from shared.k8s.bearer import BearerToken

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# Entry point → module whose ``fetch_token(env)`` returns a BearerToken for that platform.
TOKEN_PROVIDERS = {"eks": "shared.k8s.eks_auth", "gke": "shared.k8s.gke_auth", "aks": "shared.k8s.aks_auth"}
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class KubeConfigError(ConfigError):
    """No usable cluster configuration (no kubeconfig, bad endpoint or CA)."""


@dataclass(frozen=True)
class ClusterAccess:
    api_client: ApiClient
    identity: str  # who the cluster will see, as far as known locally; used in 401/403 errors


def cluster_access_for(platform: str, env: Mapping[str, str] | None = None) -> ClusterAccess:
    """``kubeconfig`` (the CLI) or one of ``TOKEN_PROVIDERS`` (the functions)."""
    env = os.environ if env is None else env
    if platform == "kubeconfig":
        return default_cluster_access(env)
    if platform not in TOKEN_PROVIDERS:
        raise ValueError(f"unknown platform {platform!r}")
    token: BearerToken = importlib.import_module(TOKEN_PROVIDERS[platform]).fetch_token(env)
    return endpoint_cluster_access(token=token, env=env)


def default_cluster_access(env: Mapping[str, str]) -> ClusterAccess:
    """In-cluster config when ``KUBERNETES_SERVICE_HOST`` is set, else the kubeconfig."""
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        if env.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
            identity = "this pod's ServiceAccount"
        else:
            # Pass KUBECONFIG explicitly: the client reads it once, when it is first imported.
            config_file = env.get("KUBECONFIG") or None
            config.load_kube_config(config_file=config_file, client_configuration=configuration)
            _, active = config.list_kube_config_contexts(config_file=config_file)
            identity = f"kubeconfig user {active['context'].get('user')!r} (context {active['name']!r})"
    except config.ConfigException as exc:
        raise KubeConfigError(
            f"no Kubernetes access: not in a pod and no usable kubeconfig (set KUBECONFIG): {exc}"
        ) from None
    return ClusterAccess(api_client=client.ApiClient(configuration), identity=identity)


def endpoint_cluster_access(*, token: BearerToken, env: Mapping[str, str]) -> ClusterAccess:
    """A client for ``K8S_ENDPOINT`` trusting ``K8S_CA_DATA``, authenticated with ``token``."""
    from kubernetes import client

    endpoint = env.get("K8S_ENDPOINT", "").strip().rstrip("/")
    parts = urlsplit(endpoint)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS):
        # A bearer token over plain HTTP would be readable on the wire; only a local emulator may use it.
        raise KubeConfigError(f"K8S_ENDPOINT must be an https:// URL of the Kubernetes API, not {endpoint[:80]!r}")
    configuration = client.Configuration(host=endpoint)
    configuration.api_key = {"authorization": token.token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    if parts.scheme == "https":
        configuration.ca_cert_data = _ca_pem(env.get("K8S_CA_DATA", ""))
    return ClusterAccess(api_client=client.ApiClient(configuration), identity=token.identity)


def _ca_pem(data: str) -> str:
    if not data.strip():
        raise KubeConfigError("K8S_CA_DATA is not set: the cluster's CA (base64 PEM) is needed to trust K8S_ENDPOINT")
    try:
        pem = base64.b64decode(data.strip(), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise KubeConfigError("K8S_CA_DATA is not base64 of a PEM certificate") from None
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise KubeConfigError("K8S_CA_DATA does not decode to a PEM certificate")
    return pem
