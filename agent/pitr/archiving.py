"""``archive-binlogs``: one run of the archiver from the configuration (resume, follow, stop on SIGTERM)."""

from __future__ import annotations

import threading

from agent.common.bucket import open_bucket
from agent.common.credentials import resolve_password
from agent.common.run_dir import private_run_dir
from agent.common.signals import signals_set
from agent.pitr.archiver.archiver import Archiver, ArchiveResult, Credentials
from agent.pitr.archiver.metrics import JOB as METRICS_JOB
from agent.pitr.archiver.metrics import MetricsPublisher
from agent.pitr.sources import with_service_sources
from shared.config import ConfigValues, load_destination, load_retry, load_source, load_tmp_dir
from shared.config.binlog import load_archive_settings
from shared.encryption import load_encryption_settings
from shared.logs import register_secret
from shared.reporting.metrics import metrics_settings_from
from shared.storage.object_lock import load_lock_settings, rolling_retainer


def archive_binlogs(config: ConfigValues, *, follow: bool) -> ArchiveResult:
    destination, source, retry = load_destination(config), load_source(config), load_retry(config)
    archive = load_archive_settings(config, host=source.host, port=source.port, prefix=destination.prefix)
    archive = with_service_sources(archive, source)
    metrics_settings = metrics_settings_from(config, job=METRICS_JOB)
    encryption = load_encryption_settings(config)  # segments are encrypted like the backups' artifacts
    lock = load_lock_settings(config)
    bucket = open_bucket(destination, retry)
    next(iter(bucket.storage.list(bucket.prefix + "/")), None)  # a missing bucket: exit 2 before anything
    retain = rolling_retainer(bucket.storage, lock)  # a bucket that cannot lock: exit 2 before anything
    password = resolve_password(source)
    register_secret(password)
    metrics = MetricsPublisher(metrics_settings)
    stop = threading.Event()
    try:
        with signals_set(stop), private_run_dir(load_tmp_dir(config)) as run_dir:
            archiver = Archiver(bucket.storage, prefix=bucket.prefix, settings=archive,
                                credentials=Credentials(user=source.user, password=password), run_dir=run_dir,
                                retry_seconds=retry.max_seconds, stop=stop, observer=metrics, encryption=encryption,
                                retain=retain)
            return archiver.run(follow=follow)
    finally:
        metrics.close()


def archive_summary(result: ArchiveResult) -> str:
    """``archive-binlogs``' text: what was archived, and every gap recorded."""
    lines = [f"archived {result.transactions} transactions in {result.segments} segments; "
             f"archive at GTID {result.state or '(empty)'}"]
    lines += [f"  GAP seq {g.seq}: {g.from_gtid_state or '(start)'} -> {g.to_gtid_state}: {g.reason}"
              for g in result.gaps]
    return "\n".join(lines)
