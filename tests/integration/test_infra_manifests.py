"""infra/kubernetes: valid against the Kubernetes schemas, rendered from shared/k8s, and the CronJob
runs exactly the pod the dispatcher's Job runs (one source of truth)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shared.k8s.dispatcher_spec import JOB_RULES, node_reader_rules
from shared.k8s.invocation import DispatchRequest, run_invocation
from shared.k8s.job_settings import job_settings_from_env
from shared.k8s.job_spec import build_job
from shared.k8s.targets import Target
from tests.support.galera_shapes import operator_cluster
from tests.support.kube import KubeApi

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "infra" / "kubernetes"
RENDER = ROOT / "scripts" / "render-k8s-manifests"
# The oldest Kubernetes the manifests must load on: CronJob timeZone and Job podFailurePolicy are GA
# in 1.27 / 1.31; validate against both that floor and the newest schema the validator ships.
SCHEMA_VERSIONS = ("1.31", kubernetes_validate.latest_version())


def documents(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((MANIFESTS / name).read_text()))


def all_documents() -> list[dict[str, Any]]:
    return [doc for path in sorted(MANIFESTS.glob("*.yaml")) for doc in documents(path.name)]


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_schema(version: str) -> None:
    docs = all_documents()
    assert {d["kind"] for d in docs} == {"ServiceAccount", "Role", "RoleBinding", "CronJob", "Deployment",
                                         "NetworkPolicy"}
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)  # raises ValidationError with the path


def test_schema_validation_rejects_a_broken_cronjob() -> None:
    """The validator is not a no-op: a misspelt field in the committed CronJob is caught."""
    cronjob = documents("cronjob.yaml")[0]
    cronjob["spec"]["concurrencyPolicyy"] = cronjob["spec"].pop("concurrencyPolicy")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cronjob, SCHEMA_VERSIONS[-1], strict=True)


def test_committed_manifests_equal_a_fresh_render(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(RENDER), "--out", str(tmp_path)], check=True)
    rendered = {p.name: p.read_text() for p in tmp_path.glob("*.yaml")}
    committed = {p.name: p.read_text() for p in MANIFESTS.glob("*.yaml")}
    assert rendered.keys() == committed.keys() == {"rbac.yaml", "cronjob.yaml", "binlog-archiver.yaml",
                                                   "drill-cronjob.yaml", "physical-dispatch.yaml"}
    for name, text in committed.items():
        assert text == rendered[name], f"infra/kubernetes/{name} is stale: run make manifests"


def test_cronjob_runs_the_dispatcher_jobs_pod_spec_daily_at_four_without_overlap() -> None:
    cronjob = documents("cronjob.yaml")[0]
    spec = cronjob["spec"]
    assert (spec["schedule"], spec["concurrencyPolicy"]) == ("0 4 * * *", "Forbid")
    container = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    # The Job the cloud functions would create for the same target and agent settings:
    target = Target(namespace=cronjob["metadata"]["namespace"], service=env["MARIADB_HA_SERVICE_NAME"],
                    secret=env["MARIADB_HA_SECRET_NAME"])
    destination = {k: env[k] for k in ("CLOUD_PROVIDER", "S3_BUCKET", "AWS_REGION")}
    settings = job_settings_from_env({"AGENT_IMAGE": container["image"], **destination})
    job = build_job(target=target, settings=settings, scheduled_time=datetime(2026, 1, 1, 4, tzinfo=UTC))
    assert spec["jobTemplate"]["spec"]["template"]["spec"] == job["spec"]["template"]["spec"]
    assert spec["jobTemplate"]["spec"] == job["spec"]


def test_cronjob_pod_is_hardened() -> None:
    pod = documents("cronjob.yaml")[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
    }
    spool = next(v for v in pod["volumes"] if v["name"] == "spool")
    assert spool["emptyDir"]["sizeLimit"]
    assert container["resources"]["limits"]["ephemeral-storage"]


def test_rbac_binds_the_agent_to_get_one_secret_and_dispatchers_to_jobs() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in documents("rbac.yaml")}
    cronjob = documents("cronjob.yaml")[0]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    secret = next(e["value"] for e in pod["containers"][0]["env"] if e["name"] == "MARIADB_HA_SECRET_NAME")
    assert ("ServiceAccount", pod["serviceAccountName"]) in docs
    reader = docs[("Role", "mariadb-ha-backup-secret-reader")]
    assert reader["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [secret],
                                "verbs": ["get"]}]
    binding = docs[("RoleBinding", "mariadb-ha-backup-secret-reader")]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": pod["serviceAccountName"],
                                    "namespace": cronjob["metadata"]["namespace"]}]
    dispatcher = docs[("Role", "mariadb-ha-backup-dispatcher")]
    assert dispatcher["rules"] == [{"apiGroups": ["batch"], "resources": ["jobs"],
                                    "verbs": ["create", "get", "list"]}]
    assert all(d["metadata"]["namespace"] == cronjob["metadata"]["namespace"] for d in docs.values())


def test_binlog_archiver_is_one_recreated_replica_of_the_backup_pod_following_the_binlog() -> None:
    deployment, policy = documents("binlog-archiver.yaml")
    cronjob = documents("cronjob.yaml")[0]
    spec = deployment["spec"]
    assert (spec["replicas"], spec["strategy"]) == (1, {"type": "Recreate"})
    pod, backup_pod = spec["template"]["spec"], cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container, backup_container = pod["containers"][0], backup_pod["containers"][0]
    assert container["args"] == ["archive-binlogs", "--follow"]
    assert pod["restartPolicy"] == "Always" and pod["terminationGracePeriodSeconds"] >= 30
    # Everything else is the backup's pod: image, ServiceAccount (Secret access), hardening, volumes.
    for key in ("serviceAccountName", "securityContext", "volumes", "enableServiceLinks"):
        assert pod[key] == backup_pod[key]
    for key in ("image", "securityContext", "volumeMounts", "resources"):
        assert container[key] == backup_container[key]
    env = [e for e in container["env"] if not e["name"].startswith("BINLOG_")]
    assert env == backup_container["env"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"] == labels == policy["spec"]["podSelector"]["matchLabels"]
    # The dispatcher's overlap guard lists backup Jobs by label: the archiver must not match it.
    assert labels["app.kubernetes.io/component"] == "binlog-archiver"
    assert policy["spec"]["policyTypes"] == ["Ingress"] and policy["spec"]["ingress"] == []


def test_physical_dispatcher_creates_the_job_beside_a_node_with_exactly_its_rbac(kube_api: KubeApi) -> None:
    """physical-dispatch.yaml's CronJob, run with its own environment against a mariadb-operator-shaped
    cluster: the Job lands beside a secondary node; its Role allows exactly the lookup's calls."""
    account, role, binding, cronjob = documents("physical-dispatch.yaml")
    namespace = cronjob["metadata"]["namespace"]
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert pod["serviceAccountName"] == account["metadata"]["name"] == binding["subjects"][0]["name"]
    assert role["rules"] == JOB_RULES + node_reader_rules(env["MARIADB_HA_SERVICE_NAME"])
    assert cronjob["metadata"]["labels"]["app.kubernetes.io/component"] == "dispatcher"
    kube_api.seed(*operator_cluster(name=env["MARIADB_HA_SERVICE_NAME"], namespace=namespace))

    result = run_invocation(request=DispatchRequest(), platform="kubeconfig",
                            env={**env, "KUBECONFIG": str(kube_api.kubeconfig)})

    assert [job["status"] for job in result.response()["jobs"]] == ["created"]
    [job] = kube_api.created_jobs()
    assert job["metadata"]["annotations"]["mariadb-ha-backup/source-pod"] == "mariadb-ha-2"
    pod = job["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"] + pod["initContainers"]] == ["agent", "mariadb-backup"]
