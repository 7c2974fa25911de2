"""The binlog archiver's gauges, for ``shared.reporting.metrics.publish`` (its own Pushgateway group).

Call ``publish(binlog_gauges(last_event=..., archived_at=...), binlog_metrics_settings(config))`` after
each committed segment. ``lag`` is how late a commit reached the bucket (archived_at minus the segment's last
commit time), so an idle database does not look like a lagging archive; the alert
``MariaDBBinlogArchiveLagging`` (infra/monitoring/alerts.yml) watches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from shared.reporting.metrics import Gauge, MetricsSettings, metrics_settings_from

BINLOG_JOB = "mariadb-ha-backup-binlog"  # a group of its own: backup runs must not replace these gauges
LAST_EVENT = "mariadb_ha_backup_binlog_last_event_timestamp_seconds"
LAG = "mariadb_ha_backup_binlog_lag_seconds"


def binlog_metrics_settings(raw: Mapping[str, str]) -> MetricsSettings:
    return metrics_settings_from(raw, job=BINLOG_JOB)


def binlog_gauges(*, last_event: datetime, archived_at: datetime) -> list[Gauge]:
    return [
        Gauge(LAST_EVENT, "Commit time of the newest archived binlog transaction (Unix time).", last_event.timestamp()),
        Gauge(LAG, "Seconds between the newest archived commit and its segment reaching the bucket.",
              max(0.0, (archived_at - last_event).total_seconds())),
    ]
