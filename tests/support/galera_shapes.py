"""API objects shaped like the two Galera deployments people run on Kubernetes, for the kmock emulator.

- ``operator_cluster``: mariadb-operator's ``MariaDB`` with ``spec.galera`` — StatefulSet pods
  ``<name>-N`` with containers ``mariadb`` and ``agent`` (both mount ``storage``), PVC
  ``storage-<name>-N``, no securityContext (the official image drops to uid 999 itself), Services
  ``<name>``, ``<name>-primary`` (selects the primary pod), ``<name>-secondary`` (Endpoints managed by
  the operator: no selector) and headless ``<name>-internal``; the ``MariaDB`` status names the primary.
- ``bitnami_cluster``: Bitnami's mariadb-galera chart — pods ``<name>-N`` with container
  ``mariadb-galera``, PVC ``data-<name>-N`` mounted at ``/bitnami/mariadb``, runAsUser/fsGroup 1001,
  Services ``<name>`` and headless ``<name>-headless``, Secret key ``mariadb-root-password``.

Field values follow what each project's manifests render (trimmed to what a reader of pods uses).
"""

from __future__ import annotations

from typing import Any

OPERATOR_IMAGE = "docker-registry1.mariadb.com/library/mariadb:11.4.5"
BITNAMI_IMAGE = "docker.io/bitnami/mariadb-galera:11.4.4-debian-12-r0"
NODES = ("node-a", "node-b", "node-c")


def _meta(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, **({"labels": labels} if labels else {})}


def _stateful_pod(pod: str, namespace: str, labels: dict[str, str], *, owner: str) -> dict[str, Any]:
    """Kind and metadata of a StatefulSet's pod (labelled with its pod name, owned by the StatefulSet)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {**_meta(pod, namespace, {**labels, "statefulset.kubernetes.io/pod-name": pod}),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": owner,
                                              "uid": "0", "controller": True}]}}


def _status(index: int, *, ready: bool) -> dict[str, Any]:
    return {"phase": "Running", "podIP": f"10.1.{index}.7",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}


def _claim(name: str, namespace: str, *, mode: str = "ReadWriteOnce") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(name, namespace),
            "spec": {"accessModes": [mode], "resources": {"requests": {"storage": "10Gi"}}},
            "status": {"phase": "Bound", "accessModes": [mode]}}


def _service(name: str, namespace: str, selector: dict[str, str] | None, *, headless: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"ports": [{"name": "mysql", "port": 3306}]}
    if selector:
        spec["selector"] = selector
    if headless:
        spec.update(clusterIP="None", publishNotReadyAddresses=True)
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, namespace), "spec": spec}


def operator_cluster(name: str = "galera", namespace: str = "db-operator", *, primary: int | None = 0,
                     unready: tuple[int, ...] = (), claim_mode: str = "ReadWriteOnce") -> list[dict[str, Any]]:
    labels = {"app.kubernetes.io/name": "mariadb", "app.kubernetes.io/instance": name}
    objects = [
        _service(name, namespace, labels),
        _service(f"{name}-primary", namespace, {**labels, "statefulset.kubernetes.io/pod-name": f"{name}-0"}),
        _service(f"{name}-secondary", namespace, None),
        _service(f"{name}-internal", namespace, labels, headless=True),
        {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(name, namespace), "type": "Opaque",
         "data": {"root-password": "c2VjcmV0"}},
    ]
    if primary is not None:
        objects.append({
            "apiVersion": "k8s.mariadb.com/v1alpha1", "kind": "MariaDB", "metadata": _meta(name, namespace),
            "spec": {"image": OPERATOR_IMAGE, "replicas": 3, "galera": {"enabled": True},
                     "rootPasswordSecretKeyRef": {"name": name, "key": "root-password"},
                     "storage": {"size": "10Gi"}},
            "status": {"currentPrimary": f"{name}-{primary}", "currentPrimaryPodIndex": primary,
                       "conditions": [{"type": "Ready", "status": "True"}]},
        })
    for index, node in enumerate(NODES):
        pod = f"{name}-{index}"
        objects.append(_claim(f"storage-{pod}", namespace, mode=claim_mode))
        storage = {"name": "storage", "mountPath": "/var/lib/mysql"}
        objects.append({
            **_stateful_pod(pod, namespace, labels, owner=name),
            "spec": {
                "hostname": pod, "subdomain": f"{name}-internal", "nodeName": node,
                "imagePullSecrets": [{"name": "registry-credentials"}],
                "initContainers": [{"name": "init", "image": "ghcr.io/mariadb-operator/mariadb-operator:25.10.2",
                                    "volumeMounts": [storage]}],
                "containers": [
                    {"name": "mariadb", "image": OPERATOR_IMAGE,
                     "ports": [{"name": "mariadb", "containerPort": 3306}],
                     "volumeMounts": [storage, {"name": "config", "mountPath": "/etc/mysql/conf.d"}]},
                    {"name": "agent", "image": "ghcr.io/mariadb-operator/mariadb-operator:25.10.2",
                     "volumeMounts": [storage]},
                ],
                "volumes": [{"name": "storage", "persistentVolumeClaim": {"claimName": f"storage-{pod}"}},
                            {"name": "config", "configMap": {"name": f"{name}-config"}}],
            },
            "status": _status(index, ready=index not in unready),
        })
    return objects


def bitnami_cluster(name: str = "mariadb-galera", namespace: str = "db-bitnami", *,
                    unready: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    labels = {"app.kubernetes.io/name": "mariadb-galera", "app.kubernetes.io/instance": name}
    objects = [
        _service(name, namespace, labels),
        _service(f"{name}-headless", namespace, labels, headless=True),
        {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(name, namespace), "type": "Opaque",
         "data": {"mariadb-root-password": "c2VjcmV0", "mariadb-galera-mariabackup-password": "YmFja3Vw"}},
    ]
    for index, node in enumerate(NODES):
        pod = f"{name}-{index}"
        objects.append(_claim(f"data-{pod}", namespace))
        objects.append({
            **_stateful_pod(pod, namespace, labels, owner=name),
            "spec": {
                "hostname": pod, "subdomain": f"{name}-headless", "nodeName": node,
                "securityContext": {"fsGroup": 1001, "fsGroupChangePolicy": "Always",
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "mariadb-galera", "image": BITNAMI_IMAGE,
                    "securityContext": {"runAsUser": 1001, "runAsGroup": 1001, "runAsNonRoot": True,
                                        "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False},
                    "ports": [{"name": "mysql", "containerPort": 3306}, {"name": "galera", "containerPort": 4567},
                              {"name": "ist", "containerPort": 4568}, {"name": "sst", "containerPort": 4444}],
                    "volumeMounts": [
                        {"name": "previous-boot", "mountPath": "/opt/bitnami/mariadb/.bootstrap"},
                        {"name": "data", "mountPath": "/bitnami/mariadb"},
                        {"name": "mariadb-galera-config", "mountPath": "/opt/bitnami/mariadb/conf/my.cnf",
                         "subPath": "my.cnf"},
                        {"name": "empty-dir", "mountPath": "/tmp", "subPath": "tmp-dir"},
                    ],
                }],
                "volumes": [{"name": "previous-boot", "emptyDir": {}},
                            {"name": "mariadb-galera-config", "configMap": {"name": f"{name}-configuration"}},
                            {"name": "empty-dir", "emptyDir": {}},
                            {"name": "data", "persistentVolumeClaim": {"claimName": f"data-{pod}"}}],
            },
            "status": _status(index, ready=index not in unready),
        })
    return objects
