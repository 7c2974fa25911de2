"""The chart's physical mode with a real helm, for the two Galera shapes (examples/physical-*.yaml): lint,
the dispatcher CronJob and its RBAC, a render valid for Kubernetes 1.30 and clean for checkov, and the
rendered dispatcher's own environment, run against pods shaped like each deployment (kmock), creating
the Job beside the right node."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.k8s.dispatcher_manifest import JOB_RULES, node_reader_rules
from shared.k8s.invocation import DispatchRequest, run_invocation
from tests.integration.test_helm_chart import CHART, CHECKOV, HELM, helm
from tests.support.galera_shapes import BITNAMI_IMAGE, OPERATOR_IMAGE, bitnami_cluster, operator_cluster
from tests.support.kube import KubeApi

EXAMPLES = {
    # example file → (namespace to install into, the shape's objects, pod read, PVC, server image, Secret key)
    "physical-mariadb-operator.yaml": ("db-operator", operator_cluster, "galera-2", "storage-galera-2",
                                       OPERATOR_IMAGE, "root-password"),
    "physical-bitnami-galera.yaml": ("db-bitnami", bitnami_cluster, "mariadb-galera-2", "data-mariadb-galera-2",
                                     BITNAMI_IMAGE, "mariadb-root-password"),
}


def render(example: str, namespace: str, *extra: str) -> list[dict[str, Any]]:
    done = helm("template", "r", ".", "--namespace", namespace, "-f", str(CHART / "examples" / example), *extra)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def named(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


@pytest.mark.parametrize("example", EXAMPLES)
def test_examples_lint_strict(example: str) -> None:
    done = helm("lint", "--strict", ".", "-f", str(CHART / "examples" / example))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("example", EXAMPLES)
def test_dispatcher_cronjob_and_its_rbac(example: str) -> None:
    namespace = EXAMPLES[example][0]
    docs = render(example, namespace)
    service = yaml.safe_load((CHART / "examples" / example).read_text())["mariadb"]["service"]
    [cronjob] = named(docs, "CronJob").values()
    assert cronjob["metadata"]["labels"]["app.kubernetes.io/component"] == "dispatcher"  # never counted as a backup
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "mariadb-ha-backup-dispatcher"
    assert [c["args"] for c in pod["containers"]] == [["dispatch"]]
    roles = named(docs, "Role")
    # The same rules as the rendered manifests and the Terraform module: one list in shared/k8s.
    assert roles["r-dispatcher"]["rules"] == JOB_RULES + node_reader_rules(service)
    # The backup pod's own identity still reads one Secret and nothing else.
    assert [rule["resources"] for rule in roles["r-secret-reader"]["rules"]] == [["secrets"]]
    assert named(docs, "RoleBinding")["r-dispatcher"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "mariadb-ha-backup-dispatcher", "namespace": namespace}]
    assert set(named(docs, "ServiceAccount")) == {"mariadb-ha-backup", "mariadb-ha-backup-dispatcher"}


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_rendered_dispatcher_creates_the_job_beside_the_node(example: str, kube_api: KubeApi) -> None:
    namespace, shape, pod, claim, server_image, key = EXAMPLES[example]
    shape_objects: Callable[..., list[dict[str, Any]]] = shape
    kube_api.seed(*shape_objects())
    [cronjob] = named(render(example, namespace), "CronJob").values()
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}

    result = run_invocation(request=DispatchRequest(), platform="kubeconfig",
                            env={**env, "KUBECONFIG": str(kube_api.kubeconfig)})

    assert [job["status"] for job in result.response()["jobs"]] == ["created"]
    [job] = kube_api.created_jobs()
    spec = job["spec"]["template"]["spec"]
    agent, sidecar = spec["containers"]
    assert job["metadata"]["annotations"]["mariadb-ha-backup/source-pod"] == pod
    assert {v["name"]: v for v in spec["volumes"]}["mariadb-data"]["persistentVolumeClaim"] == {
        "claimName": claim, "readOnly": True}
    assert {v["name"]: v for v in spec["volumes"]}["mariadb-password"]["secret"]["items"] == [
        {"key": key, "path": "password"}]
    assert (agent["image"], sidecar["image"]) == ("registry.example.com/mariadb-ha-backup:0.1.0", server_image)
    assert spec["serviceAccountName"] == "mariadb-ha-backup"  # the backup pod's identity, not the dispatcher's


def test_logical_default_renders_no_dispatcher() -> None:
    done = helm("template", "r", ".", "--namespace", "mariadb")
    docs = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    [cronjob] = named(docs, "CronJob").values()
    assert cronjob["metadata"]["labels"]["app.kubernetes.io/component"] == "backup"
    assert "r-dispatcher" not in named(docs, "Role")


def test_values_schema_rejects_an_unknown_method() -> None:
    done = helm("template", "r", ".", "--set", "backup.method=snapshot")
    assert done.returncode == 1
    assert "backup.method" in done.stderr


@pytest.mark.parametrize("example", EXAMPLES)
def test_render_is_valid_kubernetes_1_30(example: str, tmp_path: Path) -> None:
    docs = render(example, EXAMPLES[example][0])
    (tmp_path / "render.yaml").write_text(yaml.safe_dump_all(docs))
    validator = Path(sys.executable).parent / "kubernetes-validate"
    done = subprocess.run([str(validator), "--strict", "-k", "1.30.0", str(tmp_path / "render.yaml")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed for resource") == len(docs)


def test_checkov_finds_nothing_in_the_physical_renders(tmp_path: Path) -> None:
    for example, (namespace, *_) in EXAMPLES.items():
        (tmp_path / example).write_text(yaml.safe_dump_all(render(example, namespace)))
    env = {"PATH": f"{Path(HELM).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([str(CHECKOV), "--directory", str(tmp_path), "--framework", "kubernetes", "--skip-download",
                           "--output", "json"], capture_output=True, text=True, timeout=300, check=False, env=env)
    report = json.loads(done.stdout)
    summary = report["summary"]
    assert (summary["failed"], summary["parsing_errors"]) == (0, 0), report["results"].get("failed_checks")
    assert summary["passed"] > 50
