"""Which Galera node a physical backup reads, and where its data lives: from the pods behind the Service.

A physical backup copies one node's data directory, so the dispatcher must choose a node and pin the
Job beside it. The pods are found the way Kubernetes routes to them: the target Service's selector,
then the pods it selects. That covers both shapes people run, without naming either:

- mariadb-operator's ``MariaDB`` with Galera: pods ``<name>-N`` (container ``mariadb``, plus its
  ``agent`` sidecar, which also mounts the data), PVC ``storage-<name>-N``, headless ``<name>-internal``
  as the pods' subdomain; ``status.currentPrimary`` of the ``MariaDB`` names the pod that the
  ``<name>-primary`` Service sends writes to.
- Bitnami's mariadb-galera chart: pods ``<name>-N`` (container ``mariadb-galera``), PVC
  ``data-<name>-N``, ``<name>-headless`` as subdomain, runAsUser/fsGroup 1001; no writer is known.

Candidates are Ready, Running, not terminating and scheduled. Both shapes gate readiness on the node
being able to serve (mariadb-operator: on ``wsrep_local_state`` Synced); the sidecar checks Synced again
just before copying. Order: the configured preference first (it wins even over the writer), then
nodes that are not taking the writes, then higher ordinals first (pod 0 is where a cluster is
bootstrapped and where single-writer clients usually point).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.errors import BackupFailedError, BadInputError
from shared.k8s.api_calls import REQUEST_TIMEOUT, call_api, refused, server_message
from shared.k8s.clients import ClusterAccess

log = logging.getLogger("mariadb_ha_backup.dispatch")

# Server container names of the two shapes, tried in order when PHYSICAL_SERVER_CONTAINER is not set.
SERVER_CONTAINERS = ("mariadb", "mariadb-galera")
# Data volume names (volumeClaimTemplates) of the two shapes, when a server mounts more than one PVC.
DATA_VOLUMES = ("storage", "data")
# The official mariadb image's mysql user and group; mariadb-operator sets no securityContext by default
# and the entrypoint drops from root to this uid, so the data files belong to it.
OFFICIAL_IMAGE_UID = 999
OPERATOR_GROUP, OPERATOR_VERSION, OPERATOR_PLURAL = "k8s.mariadb.com", "v1alpha1", "mariadbs"
_ORDINAL = re.compile(r"-(\d+)$")


class NoBackupNodeError(BackupFailedError):
    """No pod behind the Service can be backed up now (none Ready): a later run may succeed."""


class PodShapeError(BadInputError):
    """The pods do not look like a MariaDB StatefulSet this tool can read (no PVC, several, no Service selector)."""


@dataclass(frozen=True)
class BackupNode:
    """Everything the physical Job needs to know about the node it reads."""

    pod: str
    node_name: str  # the Kubernetes node the Job is pinned to
    claim: str  # the data PVC, mounted read-only
    image: str  # the server container's image: mariadb-backup of the server's own version
    mount_path: str  # where the server mounts the data volume (mariadb-backup finds the datadir there)
    sub_path: str | None
    host: str  # the pod's stable DNS name (or its IP), for mariadb-backup's connection
    port: int
    run_as_user: int
    run_as_group: int
    fs_group: int
    image_pull_secrets: tuple[str, ...] = ()
    writer: bool = False


def choose_pod(pods: Sequence[Mapping[str, Any]], *, writer: str | None,
               preferred: Sequence[str] = ()) -> Mapping[str, Any]:
    """The pod to back up (see the module docstring for the order)."""
    candidates = {pod["metadata"]["name"]: pod for pod in pods if _usable(pod)}
    if not candidates:
        names = ", ".join(sorted(pod["metadata"]["name"] for pod in pods)) or "none"
        raise NoBackupNodeError(f"no Ready MariaDB pod to back up (pods: {names})")
    for name in preferred:
        if name in candidates:
            return candidates[name]
    if preferred:
        log.warning("none of the preferred pods %s is Ready; choosing another", ", ".join(preferred))
    return min(candidates.values(), key=lambda pod: (pod["metadata"]["name"] == writer, -_ordinal(pod)))


def describe_node(pod: Mapping[str, Any], *, server_container: str | None, writer: str | None,
                  fallback_uid: int = OFFICIAL_IMAGE_UID) -> BackupNode:
    """Read the server container, data PVC, identity and address off the chosen pod."""
    name, spec = pod["metadata"]["name"], pod["spec"]
    container = _server_container(spec, name=name, wanted=server_container)
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes") or []
              if v.get("persistentVolumeClaim")}
    mount = _data_mount(container, claims=claims, pod=name)
    pod_security, security = spec.get("securityContext") or {}, container.get("securityContext") or {}
    # A server pod running as root (the official image's entrypoint drops to mysql itself) says nothing
    # about the files' owner: then the image's uid applies.
    uid = security.get("runAsUser", pod_security.get("runAsUser")) or fallback_uid
    gid = security.get("runAsGroup", pod_security.get("runAsGroup")) or uid
    return BackupNode(
        pod=name, node_name=spec["nodeName"], claim=claims[mount["name"]], image=container["image"],
        mount_path=mount["mountPath"], sub_path=mount.get("subPath") or None, host=_address(pod),
        port=_mysql_port(container), run_as_user=uid, run_as_group=gid, fs_group=pod_security.get("fsGroup") or gid,
        image_pull_secrets=tuple(s["name"] for s in spec.get("imagePullSecrets") or [] if s.get("name")),
        writer=name == writer,
    )


def find_backup_node(*, access: ClusterAccess, namespace: str, service: str, preferred: Sequence[str] = (),
                     server_container: str | None = None, fallback_uid: int = OFFICIAL_IMAGE_UID) -> BackupNode:
    """Read the Service, its pods, the operator's status where there is one, and the chosen pod's PVC."""
    from kubernetes.client import CoreV1Api

    core = CoreV1Api(access.api_client)
    where = f"namespace {namespace!r}"
    pods = service_pods(access=access, namespace=namespace, service=service)
    writer = _operator_primary(access=access, namespace=namespace, pods=pods)
    node = describe_node(choose_pod(pods, writer=writer, preferred=preferred), server_container=server_container,
                         writer=writer, fallback_uid=fallback_uid)
    claim = _read(lambda: core.read_namespaced_persistent_volume_claim(
                      node.claim, namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT),
                  what=f"reading PersistentVolumeClaim {node.claim!r} in {where}", access=access)
    _check_shareable(claim, name=node.claim)
    log.info("physical backup of %s/%s reads pod %s on node %s (PVC %s)%s", namespace, service, node.pod,
             node.node_name, node.claim, " — the writer: no other node is Ready" if node.writer else "",
             extra={"event": "backup_node_chosen", "pod": node.pod, "node": node.node_name, "claim": node.claim})
    return node


def service_pods(*, access: ClusterAccess, namespace: str, service: str) -> list[dict[str, Any]]:
    """The pods the Service selects, as the API server sent them."""
    from kubernetes.client import CoreV1Api

    core = CoreV1Api(access.api_client)
    where = f"namespace {namespace!r}"
    svc = _read(lambda: core.read_namespaced_service(service, namespace, _preload_content=False,
                                                     _request_timeout=REQUEST_TIMEOUT),
                what=f"reading Service {service!r} in {where}", access=access)
    selector = (svc.get("spec") or {}).get("selector") or {}
    if not selector:
        raise PodShapeError(f"Service {service!r} in {where} has no selector: its pods cannot be found")
    label_selector = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
    pods: list[dict[str, Any]] = _read(
        lambda: core.list_namespaced_pod(namespace, label_selector=label_selector, _preload_content=False,
                                         _request_timeout=REQUEST_TIMEOUT),
        what=f"listing the pods of Service {service!r} in {where}", access=access)["items"]
    return pods


def pod_endpoints(*, access: ClusterAccess, namespace: str, service: str,
                  server_container: str | None = None) -> list[tuple[str, int]]:
    """``(host, port)`` of every pod behind the Service, by ordinal: the binlog archiver's sources. Ready or
    not: a StatefulSet pod's DNS name outlives its restarts, and the archiver skips a node it cannot follow."""
    pods = sorted((pod for pod in service_pods(access=access, namespace=namespace, service=service)
                   if not pod["metadata"].get("deletionTimestamp")), key=_ordinal)
    if not pods:
        raise NoBackupNodeError(f"Service {service!r} in namespace {namespace!r} selects no pods")
    return [(_stable_address(pod), _mysql_port(_server_container(pod["spec"], name=pod["metadata"]["name"],
                                                                  wanted=server_container))) for pod in pods]


def _stable_address(pod: Mapping[str, Any]) -> str:
    spec = pod["spec"]
    if not (spec.get("hostname") and spec.get("subdomain")):
        raise PodShapeError(f"pod {pod['metadata']['name']!r} has no stable DNS name (hostname and subdomain, as "
                            "StatefulSet pods behind a headless Service have): list the nodes in BINLOG_SOURCES")
    return _address(pod)


def _usable(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return (ready and status.get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")
            and bool(pod["spec"].get("nodeName")))


def _ordinal(pod: Mapping[str, Any]) -> int:
    match = _ORDINAL.search(pod["metadata"]["name"])
    return int(match.group(1)) if match else -1


def _server_container(spec: Mapping[str, Any], *, name: str, wanted: str | None) -> Mapping[str, Any]:
    containers = {c["name"]: c for c in spec.get("containers") or []}
    for candidate in (wanted,) if wanted else SERVER_CONTAINERS:
        if candidate in containers:
            return containers[candidate]
    if wanted:
        raise PodShapeError(f"pod {name!r} has no container {wanted!r} (PHYSICAL_SERVER_CONTAINER); "
                            f"it has {', '.join(containers)}")
    if len(containers) == 1:
        return next(iter(containers.values()))
    raise PodShapeError(f"pod {name!r} has containers {', '.join(containers)}: set PHYSICAL_SERVER_CONTAINER to "
                        "the MariaDB server's")


def _data_mount(container: Mapping[str, Any], *, claims: Mapping[str, str], pod: str) -> Mapping[str, Any]:
    mounts = [m for m in container.get("volumeMounts") or [] if m["name"] in claims]
    if len(mounts) > 1:
        mounts = [m for m in mounts if m["name"] in DATA_VOLUMES][:1] or mounts
    if len(mounts) != 1:
        found = ", ".join(m["name"] for m in mounts) or "none"
        raise PodShapeError(f"pod {pod!r}: container {container['name']!r} must mount exactly one data "
                            f"PersistentVolumeClaim (found: {found})")
    return mounts[0]


def _mysql_port(container: Mapping[str, Any]) -> int:
    for port in container.get("ports") or []:
        if port.get("name") in ("mysql", "mariadb") or port.get("containerPort") == 3306:
            return int(port["containerPort"])
    return 3306


def _address(pod: Mapping[str, Any]) -> str:
    """``<hostname>.<subdomain>.<namespace>.svc`` for a StatefulSet pod (stable across restarts), else its IP."""
    spec, meta = pod["spec"], pod["metadata"]
    if spec.get("hostname") and spec.get("subdomain"):
        return f"{spec['hostname']}.{spec['subdomain']}.{meta['namespace']}.svc"
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        raise NoBackupNodeError(f"pod {meta['name']!r} has no DNS name and no IP yet")
    return str(ip)


def _operator_primary(*, access: ClusterAccess, namespace: str, pods: Sequence[Mapping[str, Any]]) -> str | None:
    """``status.currentPrimary`` of the mariadb-operator ``MariaDB`` owning the pods, when they are its and
    the dispatcher may read it; otherwise no writer is known (every node counts as a reader)."""
    from kubernetes.client import CustomObjectsApi
    from kubernetes.client.exceptions import ApiException

    labels = [pod["metadata"].get("labels") or {} for pod in pods]
    owners = {str(label.get("app.kubernetes.io/instance")) for label in labels
              if label.get("app.kubernetes.io/name") == "mariadb" and label.get("app.kubernetes.io/instance")}
    if len(owners) != 1:
        return None
    name = owners.pop()
    try:
        mariadb: Any = call_api(lambda: CustomObjectsApi(access.api_client).get_namespaced_custom_object(
                               OPERATOR_GROUP, OPERATOR_VERSION, namespace, OPERATOR_PLURAL, name,
                               _request_timeout=REQUEST_TIMEOUT),
                           what=f"reading MariaDB {name!r} in namespace {namespace!r}")
    except ApiException as exc:
        log.info("no writer known for %s/%s: reading its MariaDB answered %s", namespace, name, exc.status)
        return None
    primary = (mariadb.get("status") or {}).get("currentPrimary")
    return str(primary) if primary else None


def _check_shareable(claim: Mapping[str, Any], *, name: str) -> None:
    modes = (claim.get("spec") or {}).get("accessModes") or []
    if "ReadWriteOncePod" in modes:
        raise PodShapeError(f"PersistentVolumeClaim {name!r} is ReadWriteOncePod: no second pod may mount it, "
                            "so a physical backup cannot read it (use a logical backup, or ReadWriteOnce)")
    phase = (claim.get("status") or {}).get("phase")
    if phase and phase != "Bound":
        raise NoBackupNodeError(f"PersistentVolumeClaim {name!r} is {phase}, not Bound")


def _read(call: Any, *, what: str, access: ClusterAccess) -> Any:
    """A GET/LIST as the server sent it (JSON, no client models): the node rules read plain dicts."""
    from kubernetes.client.exceptions import ApiException

    try:
        return json.loads(call_api(call, what=what).data)
    except ApiException as exc:
        if exc.status in (401, 403):
            raise refused(status=exc.status, reason=exc.reason or "", server_message=server_message(exc.body),
                          identity=access.identity, what=what) from None
        if exc.status == 404:
            raise PodShapeError(f"{what}: not found") from None
        raise BackupFailedError(f"{what}: HTTP {exc.status} {exc.reason}: {server_message(exc.body)}") from None
