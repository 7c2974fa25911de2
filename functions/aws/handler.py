"""AWS Lambda entry point: EventBridge Scheduler (or a console test) → backup Job(s) on EKS.

Events understood:
- the test payload ``{"dry_run", "scheduled_time", "targets"}`` (all optional); EventBridge
  Scheduler sends it with ``"scheduled_time": "<aws.scheduler.scheduled-time>"`` as its input;
- an EventBridge rule "Scheduled Event", whose ``time`` is the scheduled time.
A failed target raises after the others were dispatched, so the scheduler's retry policy applies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.errors import ToolError
from shared.k8s.invocation import parse_request, run_invocation
from shared.times import parse_time

SERVICE = "mariadb-ha-backup-dispatch"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace="MariaDBHABackup", service=SERVICE)
_METRICS = {"created": "JobsCreated", "exists": "JobsExisting", "skipped-active": "JobsSkippedActive",
            "failed": "JobsFailed"}


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any] | None, context: LambdaContext) -> dict[str, Any]:
    payload, event_time = _split_event(event)
    try:
        result = run_invocation(request=parse_request(payload), platform="eks", platform_time=event_time)
    except ToolError as exc:
        # Its own metric: a broken configuration is worth an alarm, and it keeps the EMF line non-empty.
        metrics.add_metric(name="DispatchRejected", unit=MetricUnit.Count, value=1)
        logger.error("dispatch refused: %s", exc)
        raise
    counts = result.counts()
    for status, metric in _METRICS.items():
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=counts[status])
    logger.info("dispatch finished", extra={"jobs": [
        {k: v for k, v in job.items() if k not in ("job", "manifest")} for job in result.response()["jobs"]]})
    result.raise_if_failed()
    return result.response()


def _split_event(event: dict[str, Any] | None) -> tuple[Any, datetime | None]:
    """(test payload, scheduled time from the event itself)."""
    if isinstance(event, dict) and event.get("source") == "aws.events" and "detail-type" in event:
        return None, parse_time(str(event.get("time", "")), what="EventBridge event time")
    return event, None
