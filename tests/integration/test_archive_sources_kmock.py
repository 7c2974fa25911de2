"""BINLOG_SOURCES_SERVICE: the binlog archiver's nodes read from the pods behind a Service (kmock, the real
``kubernetes`` client), for both Galera shapes, and refused clearly where the pods cannot give them."""

from __future__ import annotations

import pytest

from agent.pitr.sources import with_service_sources
from shared.config import ConfigError, Endpoint, load_archive_settings, load_source
from shared.errors import BadInputError
from tests.support.cli import run_cli
from tests.support.galera_shapes import bitnami_cluster, operator_cluster
from tests.support.kube import KubeApi


def sources(kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch, *, namespace: str, service: str) -> list[str]:
    monkeypatch.setenv("KUBECONFIG", str(kube_api.kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    values = {"CELL_DEFAULT_NAMESPACE": namespace, "MARIADB_HA_SERVICE_NAME": "galera", "MARIADB_PASSWORD": "x",
              "BINLOG_SOURCES_SERVICE": service}
    archive = load_archive_settings(values, host="galera", port=3306, prefix="p")
    return [str(e) for e in with_service_sources(archive, load_source(values)).sources]


def test_operator_pods_behind_the_headless_service_by_ordinal(kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    kube_api.seed(*operator_cluster(unready=(1,)))  # not Ready now is still a node to fail over to later
    assert sources(kube_api, monkeypatch, namespace="db-operator", service="galera-internal") == [
        f"galera-{n}.galera-internal.db-operator.svc:3306" for n in range(3)]


def test_bitnami_pods_behind_the_headless_service(kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    kube_api.seed(*bitnami_cluster())
    assert sources(kube_api, monkeypatch, namespace="db-bitnami", service="mariadb-galera-headless") == [
        f"mariadb-galera-{n}.mariadb-galera-headless.db-bitnami.svc:3306" for n in range(3)]


def test_pods_without_a_stable_name_are_refused(kube_api: KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    objects = operator_cluster()
    for body in objects:
        if body["kind"] == "Pod":
            del body["spec"]["subdomain"]
    kube_api.seed(*objects)
    with pytest.raises(BadInputError, match=r"pod 'galera-0' has no stable DNS name .*list the nodes in BINLOG_SOURCES"):
        sources(kube_api, monkeypatch, namespace="db-operator", service="galera")


def test_without_the_setting_nothing_is_read(kube_api: KubeApi) -> None:
    values = {"CELL_DEFAULT_NAMESPACE": "db", "MARIADB_PASSWORD": "x", "MARIADB_HA_SERVICE_NAME": "galera"}
    archive = load_archive_settings(values, host="galera", port=3306, prefix="p")
    assert with_service_sources(archive, load_source(values)).sources == (Endpoint("galera", 3306),)
    assert list(kube_api.emulator) == []


@pytest.mark.parametrize(("values", "message"), [
    ({"BINLOG_SOURCES_SERVICE": "galera-internal", "BINLOG_SOURCES": "galera-0.galera-internal"},
     "BINLOG_SOURCES and BINLOG_SOURCES_SERVICE are both set"),
    ({"BINLOG_SOURCES_SERVICE": "Galera_Internal"}, "BINLOG_SOURCES_SERVICE 'Galera_Internal' is not a Service name"),
])
def test_bad_settings(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_archive_settings(values, host="galera", port=3306, prefix="p")


def test_cli_missing_service_is_one_line_and_exit_2(kube_api: KubeApi, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    done = run_cli(["archive-binlogs"], {
        "CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(bucket), "KUBECONFIG": str(kube_api.kubeconfig),
        "CELL_DEFAULT_NAMESPACE": "databases", "MARIADB_HA_SERVICE_NAME": "galera", "MARIADB_PASSWORD": "x",
        "BINLOG_SOURCES_SERVICE": "galera-internal"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mariadb-ha-backup: error: reading Service 'galera-internal' in namespace 'databases': not found"]
    assert list(bucket.iterdir()) == []
