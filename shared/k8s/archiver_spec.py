"""The binlog archiver (``archive-binlogs --follow``) as a one-replica Deployment, as a plain dict.

It runs the backup Job's pod (same image, ServiceAccount, Secret access, hardening, volumes: built by
``build_pod_template``) with three differences: the command, ``restartPolicy: Always`` (a Deployment
restarts its pod; the archiver resumes from the bucket), and the component label, so the dispatcher's
overlap guard, which lists backup Jobs by label, never counts it.

Strategy Recreate: the old pod is gone before the new one starts, so two archivers of one target never
overlap (a rolling update would run both for a while; the create-only index would stop the second,
but only after both had streamed). ``terminationGracePeriodSeconds`` covers the final upload on SIGTERM.
"""

from __future__ import annotations

import copy
from typing import Any

from shared.k8s.job_settings import JobSettings
from shared.k8s.job_spec import CONTAINER_NAME, KubeObject, build_pod_template, target_labels
from shared.k8s.targets import Target

ARCHIVER_NAME_PREFIX = "mariadb-ha-backup-binlogs-"  # the Helm chart names it the same
COMPONENT = "binlog-archiver"
# On SIGTERM the archiver uploads the transactions it holds (at most BINLOG_UPLOAD_SECONDS' worth) and
# exits; a slow object store plus retries fits in 60 s, as for the backup Job.
_TERMINATION_GRACE_SECONDS = 60


def archiver_name(target: Target) -> str:
    return ARCHIVER_NAME_PREFIX + target.service[:63 - len(ARCHIVER_NAME_PREFIX)]


def archiver_labels(target: Target) -> dict[str, str]:
    return {**target_labels(target), "app.kubernetes.io/component": COMPONENT}


def build_archiver_deployment(*, target: Target, settings: JobSettings,
                              binlog_env: dict[str, str] | None = None) -> KubeObject:
    """``binlog_env``: the BINLOG_* settings (upload seconds, the node list) for the agent."""
    labels = archiver_labels(target)
    pod = copy.deepcopy(build_pod_template(target=target, settings=settings))
    pod["metadata"]["labels"].update(labels)
    pod["spec"]["restartPolicy"] = "Always"
    pod["spec"]["terminationGracePeriodSeconds"] = _TERMINATION_GRACE_SECONDS
    container: dict[str, Any] = next(c for c in pod["spec"]["containers"] if c["name"] == CONTAINER_NAME)
    container["args"] = ["archive-binlogs", "--follow"]
    container["env"] += [{"name": name, "value": value} for name, value in sorted((binlog_env or {}).items())]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": archiver_name(target),
                     "namespace": target.namespace, "labels": dict(labels)},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": dict(labels)},
            "template": pod,
        },
    }


def build_archiver_network_policy(*, target: Target) -> KubeObject:
    """No inbound traffic to the archiver (it serves nothing). Egress stays open: it needs the MariaDB
    nodes, DNS, the Kubernetes API (its Secret) and an object store whose addresses are not fixed."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": archiver_name(target),
                     "namespace": target.namespace, "labels": archiver_labels(target)},
        "spec": {"podSelector": {"matchLabels": archiver_labels(target)}, "policyTypes": ["Ingress"], "ingress": []},
    }
