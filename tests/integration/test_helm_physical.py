"""The chart's physical mode with a real helm, for the two Galera shapes (examples/physical-*.yaml): lint,
the dispatcher CronJob and its RBAC, a render valid for Kubernetes 1.30 and clean for checkov, and the
rendered dispatcher's own environment, run against pods shaped like each deployment (kmock), creating
the Job beside the right node."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.k8s.dispatcher_spec import JOB_RULES, node_reader_rules, pod_reader_rules
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
    [agent], [sidecar] = spec["containers"], spec["initContainers"]
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
        restore = ["--set", "physicalRestore.enabled=true", "--set", "physicalRestore.claim=data-0",
                   "--set", "physicalRestore.serverImage=mariadb:11.4"]
        (tmp_path / example).write_text(yaml.safe_dump_all(render(example, namespace, *restore)))
    env = {"PATH": f"{Path(HELM).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([str(CHECKOV), "--directory", str(tmp_path), "--framework", "kubernetes", "--skip-download",
                           "--output", "json"], capture_output=True, text=True, timeout=300, check=False, env=env)
    report = json.loads(done.stdout)
    summary = report["summary"]
    assert (summary["failed"], summary["parsing_errors"]) == (0, 0), report["results"].get("failed_checks")
    assert summary["passed"] > 50


# --- Restoring a Galera cluster from a physical backup: the restore Job (templates/physical-restore.yaml)

RESTORE_SHAPES = {
    # shape → (values, what the server sees)
    "mariadb-operator": ({"claim": "storage-galera-0", "serverImage": OPERATOR_IMAGE}, "/var/lib/mysql",
                         "/var/lib/mysql", 999),
    "bitnami": ({"claim": "data-mariadb-galera-0", "serverImage": BITNAMI_IMAGE, "mountPath": "/bitnami/mariadb",
                 "datadir": "/bitnami/mariadb/data", "runAsUser": 1001}, "/bitnami/mariadb", "/bitnami/mariadb/data",
                1001),
}


def restore_job(shape: str, *extra: str) -> dict[str, Any]:
    values = {"enabled": "true", **RESTORE_SHAPES[shape][0]}
    sets = [arg for key, value in values.items() for arg in ("--set", f"physicalRestore.{key}={value}")]
    done = helm("template", "r", ".", "--namespace", "databases", *sets, *extra)
    assert done.returncode == 0, done.stderr
    [job] = [doc for doc in yaml.safe_load_all(done.stdout) if doc and doc["kind"] == "Job"]
    return job


@pytest.mark.parametrize("shape", RESTORE_SHAPES)
def test_restore_job_prepares_node_zeros_volume_then_swaps_it_as_the_server(shape: str, tmp_path: Path) -> None:
    values, mount, datadir, uid = RESTORE_SHAPES[shape]
    job = restore_job(shape, "--set", "physicalRestore.backup=20260101T040000Z")
    pod = job["spec"]["template"]["spec"]
    [remote, restore], [swap] = pod["initContainers"], pod["containers"]
    assert job["spec"]["backoffLimit"] == 0
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "restore"  # not a backup for the guard
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["fsGroup"]) == (uid, uid)
    assert {v["name"]: v for v in pod["volumes"]}["data"]["persistentVolumeClaim"] == {"claimName": values["claim"]}
    assert restore["args"] == ["restore", "20260101T040000Z", "--datadir", f"{mount}/.mariadb-ha-restored", "--json"]
    assert restore["image"] == "registry.example.com/mariadb-ha-backup:0.1.0"
    assert swap["image"] == values["serverImage"] and swap["command"][:2] == ["sh", "-c"]
    # The prepare runs the server's own mariadb-backup: a native sidecar, reached through the shim on PATH.
    assert (remote["image"], remote["restartPolicy"]) == (values["serverImage"], "Always")
    restore_env = {e["name"]: e["value"] for e in restore["env"]}
    assert restore_env["PATH"].startswith("/opt/mariadb-ha-backup-shim:")
    assert {m["name"]: m["mountPath"] for m in restore["volumeMounts"]}["data"] == mount == {
        m["name"]: m["mountPath"] for m in remote["volumeMounts"]}["data"]  # same paths on both sides
    assert {e["name"]: e["value"] for e in swap["env"]} == {
        "RESTORED": f"{mount}/.mariadb-ha-restored", "DATADIR": datadir, "MOUNT": mount, "KEEP_PREVIOUS": "false"}
    assert restore_job(shape)["spec"]["template"]["spec"]["initContainers"][1]["args"][1] == "--latest"
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    validator = Path(sys.executable).parent / "kubernetes-validate"
    done = subprocess.run([str(validator), "--strict", "-k", "1.30.0", str(tmp_path / "job.yaml")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_restore_job_needs_the_claim_and_the_server_image() -> None:
    done = helm("template", "r", ".", "--set", "physicalRestore.enabled=true")
    assert done.returncode == 1
    assert "physicalRestore" in done.stderr


def run_swap(job: dict[str, Any], *, root: Path) -> subprocess.CompletedProcess[str]:
    """The swap container's script exactly as rendered, by a real sh, with its paths under ``root``."""
    [swap] = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] if e["name"] == "KEEP_PREVIOUS" else str(root) + e["value"] for e in swap["env"]}
    return subprocess.run(swap["command"], env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("shape", RESTORE_SHAPES)
def test_swap_puts_the_prepared_copy_in_place_and_marks_it_the_bootstrap_node(shape: str, tmp_path: Path) -> None:
    _, mount, datadir, _ = RESTORE_SHAPES[shape]
    old, restored = tmp_path / datadir.lstrip("/"), tmp_path / mount.lstrip("/") / ".mariadb-ha-restored"
    (old / "shop").mkdir(parents=True)
    for name, text in {"ibdata1": "old", "shop/orders.ibd": "old", "grastate.dat": "seqno: 99\n",
                       "gvwstate.dat": "view", ".hidden": "old"}.items():
        (old / name).write_text(text)
    (restored / "shop").mkdir(parents=True)
    for name, text in {"ibdata1": "new", "shop/orders.ibd": "new",
                       "mariadb_backup_galera_info": "8f2e1c4a-5b6d-11ef-9a3b-0242ac120002:1234 0\n"}.items():
        (restored / name).write_text(text)

    done = run_swap(restore_job(shape, "--set", "physicalRestore.keepPrevious=true"), root=tmp_path)

    assert done.returncode == 0, done.stderr
    assert (old / "ibdata1").read_text() == (old / "shop" / "orders.ibd").read_text() == "new"
    assert (old / "grastate.dat").read_text() == ("# GALERA saved state\nversion: 2.1\n"
                                                   "uuid:    8f2e1c4a-5b6d-11ef-9a3b-0242ac120002\nseqno:   1234\n"
                                                   "safe_to_bootstrap: 1\n")
    assert not (old / "gvwstate.dat").exists() and not restored.exists()
    [previous] = (tmp_path / mount.lstrip("/")).glob(".mariadb-ha-previous-*")
    assert sorted(p.name for p in previous.iterdir()) == [".hidden", "grastate.dat", "gvwstate.dat", "ibdata1", "shop"]
    assert (previous / "shop" / "orders.ibd").read_text() == "old"
    assert "delete it before the other nodes join" in done.stderr


def test_swap_without_a_prepared_copy_touches_nothing(tmp_path: Path) -> None:
    datadir = tmp_path / "var" / "lib" / "mysql"
    datadir.mkdir(parents=True)
    (datadir / "ibdata1").write_text("old")
    done = run_swap(restore_job("mariadb-operator"), root=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == f"restore swap: {datadir}/.mariadb-ha-restored is missing: the restore step did not finish"
    assert [p.name for p in datadir.iterdir()] == ["ibdata1"]


@contextlib.contextmanager
def remote_mariadb_backup(job: dict[str, Any], root: Path) -> Iterator[dict[str, str]]:
    """The restore Job's sidecar loop (a real sh, the real mariadb-backup) and an environment whose
    ``mariadb-backup`` is the Job's shim, both exactly as rendered."""
    pod = job["spec"]["template"]["spec"]
    remote = pod["initContainers"][0]
    [configmap] = [doc for doc in yaml.safe_load_all(helm(
        "template", "r", ".", "--namespace", "databases", "--set", "physicalRestore.enabled=true",
        "--set", "physicalRestore.claim=c", "--set", "physicalRestore.serverImage=i").stdout)
        if doc and doc["kind"] == "ConfigMap"]
    calls, shim = root / "calls", root / "shim"
    calls.mkdir()
    shim.mkdir()
    (shim / "mariadb-backup").write_text(configmap["data"]["mariadb-backup"])
    (shim / "mariadb-backup").chmod(0o555)
    server_path = "/usr/local/bin:/usr/bin:/bin"
    loop = subprocess.Popen(remote["command"], env={"PATH": server_path, "CALLS_DIR": str(calls)},
                            start_new_session=True)
    try:
        yield {"PATH": f"{shim}:{server_path}", "CALLS_DIR": str(calls)}
    finally:
        loop.kill()
        loop.wait()


def test_shim_runs_mariadb_backup_next_door_with_its_output_and_exit_code(tmp_path: Path) -> None:
    with remote_mariadb_backup(restore_job("bitnami"), tmp_path) as env:
        version = subprocess.run(["mariadb-backup", "--version"], env=env, capture_output=True, text=True,
                                 timeout=60, check=False)
        refused = subprocess.run(["mariadb-backup", "--backup", "--target-dir=/tmp/x"], env=env,
                                 capture_output=True, text=True, timeout=60, check=False)
        failed = subprocess.run(["mariadb-backup", "--prepare", f"--target-dir={tmp_path / 'missing'}"], env=env,
                                capture_output=True, text=True, timeout=60, check=False)
    local = subprocess.run(["mariadb-backup", "--version"], capture_output=True, text=True, check=True)
    # The server's own version line (only the program's path differs): what the agent's series check reads.
    assert (version.returncode, version.stdout) == (0, local.stdout)
    assert version.stderr.split(" ", 1)[1] == local.stderr.split(" ", 1)[1]
    assert (refused.returncode, refused.stderr) == (2, "remote mariadb-backup: refusing option --backup\n")
    assert failed.returncode != 0 and failed.stderr
    assert list((tmp_path / "calls").iterdir()) == []  # every call cleaned up


def test_swap_of_a_real_prepared_copy_starts_a_server_equal_to_the_source(tmp_path: Path, sample_server) -> None:  # type: ignore[no-untyped-def]
    """The whole second half with real tools: mariadb-backup's copy (through the sidecar), prepared on the
    node's volume beside old data, swapped in by the rendered script; mariadbd starts on the datadir and
    its tables equal the source's; the old data set aside is not seen as a database."""
    from tests.integration.test_physical_sidecar import receive, start_on, start_sidecar
    from tests.support.mariadb_server import TestServer, table_checksums

    datadir = tmp_path / "var" / "lib" / "mysql"
    datadir.mkdir(parents=True)
    (datadir / "ibdata1").write_text("the broken cluster's data")
    sidecar = start_sidecar(tmp_path, sample_server)
    try:
        receive(tmp_path / "stream", datadir / ".mariadb-ha-restored")
    finally:
        sidecar.kill()  # it serves calls until stopped (the kubelet does it in the Job)
        sidecar.wait()
    with remote_mariadb_backup(restore_job("mariadb-operator"), tmp_path) as shim_env:
        prepared = subprocess.run(["mariadb-backup", "--prepare", f"--target-dir={datadir / '.mariadb-ha-restored'}"],
                                  env=shim_env, capture_output=True, text=True, timeout=300, check=False)
    assert prepared.returncode == 0, prepared.stderr
    assert "completed OK!" in prepared.stderr  # mariadb-backup's own last line, relayed by the shim

    done = run_swap(restore_job("mariadb-operator"), root=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "seqno:   -1" in (datadir / "grastate.dat").read_text()  # a standalone source has no Galera state
    assert sorted(p.name for p in datadir.iterdir() if p.name.startswith(".mariadb-ha")) == []  # old data deleted

    process, socket = start_on(datadir, tmp_path / "run")
    try:
        restored = TestServer()
        restored.dir = socket.parent
        assert table_checksums(restored) == table_checksums(sample_server)
        assert not [db for db in restored.execute("SHOW DATABASES").split() if "mariadb-ha" in db]
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_archiver_follows_the_pods_behind_a_service_with_just_the_rights_to_find_them() -> None:
    done = helm("template", "r", ".", "--namespace", "db-operator", "--set", "pitr.enabled=true",
                "--set", "pitr.sourcesService=galera-internal", "--set", "mariadb.service=galera")
    assert done.returncode == 0, done.stderr
    docs = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    [archiver] = named(docs, "Deployment").values()
    env = {e["name"]: e["value"] for e in archiver["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["BINLOG_SOURCES_SERVICE"] == "galera-internal" and "BINLOG_SOURCES" not in env
    assert named(docs, "Role")["r-secret-reader"]["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["mariadb-ha"], "verbs": ["get"]},
        *pod_reader_rules("galera-internal")]
    plain = [doc for doc in yaml.safe_load_all(helm("template", "r", ".", "--set", "pitr.enabled=true").stdout) if doc]
    assert [rule["resources"] for rule in named(plain, "Role")["r-secret-reader"]["rules"]] == [["secrets"]]
