"""The archiver's nodes from the pods behind a Service (``BINLOG_SOURCES_SERVICE``), not a hand-written list.

Read once when ``archive-binlogs`` starts, through the Kubernetes API with the agent's own identity (its
Role then also needs ``get`` on that Service and ``list`` on pods: the chart's ``pitr.sourcesService``
and the Terraform module's ``binlog_sources_service`` grant exactly that). Every pod the Service selects
is a source, by ordinal, under its stable StatefulSet DNS name; the archiver itself skips a node it
cannot follow and fails over in that order. A scale-out is picked up when the archiver restarts.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace

from shared.config import ArchiveSettings, ConfigError, Endpoint, SourceSettings

log = logging.getLogger("mariadb_ha_backup.archive")


def with_service_sources(archive: ArchiveSettings, source: SourceSettings) -> ArchiveSettings:
    """``archive`` with its sources read from the Service's pods, when it names a Service."""
    if archive.sources_service is None:
        return archive
    if not source.namespace:
        raise ConfigError("BINLOG_SOURCES_SERVICE needs CELL_DEFAULT_NAMESPACE: the namespace of its pods")
    from shared.k8s.clients import default_cluster_access  # the kubernetes client is heavy: only when used
    from shared.k8s.galera_nodes import pod_endpoints

    access = default_cluster_access(os.environ)
    endpoints = tuple(Endpoint(host, port) for host, port in pod_endpoints(
        access=access, namespace=source.namespace, service=archive.sources_service))
    log.info("following the pods of Service %s: %s", archive.sources_service, ", ".join(map(str, endpoints)),
             extra={"event": "sources-from-service", "sources": [str(e) for e in endpoints]})
    return replace(archive, sources=endpoints)
