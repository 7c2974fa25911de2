"""The physical backup Job: the logical Job's pod, pinned to one Galera node, plus a mariadb-backup sidecar.

``BACKUP_METHOD=physical`` makes the dispatcher find a node (``galera_nodes``) and turn the Job that
``build_job`` made into this one (see ``shared.physical_sidecar`` for why a sidecar):

- ``affinity.nodeAffinity`` requires that node by ``metadata.name`` (exact, unlike the hostname label,
  which differs from the node name on some clouds): a ReadWriteOnce volume can be mounted by a second
  pod only on the node where it is attached.
- the data PVC mounted **read-only**, at the server's own mount path (and subPath), in the sidecar only:
  mariadb-backup opens every file of the datadir O_RDONLY (traced with strace on 10.11: all writes go
  to ``--target-dir``/``--extra-lsndir``) and takes the datadir and InnoDB paths from the server's
  ``SHOW VARIABLES``, so the same mount path is all it needs.
- the native sidecar ``mariadb-backup`` (an init container with ``restartPolicy: Always``, Kubernetes
  1.29+): the server container's image, run as the server's uid/gid (the data directories are 0700),
  the password key of the Secret mounted as a file (the kubelet reads it: no RBAC), same hardening as
  the agent.
- pod ``fsGroup`` = the server's group, so the shared emptyDir (FIFO, request, exit code, LSN info) is
  group-shared between the agent (uid 10001) and the sidecar; the server pod's ``imagePullSecrets``,
  so its private image can be pulled here too.
- the agent gets ``BACKUP_METHOD=physical``, ``PHYSICAL_STREAM_DIR`` and ``MARIADB_HOST``/``PORT`` of
  the chosen pod (its own queries must reach the node whose files are copied, not the Service), and
  runs through ``python -m shared.physical_sidecar --exec-agent``, which puts the sidecar's
  ``mariadb-backup`` shim first on PATH and execs ``mariadb-ha-backup backup`` (exit codes unchanged).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import DNS1123_SUBDOMAIN, ConfigError
from shared.k8s.galera_nodes import OFFICIAL_IMAGE_UID, BackupNode
from shared.k8s.job_settings import IMAGE_REFERENCE
from shared.k8s.job_spec import CONTAINER_NAME, KubeObject
from shared.k8s.targets import Target
from shared.physical_sidecar import PASSWORD_FILE, SIDECAR_SCRIPT, STREAM_DIR, STREAM_DIR_ENV

SIDECAR_NAME = "mariadb-backup"
SOURCE_POD_ANNOTATION = "mariadb-ha-backup/source-pod"
SOURCE_NODE_ANNOTATION = "mariadb-ha-backup/source-node"
METHODS = ("logical", "physical")
# The FIFO moves data, it stores none; the rest is a request line, an exit code and two small info
# files. Memory-backed, so nothing of the stream touches the node's disk.
_STREAM_SIZE_LIMIT = "16Mi"
# mariadb-backup's own scratch (the option file, --target-dir for its metadata in stream mode).
_SIDECAR_TMP_SIZE_LIMIT = "256Mi"
# mariadb-backup copies with a few threads and small buffers; 1 GiB leaves room for --parallel and
# a large redo log scan. CPU: the copy is I/O-bound; compression happens in the agent.
_SIDECAR_RESOURCES = {"requests": {"cpu": "250m", "memory": "256Mi", "ephemeral-storage": "256Mi"},
                      "limits": {"memory": "1Gi", "ephemeral-storage": "512Mi"}}


@dataclass(frozen=True)
class PhysicalSettings:
    preferred_pods: tuple[str, ...] = ()
    server_container: str | None = None
    image: str | None = None  # default: the server container's image
    fallback_uid: int = OFFICIAL_IMAGE_UID


def physical_settings_from_env(env: Mapping[str, str]) -> PhysicalSettings | None:
    """None for ``BACKUP_METHOD=logical`` (the default); bad values raise ``ConfigError`` naming them."""
    method = env.get("BACKUP_METHOD", "").strip() or "logical"
    if method not in METHODS:
        raise ConfigError(f"BACKUP_METHOD must be logical or physical, not {method[:40]!r}")
    if method == "logical":
        return None
    preferred = tuple(p.strip() for p in env.get("PHYSICAL_PREFERRED_PODS", "").split(",") if p.strip())
    for name in preferred:
        if not DNS1123_SUBDOMAIN.match(name):
            raise ConfigError(f"PHYSICAL_PREFERRED_PODS: {name[:60]!r} is not a pod name")
    container = env.get("PHYSICAL_SERVER_CONTAINER", "").strip() or None
    if container and not DNS1123_SUBDOMAIN.match(container):
        raise ConfigError(f"PHYSICAL_SERVER_CONTAINER {container[:60]!r} is not a container name")
    image = env.get("PHYSICAL_BACKUP_IMAGE", "").strip() or None
    if image and not IMAGE_REFERENCE.match(image):
        raise ConfigError(f"PHYSICAL_BACKUP_IMAGE {image[:120]!r} is not a container image reference")
    uid = env.get("PHYSICAL_RUN_AS_USER", "").strip()
    if uid and (not uid.isdigit() or int(uid) == 0):
        raise ConfigError(f"PHYSICAL_RUN_AS_USER must be a non-zero uid, not {uid[:40]!r}")
    return PhysicalSettings(preferred_pods=preferred, server_container=container, image=image,
                            fallback_uid=int(uid) if uid else OFFICIAL_IMAGE_UID)


def build_physical_job(*, job: KubeObject, target: Target, node: BackupNode,
                       settings: PhysicalSettings) -> KubeObject:
    """``job`` (from ``build_job``) turned into the physical Job reading ``node``."""
    job = copy.deepcopy(job)
    job["metadata"]["annotations"].update({SOURCE_POD_ANNOTATION: node.pod, SOURCE_NODE_ANNOTATION: node.node_name})
    pod = job["spec"]["template"]["spec"]
    pod["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node.node_name]}]}]}}}
    pod["securityContext"]["fsGroup"] = node.fs_group
    # The data volume already belongs to that group: never walk it to change ownership.
    pod["securityContext"]["fsGroupChangePolicy"] = "OnRootMismatch"
    if node.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": name} for name in node.image_pull_secrets]
    pod["volumes"] += [
        {"name": "stream", "emptyDir": {"medium": "Memory", "sizeLimit": _STREAM_SIZE_LIMIT}},
        {"name": "mariadb-data", "persistentVolumeClaim": {"claimName": node.claim, "readOnly": True}},
        {"name": "mariadb-password", "secret": {"secretName": target.secret, "defaultMode": 0o440,
                                                "items": [{"key": target.password_key, "path": "password"}]}},
        {"name": "sidecar-tmp", "emptyDir": {"sizeLimit": _SIDECAR_TMP_SIZE_LIMIT}},
    ]
    agent = next(c for c in pod["containers"] if c["name"] == CONTAINER_NAME)
    # BACKUP_METHOD may already be there (passed through from the dispatcher's environment): once is enough.
    present = {item["name"] for item in agent["env"]}
    agent["env"] += [{"name": name, "value": value} for name, value in (
        ("BACKUP_METHOD", "physical"), (STREAM_DIR_ENV, STREAM_DIR),
        ("MARIADB_HOST", node.host), ("MARIADB_PORT", str(node.port))) if name not in present]
    agent["volumeMounts"].append({"name": "stream", "mountPath": STREAM_DIR})
    # The agent as always, with a `mariadb-backup` first on PATH that is the sidecar (shared.physical_sidecar).
    agent["command"] = ["python", "-m", "shared.physical_sidecar", "--exec-agent"]
    pod["initContainers"] = [_sidecar(node=node, image=settings.image or node.image)]
    return job


def _sidecar(*, node: BackupNode, image: str) -> KubeObject:
    data_mount: KubeObject = {"name": "mariadb-data", "mountPath": node.mount_path, "readOnly": True}
    if node.sub_path:
        data_mount["subPath"] = node.sub_path
    env = {"STREAM_DIR": STREAM_DIR, "PASSWORD_FILE": PASSWORD_FILE, "MARIADB_HOST": node.host,
           "MARIADB_PORT": str(node.port), "TMPDIR": "/tmp"}  # noqa: S108  # an emptyDir
    return {
        "name": SIDECAR_NAME,
        "image": image,
        # A native sidecar: it serves the agent's calls and the kubelet stops it once the agent has exited.
        "restartPolicy": "Always",
        # The script, not the image's entrypoint: server images' entrypoints start (or initialise) a server.
        "command": ["sh", "-c", SIDECAR_SCRIPT],
        "env": [{"name": name, "value": value} for name, value in env.items()],
        "resources": copy.deepcopy(_SIDECAR_RESOURCES),
        "securityContext": {
            "runAsUser": node.run_as_user, "runAsGroup": node.run_as_group, "runAsNonRoot": True,
            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            data_mount,
            {"name": "stream", "mountPath": STREAM_DIR},
            {"name": "mariadb-password", "mountPath": PASSWORD_FILE.rsplit("/", 1)[0], "readOnly": True},
            {"name": "sidecar-tmp", "mountPath": "/tmp"},  # noqa: S108  # an emptyDir, not the host's /tmp
        ],
    }
