"""The dispatcher inside the cluster (a CronJob running ``mariadb-ha-backup dispatch``) and its RBAC, as dicts.

Clusters without cloud functions run the logical backup pod straight from a CronJob. A physical
backup cannot be a fixed CronJob: the node, its PVC and its server image are known only at run time.
So the CronJob runs the dispatcher (the functions' code), under its own ServiceAccount, and the
dispatcher creates the backup Job beside a Ready node. ``NODE_READER_RULES`` is exactly what that
lookup calls (``galera_nodes``; tests/integration/test_dispatch_physical_kmock.py asserts the calls),
shared by the rendered manifests, the Terraform module and the Helm chart (tests compare them).
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.k8s.job_settings import job_settings_from_env
from shared.k8s.job_spec import KubeObject, cronjob_around, cronjob_name, target_labels
from shared.k8s.physical_job import physical_settings_from_env
from shared.k8s.targets import Target

COMPONENT = "dispatcher"
CONTAINER_NAME = "dispatcher"
# The dispatcher's own create/get/list of Jobs (the functions' Role).
JOB_RULES: list[KubeObject] = [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list"]}]
# A dispatch finishes in seconds; ten minutes covers API retries against a struggling control plane.
_ACTIVE_DEADLINE_SECONDS = 600
_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
              "limits": {"cpu": "500m", "memory": "256Mi", "ephemeral-storage": "128Mi"}}


def pod_reader_rules(service: str) -> list[KubeObject]:
    """Finding the pods behind one Service: its selector, then the pods. The binlog archiver's Role gets
    these when it follows a Service's pods (BINLOG_SOURCES_SERVICE)."""
    return [
        {"apiGroups": [""], "resources": ["services"], "resourceNames": [service], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
    ]


def node_reader_rules(service: str) -> list[KubeObject]:
    """What choosing the node needs: the Service's selector, its pods, the PVC, the operator's status."""
    return [
        *pod_reader_rules(service),
        {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get"]},
        {"apiGroups": ["k8s.mariadb.com"], "resources": ["mariadbs"], "verbs": ["get"]},
    ]


def dispatcher_labels(target: Target) -> dict[str, str]:
    """Not the backup's component: the overlap guard must never count the dispatcher's own Job."""
    return {**target_labels(target), "app.kubernetes.io/component": COMPONENT}


def build_dispatcher_cronjob(*, target: Target, env: Mapping[str, str], schedule: str,
                             service_account: str, run_as_user: int = 10001) -> KubeObject:
    """``env``: the dispatcher's settings (AGENT_IMAGE, destination, BACKUP_METHOD, PHYSICAL_*, JOB_*),
    checked here as ``dispatch`` will read them, so a bad render fails now rather than at 04:00."""
    job_settings_from_env(env)
    physical_settings_from_env(env)
    labels = dispatcher_labels(target)
    container_env = {"CELL_DEFAULT_NAMESPACE": target.namespace, "MARIADB_HA_SERVICE_NAME": target.service,
                     "MARIADB_HA_SECRET_NAME": target.secret, **env}
    pod = {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "serviceAccountName": service_account,
            "restartPolicy": "Never",
            "enableServiceLinks": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": run_as_user, "runAsGroup": run_as_user,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": CONTAINER_NAME,
                "image": env["AGENT_IMAGE"],
                "args": ["dispatch"],
                "env": [{"name": name, "value": value} for name, value in container_env.items()],
                "resources": {kind: dict(values) for kind, values in _RESOURCES.items()},
                "securityContext": {
                    "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
                },
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108  # an emptyDir
            }],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        },
    }
    job_spec = {
        # The dispatcher retries API calls itself; a second pod covers a lost node. Exit 2 (bad
        # configuration) cannot be helped by another pod.
        "backoffLimit": 2,
        "activeDeadlineSeconds": _ACTIVE_DEADLINE_SECONDS,
        "ttlSecondsAfterFinished": 3 * 86400,
        "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": CONTAINER_NAME, "operator": "In", "values": [2]}},
        ]},
        "template": pod,
    }
    return cronjob_around(name=cronjob_name(target), namespace=target.namespace, labels=labels, schedule=schedule,
                          job_spec=job_spec)
