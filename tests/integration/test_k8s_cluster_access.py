"""Cluster access for the functions: the GKE and AKS token providers against local identity
endpoints, and the endpoint/CA settings Terraform provides."""

from __future__ import annotations

import base64

import pytest
from kubernetes import client

from shared.errors import BadInputError
from shared.k8s import aks_auth, gke_auth
from shared.k8s.bearer import BearerToken
from shared.k8s.clients import cluster_access_for, endpoint_cluster_access
from tests.support.kube import AKS_TOKEN, GKE_TOKEN, JOBS, IdentityEndpoints, KubeApi

CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"


@pytest.fixture
def clean_cloud_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
                 "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def authorization_headers(kube_api: KubeApi) -> set[str]:
    return kube_api.in_loop(lambda: {r.headers.get("Authorization") for r in kube_api.emulator[JOBS]})


@pytest.mark.usefixtures("clean_cloud_env")
def test_gke_token_from_service_account(identity_endpoints: IdentityEndpoints,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(identity_endpoints.google_key_file))
    token = gke_auth.fetch_token({})
    assert token.token == GKE_TOKEN
    assert token.identity == f"Google service account {identity_endpoints.google_account!r}"


@pytest.mark.usefixtures("clean_cloud_env")
def test_aks_token_from_managed_identity(identity_endpoints: IdentityEndpoints,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in identity_endpoints.msi_env.items():
        monkeypatch.setenv(name, value)
    token = aks_auth.fetch_token({})
    assert token.token == AKS_TOKEN
    assert token.identity == "the Function App's system-assigned managed identity"


@pytest.mark.usefixtures("clean_cloud_env")
def test_gke_without_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(BadInputError, match="could not get a Google access token for GKE"):
        gke_auth.fetch_token({})


@pytest.mark.usefixtures("clean_cloud_env")
def test_function_access_sends_a_fresh_platform_token(kube_api: KubeApi, identity_endpoints: IdentityEndpoints,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(identity_endpoints.google_key_file))
    access = cluster_access_for("gke", {"K8S_ENDPOINT": kube_api.url})
    client.BatchV1Api(access.api_client).list_namespaced_job("db")
    assert authorization_headers(kube_api) == {f"Bearer {GKE_TOKEN}"}


@pytest.mark.parametrize(("env", "message"), [
    ({}, "K8S_ENDPOINT must be an https:// URL"),
    ({"K8S_ENDPOINT": "http://10.0.0.1"}, "K8S_ENDPOINT must be an https:// URL"),
    ({"K8S_ENDPOINT": "https://api.example.com"}, "K8S_CA_DATA is not set"),
    ({"K8S_ENDPOINT": "https://api.example.com", "K8S_CA_DATA": "not base64!"}, "K8S_CA_DATA is not base64"),
    ({"K8S_ENDPOINT": "https://api.example.com", "K8S_CA_DATA": base64.b64encode(b"hello").decode()},
     "does not decode to a PEM certificate"),
])
def test_bad_endpoint_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        endpoint_cluster_access(token=BearerToken(token="t", identity="i"), env=env)


def test_https_endpoint_trusts_the_given_ca() -> None:
    env = {"K8S_ENDPOINT": "https://api.example.com/", "K8S_CA_DATA": base64.b64encode(CA_PEM.encode()).decode()}
    access = endpoint_cluster_access(token=BearerToken(token="secret-token", identity="role x"), env=env)
    configuration = access.api_client.configuration
    assert configuration.host == "https://api.example.com"
    assert configuration.ca_cert_data == CA_PEM and configuration.verify_ssl
    assert configuration.auth_settings()["BearerToken"]["value"] == "Bearer secret-token"
    assert access.identity == "role x"
