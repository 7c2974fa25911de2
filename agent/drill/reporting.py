"""After every drill: gauges (Pushgateway and textfile, like a backup's) and a webhook on failure.

The gauges go to their own Pushgateway group (``job="mariadb-ha-backup-drill"``, plus namespace and
service), so a drill never replaces a backup's values nor the other way round. As for backups, a
failed drill publishes ``last_drill_status 0`` and leaves ``last_drill_success_timestamp_seconds``
and the measured recovery time of the last good drill in place: "the last drill failed" and "the
last good drill is 9 days old" are two different alerts.

``recovery_target_seconds`` is the operator's target recovery time (``DRILL_RECOVERY_TARGET_SECONDS``,
a chart value), published beside the measurement so one static alert rule compares the two per
target (infra/monitoring/alerts.yml, MariaDBRecoveryTimeAboveTarget).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import shared  # shared.__version__ is read when used: looking it up costs ~16 ms
from agent.backup.reporting import PREFIX, ReportingSettings, error_message
from agent.common.drill_record import DrillRecord
from shared.config import ConfigError
from shared.reporting.metrics import Gauge, metrics_settings_from, publish
from shared.reporting.notify import notify, notify_settings_from

DRILL_JOB = "mariadb-ha-backup-drill"
LAST_DRILL_SUCCESS = PREFIX + "last_drill_success_timestamp_seconds"
LAST_DRILL_COMPLETION = PREFIX + "last_drill_completion_timestamp_seconds"
LAST_DRILL_STATUS = PREFIX + "last_drill_status"
DRILL_RESTORE_SECONDS = PREFIX + "drill_restore_seconds"
DRILL_RESTORE_BYTES_PER_SECOND = PREFIX + "drill_restore_bytes_per_second"
RECOVERY_TARGET_SECONDS = PREFIX + "recovery_target_seconds"
DRILL_GAUGES = (LAST_DRILL_SUCCESS, LAST_DRILL_COMPLETION, LAST_DRILL_STATUS, DRILL_RESTORE_SECONDS,
                DRILL_RESTORE_BYTES_PER_SECOND, RECOVERY_TARGET_SECONDS)
TARGET_ENV = "DRILL_RECOVERY_TARGET_SECONDS"


def drill_reporting_from(raw: Mapping[str, str]) -> tuple[ReportingSettings, float | None]:
    """The reporting settings under the drill's own job, and the recovery target (None: not set)."""
    settings = ReportingSettings(metrics=metrics_settings_from(raw, job=DRILL_JOB), notify=notify_settings_from(raw))
    target = raw.get(TARGET_ENV)
    if not target:
        return settings, None
    if not target.isdigit() or int(target) == 0:
        raise ConfigError(f"{TARGET_ENV} must be a positive whole number of seconds, not {target[:20]!r}")
    return settings, float(target)


def drill_gauges(record: DrillRecord | None, *, target: float | None, finished: float) -> list[Gauge]:
    """``record`` None: the drill ended before it had a backup to drill (bad configuration, no backup)."""
    passed = record is not None and record.passed
    gauges = [
        Gauge(LAST_DRILL_COMPLETION, "When the last restore drill ended, however it ended (Unix time).", finished),
        Gauge(LAST_DRILL_STATUS, "1 if the last restore drill passed, 0 if it failed.", 1.0 if passed else 0.0),
    ]
    if target is not None:
        gauges.append(Gauge(RECOVERY_TARGET_SECONDS, "The target recovery time (RTO) set for this database.", target))
    if record is not None and passed and record.restore_seconds is not None:
        gauges += [
            Gauge(LAST_DRILL_SUCCESS, "When the last passing restore drill ended (Unix time).", finished),
            Gauge(DRILL_RESTORE_SECONDS, "Wall time of the last passing drill's restore: the measured recovery "
                                         "time.", record.restore_seconds),
            Gauge(DRILL_RESTORE_BYTES_PER_SECOND, "Bytes of SQL loaded per second in the last passing drill.",
                  record.bytes_per_second or 0.0),
        ]
    return gauges


def report_drill(record: DrillRecord | None, settings: ReportingSettings, *, target: float | None,
                 error: BaseException | None, record_key: str | None) -> None:
    """Publish the gauges; POST the webhook's /fail with the reason when the drill did not pass. Never raises."""
    if settings.metrics.enabled:
        publish(drill_gauges(record, target=target, finished=time.time()), settings.metrics)
    failed = record is None or not record.passed
    if settings.notify.url and failed:
        notify(failure_summary(record, settings.metrics.grouping, error=error, record_key=record_key),
               settings.notify, failed=True)


def failure_summary(record: DrillRecord | None, grouping: Mapping[str, str], *, error: BaseException | None,
                    record_key: str | None) -> dict[str, Any]:
    reason = record.reason if record is not None and record.reason else error_message(error) if error else "unknown"
    body: dict[str, Any] = {"event": "restore-drill", "status": "failure", "namespace": grouping.get("namespace"),
                            "service": grouping.get("service"), "reason": reason, "tool_version": shared.__version__}
    if record is not None:
        body.update(backup_id=record.backup_id, kind=record.kind, started_at=record.started_at,
                    finished_at=record.finished_at, server=record.server, drill_record=record_key)
    return body
