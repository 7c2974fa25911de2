"""The agent's password source: a Secret read through the real kubernetes client from the emulator."""

from __future__ import annotations

import pytest

from shared.errors import BackupFailedError, BadInputError
from shared.k8s.secret import read_root_password
from tests.support.kube import KubeApi

PASSWORD = "s3cr3t-Pässwörd!"


def test_reads_the_root_password(kube_api: KubeApi) -> None:
    kube_api.seed_secret(namespace="db", name="mariadb", data={"root-password": PASSWORD.encode()})
    assert read_root_password(namespace="db", secret_name="mariadb", api_client=kube_api.api_client) == PASSWORD


def test_other_key_can_be_chosen(kube_api: KubeApi) -> None:
    kube_api.seed_secret(namespace="db", name="mariadb", data={"password": b"other", "root-password": b"root"})
    got = read_root_password(namespace="db", secret_name="mariadb", key="password", api_client=kube_api.api_client)
    assert got == "other"


def test_missing_secret_names_secret_and_namespace(kube_api: KubeApi) -> None:
    kube_api.seed_secret(namespace="other", name="mariadb", data={"root-password": PASSWORD.encode()})
    with pytest.raises(BadInputError) as caught:
        read_root_password(namespace="db", secret_name="mariadb", api_client=kube_api.api_client)
    assert str(caught.value) == "Secret 'mariadb' in namespace 'db' not found"
    assert caught.value.exit_code == 2


def test_missing_key_names_the_key_but_no_value(kube_api: KubeApi) -> None:
    kube_api.seed_secret(namespace="db", name="mariadb", data={"mariadb-password": PASSWORD.encode()})
    with pytest.raises(BadInputError) as caught:
        read_root_password(namespace="db", secret_name="mariadb", api_client=kube_api.api_client)
    message = str(caught.value)
    assert message == ("Secret 'mariadb' in namespace 'db' has no key 'root-password' "
                       "(keys present: mariadb-password)")
    assert PASSWORD not in message


def test_non_utf8_value_is_refused_without_echoing_it(kube_api: KubeApi) -> None:
    raw = b"\xffpass\xfe"
    kube_api.seed_secret(namespace="db", name="mariadb", data={"root-password": raw})
    with pytest.raises(BadInputError) as caught:
        read_root_password(namespace="db", secret_name="mariadb", api_client=kube_api.api_client)
    message = str(caught.value)
    assert message == "key 'root-password' of Secret 'mariadb' in namespace 'db' is not valid UTF-8 text"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "0xff" not in message and "pass" not in message.replace("password", "")


def test_empty_value_is_refused(kube_api: KubeApi) -> None:
    kube_api.seed_secret(namespace="db", name="mariadb", data={"root-password": b""})
    with pytest.raises(BadInputError, match="key 'root-password' of Secret 'mariadb' in namespace 'db' is empty"):
        read_root_password(namespace="db", secret_name="mariadb", api_client=kube_api.api_client)


def test_forbidden_names_secret_namespace_and_refused_user(kube_api: KubeApi) -> None:
    kube_api.seed_secret(namespace="db", name="mariadb", data={"root-password": PASSWORD.encode()})
    kube_api.refuse(namespace="db", user="system:serviceaccount:db:default")
    with pytest.raises(BadInputError) as caught:
        read_root_password(namespace="db", secret_name="mariadb", api_client=kube_api.api_client)
    message = str(caught.value)
    assert message.startswith("reading Secret 'mariadb' in namespace 'db': Kubernetes API refused ")
    assert "(403 Forbidden)" in message and 'User "system:serviceaccount:db:default"' in message
    assert PASSWORD not in message


def test_transient_api_error_is_retried(kube_api: KubeApi) -> None:
    kube_api.seed_secret(namespace="db", name="mariadb", data={"root-password": PASSWORD.encode()})
    kube_api.fail_once(action="fetch", status=503)
    assert read_root_password(namespace="db", secret_name="mariadb", api_client=kube_api.api_client) == PASSWORD


def test_unreachable_api_is_a_failure_not_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes import client

    import shared.k8s.api_calls as api_calls

    # Keep the retry budget small: the point is the classification, not the waiting.
    monkeypatch.setattr(api_calls, "_POLICY", api_calls.RetryPolicy(attempts=2, max_seconds=1.0))
    configuration = client.Configuration(host="http://127.0.0.1:9")  # discard port: connection refused
    configuration.retries = 0
    with pytest.raises(BackupFailedError, match="Kubernetes API unavailable after retries"), \
            client.ApiClient(configuration) as api_client:
        read_root_password(namespace="db", secret_name="mariadb", api_client=api_client)


def test_kubeconfig_is_used_without_an_injected_client(kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    kube_api.seed_secret(namespace="db", name="mariadb", data={"root-password": PASSWORD.encode()})
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(kube_api.kubeconfig))
    assert read_root_password(namespace="db", secret_name="mariadb") == PASSWORD


def test_no_kubeconfig_is_bad_input(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    with pytest.raises(BadInputError, match="no Kubernetes access: not in a pod and no usable kubeconfig"):
        read_root_password(namespace="db", secret_name="mariadb")
