"""Physical backup Jobs against the Kubernetes API emulator, for both Galera shapes people run: which node,
which PVC, which image, which containers and identities the cluster receives, and which API calls the
dispatcher needs (the RBAC it is granted must cover exactly these)."""

from __future__ import annotations

import copy
from typing import Any

import kmock
import kubernetes_validate
import pytest

from shared.k8s.invocation import DispatchRequest, run_invocation
from shared.physical_sidecar import SIDECAR_SCRIPT
from tests.support.galera_shapes import BITNAMI_IMAGE, OPERATOR_IMAGE, bitnami_cluster, operator_cluster
from tests.support.kube import KubeApi
from tests.unit.test_k8s_job_spec import AT, ENV, EXPECTED_JOB

OPERATOR_TARGET = {"CELL_DEFAULT_NAMESPACE": "db-operator", "MARIADB_HA_SERVICE_NAME": "galera",
                   "MARIADB_HA_SECRET_NAME": "galera"}
BITNAMI_TARGET = {"CELL_DEFAULT_NAMESPACE": "db-bitnami", "MARIADB_HA_SERVICE_NAME": "mariadb-galera",
                  "MARIADB_HA_SECRET_NAME": "mariadb-galera", "MARIADB_HA_SECRET_KEY": "mariadb-root-password"}
SIDECAR_HARDENING = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                     "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
SIDECAR_RESOURCES = {"requests": {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "256Mi"},
                     "limits": {"memory": "1Gi", "ephemeral-storage": "512Mi"}}


def invoke(kube_api: KubeApi, target: dict[str, str], **extra: Any) -> dict[str, Any]:
    request = extra.pop("request", {})
    env = {**ENV, **target, "BACKUP_METHOD": "physical", "KUBECONFIG": str(kube_api.kubeconfig), **extra}
    return run_invocation(request=DispatchRequest(scheduled_time=AT, **request), platform="kubeconfig",
                          env=env).response()


def expected_job(*, namespace: str, service: str, secret: str, key: str, pod: str, node: str, claim: str,
                 image: str, mount_path: str, host: str, uid: int, gid: int, fs_group: int,
                 pull_secrets: list[str] | None = None) -> dict[str, Any]:
    """The logical Job (written out in the unit tests) plus, written out here, everything physical adds."""
    job: dict[str, Any] = copy.deepcopy(EXPECTED_JOB)
    job["metadata"].update(name=f"mariadb-ha-backup-{service}-202501310200", namespace=namespace)
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        labels["app.kubernetes.io/instance"] = service
    job["metadata"]["annotations"].update({"mariadb-ha-backup/source-pod": pod, "mariadb-ha-backup/source-node": node})
    spec = job["spec"]["template"]["spec"]
    spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}
    spec["securityContext"].update(fsGroup=fs_group, fsGroupChangePolicy="OnRootMismatch")
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in pull_secrets]
    spec["volumes"] += [
        {"name": "stream", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        {"name": "mariadb-data", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}},
        {"name": "mariadb-password", "secret": {"secretName": secret, "defaultMode": 0o440,
                                                "items": [{"key": key, "path": "password"}]}},
        {"name": "sidecar-tmp", "emptyDir": {"sizeLimit": "256Mi"}},
    ]
    agent = spec["containers"][0]
    env = agent["env"]
    env[0:3] = [{"name": "CELL_DEFAULT_NAMESPACE", "value": namespace},
                {"name": "MARIADB_HA_SERVICE_NAME", "value": service},
                {"name": "MARIADB_HA_SECRET_NAME", "value": secret},
                *([{"name": "MARIADB_HA_SECRET_KEY", "value": key}] if key != "root-password" else [])]
    # BACKUP_METHOD is one of the variables the dispatcher passes through, in the option table's order.
    keep_last = next(i for i, item in enumerate(env) if item["name"] == "BACKUP_KEEP_LAST")
    env.insert(keep_last, {"name": "BACKUP_METHOD", "value": "physical"})
    env += [{"name": "PHYSICAL_STREAM_DIR", "value": "/run/mariadb-ha-backup"},
            {"name": "MARIADB_HOST", "value": host}, {"name": "MARIADB_PORT", "value": "3306"}]
    agent["volumeMounts"].append({"name": "stream", "mountPath": "/run/mariadb-ha-backup"})
    agent["command"] = ["python", "-m", "shared.physical_sidecar", "--exec-agent"]  # then args: ["backup"]
    spec["initContainers"] = [{
        "name": "mariadb-backup",
        "image": image,
        "restartPolicy": "Always",  # a native sidecar: stopped by the kubelet once the agent has exited
        "command": ["sh", "-c", SIDECAR_SCRIPT],
        "env": [{"name": "STREAM_DIR", "value": "/run/mariadb-ha-backup"},
                {"name": "PASSWORD_FILE", "value": "/run/secrets/mariadb-ha-backup/password"},
                {"name": "MARIADB_HOST", "value": host}, {"name": "MARIADB_PORT", "value": "3306"},
                {"name": "TMPDIR", "value": "/tmp"}],
        "resources": SIDECAR_RESOURCES,
        "securityContext": {"runAsUser": uid, "runAsGroup": gid, **SIDECAR_HARDENING},
        "volumeMounts": [{"name": "mariadb-data", "mountPath": mount_path, "readOnly": True},
                         {"name": "stream", "mountPath": "/run/mariadb-ha-backup"},
                         {"name": "mariadb-password", "mountPath": "/run/secrets/mariadb-ha-backup", "readOnly": True},
                         {"name": "sidecar-tmp", "mountPath": "/tmp"}],
    }]
    return job


def api_calls(kube_api: KubeApi) -> list[tuple[str, str, str]]:
    def collect() -> list[tuple[str, str, str]]:
        return [(str(r.action.value), r.resource.plural if r.resource else "", r.name or "") for r in kube_api.emulator]
    return kube_api.in_loop(collect)


def test_mariadb_operator_job_reads_a_secondary_node(kube_api: KubeApi) -> None:
    kube_api.seed(*operator_cluster())  # the operator's status: galera-0 takes the writes
    response = invoke(kube_api, OPERATOR_TARGET)

    assert response == {"jobs": [{"name": "mariadb-ha-backup-galera-202501310200", "namespace": "db-operator",
                                  "status": "created"}]}
    expected = expected_job(
        namespace="db-operator", service="galera", secret="galera", key="root-password", pod="galera-2",
        node="node-c", claim="storage-galera-2", image=OPERATOR_IMAGE, mount_path="/var/lib/mysql",
        host="galera-2.galera-internal.db-operator.svc", uid=999, gid=999, fs_group=999,
        pull_secrets=["registry-credentials"])
    assert kube_api.created_jobs() == [expected]
    kubernetes_validate.validate(expected, "1.30.0", strict=True)
    # What the dispatcher's Role must allow, and nothing more is used.
    assert api_calls(kube_api) == [
        ("FETCH", "services", "galera"), ("LIST", "pods", ""), ("FETCH", "mariadbs", "galera"),
        ("FETCH", "persistentvolumeclaims", "storage-galera-2"), ("LIST", "jobs", ""), ("CREATE", "jobs", ""),
    ]


def test_bitnami_job_mounts_its_data_pvc_as_its_user(kube_api: KubeApi) -> None:
    kube_api.seed(*bitnami_cluster())
    response = invoke(kube_api, BITNAMI_TARGET)

    assert response["jobs"][0]["status"] == "created"
    expected = expected_job(
        namespace="db-bitnami", service="mariadb-galera", secret="mariadb-galera", key="mariadb-root-password",
        pod="mariadb-galera-2", node="node-c", claim="data-mariadb-galera-2", image=BITNAMI_IMAGE,
        mount_path="/bitnami/mariadb", host="mariadb-galera-2.mariadb-galera-headless.db-bitnami.svc",
        uid=1001, gid=1001, fs_group=1001)
    assert kube_api.created_jobs() == [expected]
    kubernetes_validate.validate(expected, "1.30.0", strict=True)
    # Not the operator's pods: no MariaDB object is asked for.
    assert [call[1] for call in api_calls(kube_api)] == ["services", "pods", "persistentvolumeclaims", "jobs", "jobs"]


def pinned(kube_api: KubeApi) -> tuple[str, str]:
    [job] = kube_api.created_jobs()
    return job["metadata"]["annotations"]["mariadb-ha-backup/source-pod"], job["spec"]["template"]["spec"][
        "volumes"][3]["persistentVolumeClaim"]["claimName"]


def test_the_writer_is_avoided_wherever_the_operator_puts_it(kube_api: KubeApi) -> None:
    kube_api.seed(*operator_cluster(primary=2))
    invoke(kube_api, OPERATOR_TARGET)
    assert pinned(kube_api) == ("galera-1", "storage-galera-1")


def test_a_configured_preference_wins_even_over_the_writer(kube_api: KubeApi) -> None:
    kube_api.seed(*operator_cluster(primary=0))
    invoke(kube_api, OPERATOR_TARGET, PHYSICAL_PREFERRED_PODS="galera-9, galera-0")
    assert pinned(kube_api) == ("galera-0", "storage-galera-0")


def test_unready_nodes_are_skipped_and_the_writer_is_the_last_resort(kube_api: KubeApi) -> None:
    kube_api.seed(*bitnami_cluster(unready=(2,)))
    invoke(kube_api, BITNAMI_TARGET)
    assert pinned(kube_api) == ("mariadb-galera-1", "data-mariadb-galera-1")

    kube_api.seed(*operator_cluster(primary=0, unready=(1, 2)))
    invoke(kube_api, OPERATOR_TARGET)
    assert kube_api.created_jobs()[-1]["metadata"]["annotations"]["mariadb-ha-backup/source-pod"] == "galera-0"


def test_no_ready_node_fails_the_target_and_creates_nothing(kube_api: KubeApi) -> None:
    kube_api.seed(*operator_cluster(unready=(0, 1, 2)))
    [job] = invoke(kube_api, OPERATOR_TARGET)["jobs"]
    assert job["status"] == "failed"
    assert job["error"] == "no Ready MariaDB pod to back up (pods: galera-0, galera-1, galera-2)"
    assert kube_api.created_jobs() == []


def test_read_write_once_pod_volume_is_refused_with_the_reason(kube_api: KubeApi) -> None:
    kube_api.seed(*operator_cluster(claim_mode="ReadWriteOncePod"))
    [job] = invoke(kube_api, OPERATOR_TARGET)["jobs"]
    assert job["status"] == "failed"
    assert job["error"].startswith("PersistentVolumeClaim 'storage-galera-2' is ReadWriteOncePod: no second pod")
    assert kube_api.created_jobs() == []


def test_unknown_server_container_names_the_containers(kube_api: KubeApi) -> None:
    kube_api.seed(*operator_cluster())
    [job] = invoke(kube_api, OPERATOR_TARGET, PHYSICAL_SERVER_CONTAINER="mysqld")["jobs"]
    assert job["error"] == ("pod 'galera-2' has no container 'mysqld' (PHYSICAL_SERVER_CONTAINER); "
                            "it has mariadb, agent")


def test_missing_service_is_reported_and_the_fleet_goes_on(kube_api: KubeApi) -> None:
    kube_api.seed(*bitnami_cluster())
    targets = [{"namespace": "db-operator", "service": "galera", "secret": "galera"},
               {"namespace": "db-bitnami", "service": "mariadb-galera", "secret": "mariadb-galera",
                "secret_key": "mariadb-root-password"}]
    from shared.k8s.targets import parse_targets

    jobs = invoke(kube_api, {}, request={"targets": parse_targets(targets, source="test")})["jobs"]
    assert [(j["namespace"], j["status"]) for j in jobs] == [("db-operator", "failed"), ("db-bitnami", "created")]
    assert jobs[0]["error"] == "reading Service 'galera' in namespace 'db-operator': not found"


def test_dry_run_reads_the_pods_and_creates_nothing(kube_api: KubeApi) -> None:
    kube_api.seed(*operator_cluster())
    [job] = invoke(kube_api, OPERATOR_TARGET, request={"dry_run": True})["jobs"]
    assert job["status"] == "dry-run"
    assert job["job"]["spec"]["template"]["spec"]["initContainers"][0]["image"] == OPERATOR_IMAGE
    assert {call[0] for call in api_calls(kube_api)} == {"FETCH", "LIST"}


def test_forbidden_pod_listing_names_the_identity(kube_api: KubeApi) -> None:
    kube_api.seed(*operator_cluster())
    error = kmock.KubernetesError(status=403, reason="Forbidden", details={},
                                  message='pods is forbidden: User "tester" cannot list resource "pods"')
    kube_api.in_loop(lambda: kube_api.emulator[kmock.action.LIST, kmock.resource("", "v1", "pods")] ** 10 << error)
    [job] = invoke(kube_api, OPERATOR_TARGET)["jobs"]
    assert job["status"] == "failed"
    assert job["error"].startswith("listing the pods of Service 'galera' in namespace 'db-operator': Kubernetes API "
                                   "refused kubeconfig user 'tester' (context 'kmock') (403 Forbidden)")


@pytest.mark.parametrize(("env", "message"), [
    ({"BACKUP_METHOD": "snapshot"}, "BACKUP_METHOD must be logical or physical, not 'snapshot'"),
    ({"PHYSICAL_PREFERRED_PODS": "Galera_0"}, "PHYSICAL_PREFERRED_PODS: 'Galera_0' is not a pod name"),
    ({"PHYSICAL_RUN_AS_USER": "0"}, "PHYSICAL_RUN_AS_USER must be a non-zero uid, not '0'"),
    ({"PHYSICAL_BACKUP_IMAGE": "not an image"}, "PHYSICAL_BACKUP_IMAGE 'not an image' is not a container image"),
])
def test_bad_physical_settings_fail_before_any_request(kube_api: KubeApi, env: dict[str, str], message: str) -> None:
    from shared.errors import BadInputError

    with pytest.raises(BadInputError, match=message):
        invoke(kube_api, OPERATOR_TARGET, **env)
    assert list(kube_api.emulator) == []
