"""Report every ``backup`` run, however it ends: Prometheus gauges and a webhook notification.

``reported_run`` wraps the run. Success, a failure after retries, bad configuration or credentials
(exit 2), and SIGTERM/SIGINT (``TerminatedError``) are all reported; the exception is re-raised
untouched, so exit codes stay what ``agent.cli`` makes of them. Reporting itself never raises
(``shared.reporting``). A run skipped because another backup is running (exit 3) reports nothing:
the run that holds the backup id reports its own outcome.

``last_success_timestamp_seconds`` is published only when a backup was committed (its manifest
written), so a failed run never erases it; sizes likewise only come from a committed backup.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import shared  # shared.__version__ is read when used: looking it up costs ~16 ms
from agent.backup.run import BackupResult
from shared.errors import EXIT_FAILED, AlreadyRunningError, TerminatedError, ToolError, signal_exit_code
from shared.logs import redact
from shared.reporting.metrics import Gauge, MetricsSettings, metrics_settings_from, publish
from shared.reporting.notify import NotifySettings, notify, notify_settings_from

PREFIX = "mariadb_ha_backup_"
LAST_SUCCESS = PREFIX + "last_success_timestamp_seconds"
LAST_COMPLETION = PREFIX + "last_completion_timestamp_seconds"
LAST_STATUS = PREFIX + "last_status"
DURATION = PREFIX + "duration_seconds"
DUMP_BYTES = PREFIX + "dump_bytes"
STORED_BYTES = PREFIX + "stored_bytes"


@dataclass(frozen=True)
class ReportingSettings:
    metrics: MetricsSettings
    notify: NotifySettings


def reporting_settings_from(raw: Mapping[str, str]) -> ReportingSettings:
    """From env name → value (the shared option table's env values overridden by flags)."""
    return ReportingSettings(metrics=metrics_settings_from(raw), notify=notify_settings_from(raw))


@dataclass
class RunOutcome:
    """Filled in by the wrapped block: the committed backup, once there is one."""

    result: BackupResult | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    clock: float = field(default_factory=time.monotonic)


@contextmanager
def reported_run(reporting: ReportingSettings) -> Iterator[RunOutcome]:
    outcome = RunOutcome()
    try:
        yield outcome
    except AlreadyRunningError:
        raise
    except BaseException as exc:
        report(outcome, reporting, error=exc)
        raise
    report(outcome, reporting, error=None)


def report(outcome: RunOutcome, reporting: ReportingSettings, *, error: BaseException | None) -> None:
    finished = time.time()
    if reporting.metrics.enabled:
        publish(run_gauges(outcome, error=error, finished=finished), reporting.metrics)
    if reporting.notify.url:
        notify(summary(outcome, reporting.metrics.grouping, error=error), reporting.notify, failed=error is not None)


def run_gauges(outcome: RunOutcome, *, error: BaseException | None, finished: float) -> list[Gauge]:
    gauges = [
        Gauge(LAST_COMPLETION, "When the last backup run ended, however it ended (Unix time).", finished),
        Gauge(LAST_STATUS, "1 if the last backup run succeeded, 0 if it failed.", 0.0 if error else 1.0),
        Gauge(DURATION, "How long the last backup run took, in seconds.", time.monotonic() - outcome.clock),
    ]
    result = outcome.result
    if result is not None:  # a committed backup, even if something after it (retention) failed
        gauges += [
            Gauge(LAST_SUCCESS, "When the last backup was committed (its manifest written; Unix time).", finished),
            Gauge(DUMP_BYTES, "Bytes of SQL dumped by the last committed backup.", float(result.raw_bytes)),
            Gauge(STORED_BYTES, "Bytes stored for the last committed backup's artifact.",
                  float(result.compressed_bytes)),
        ]
    return gauges


def summary(outcome: RunOutcome, grouping: Mapping[str, str], *, error: BaseException | None) -> dict[str, Any]:
    """The notification body: what a person needs to act on, never a secret (see shared.reporting.notify)."""
    result = outcome.result
    body: dict[str, Any] = {
        "status": "failure" if error else "success",
        "namespace": grouping.get("namespace"),
        "service": grouping.get("service"),
        "started_at": outcome.started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_seconds": round(time.monotonic() - outcome.clock, 3),
        "tool_version": shared.__version__,
    }
    if result is not None:
        body.update(backup_id=result.backup_id, format=result.format, archive_key=result.artifact_key,
                    sha1=result.sha1, dump_bytes=result.raw_bytes, stored_bytes=result.compressed_bytes)
    if error is not None:
        body.update(error=error_message(error), exit_code=exit_code(error))
    return body


def error_message(error: BaseException) -> str:
    if isinstance(error, TerminatedError):
        return f"stopped by signal {error.signum}"
    if isinstance(error, ToolError):
        return redact(str(error))
    return redact(f"unexpected failure: {type(error).__name__}: {error}")


def exit_code(error: BaseException) -> int:
    if isinstance(error, TerminatedError):
        return signal_exit_code(error.signum)
    if isinstance(error, ToolError):
        return error.exit_code
    return EXIT_FAILED
