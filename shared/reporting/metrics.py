"""Publish gauges to a Prometheus Pushgateway or a node_exporter textfile (``prometheus_client``).

One small API for every long- or short-lived part of the tool: build ``Gauge`` values, call
``publish(gauges, settings)``. The backup pushes its run gauges after every run; the binlog archiver
can push its last-event timestamp and lag the same way, under its own ``job``.

Semantics, the same for both sinks: the gauges given *replace* the ones of the same name in this
target's group, every other gauge of the group is kept. That is what lets a failed run publish
``last_status 0`` without erasing ``last_success_timestamp_seconds`` (Pushgateway: POST, i.e.
``pushadd_to_gateway``; textfile: the previous file's other gauges are carried over).

Grouping: ``job`` plus ``namespace`` and ``service``, never a pod or instance label, so each backup
Job replaces its predecessor's values instead of adding a series per pod. In a textfile there is no
grouping key, so ``namespace`` and ``service`` become labels (``job`` would clash with the scrape's).

A metrics failure is a warning, never an exception: see ``shared/reporting/__init__``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.error import HTTPError
from urllib.parse import urlsplit

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from shared.config import ConfigError

# prometheus_client is imported where gauges are published, not here: it pulls in http.server and
# costs ~25 ms at every start of the agent, most of whose runs publish nothing.
if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

log = logging.getLogger("mariadb_ha_backup.metrics")

DEFAULT_JOB = "mariadb-ha-backup"
# A Pushgateway answers in milliseconds; 5 s per try and 3 tries bound the delay a dead gateway adds
# to the end of a Job (well inside the pod's 60 s termination grace when a SIGTERM is being reported).
PUSH_TIMEOUT_SECONDS = 5.0
PUSH_ATTEMPTS = 3


@dataclass(frozen=True)
class Gauge:
    """One gauge value: ``name`` (with the ``mariadb_ha_backup_`` prefix), its help text and value."""

    name: str
    help: str
    value: float


@dataclass(frozen=True)
class MetricsSettings:
    pushgateway: str | None = None
    textfile: Path | None = None
    job: str = DEFAULT_JOB
    grouping: Mapping[str, str] = field(default_factory=dict)  # namespace, service

    @property
    def enabled(self) -> bool:
        return bool(self.pushgateway or self.textfile)


def metrics_settings_from(raw: Mapping[str, str], *, job: str = DEFAULT_JOB) -> MetricsSettings:
    """From a mapping of env name → value (``BACKUP_METRICS_PUSHGATEWAY``, ``BACKUP_METRICS_TEXTFILE``,
    and the namespace/service that name the group). Raises ``ConfigError`` for a malformed URL or path."""
    gateway = raw.get("BACKUP_METRICS_PUSHGATEWAY") or None
    if gateway is not None:
        parts = urlsplit(gateway)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"BACKUP_METRICS_PUSHGATEWAY must be an http(s):// URL, not {gateway[:60]!r}")
    textfile = raw.get("BACKUP_METRICS_TEXTFILE") or None
    if textfile is not None and not textfile.endswith(".prom"):
        # node_exporter's textfile collector only reads *.prom files.
        raise ConfigError(f"BACKUP_METRICS_TEXTFILE must end in .prom, not {textfile[:60]!r}")
    grouping = {
        "namespace": raw.get("CELL_DEFAULT_NAMESPACE") or "default",
        "service": raw.get("MARIADB_HA_SERVICE_NAME") or raw.get("MARIADB_HOST") or "mariadb",
    }
    return MetricsSettings(pushgateway=gateway, textfile=Path(textfile) if textfile else None, job=job,
                           grouping=grouping)


def publish(gauges: Sequence[Gauge], settings: MetricsSettings) -> bool:
    """Send ``gauges`` to every configured sink; True if all succeeded. Never raises."""
    ok = True
    if settings.pushgateway:
        ok = _best_effort("pushing metrics to the Pushgateway", lambda: push(gauges, settings)) and ok
    if settings.textfile:
        ok = _best_effort("writing the metrics textfile", lambda: write_textfile(gauges, settings)) and ok
    return ok


def push(gauges: Sequence[Gauge], settings: MetricsSettings) -> None:
    """POST (not PUT) to the group, retried on connection errors and 5xx; raises the last error."""
    from prometheus_client import pushadd_to_gateway

    assert settings.pushgateway
    registry = _registry(_families(gauges, labels={}))
    for attempt in Retrying(retry=retry_if_exception(_transient), stop=stop_after_attempt(PUSH_ATTEMPTS),
                            wait=wait_exponential(multiplier=0.5, max=2), reraise=True):
        with attempt:
            pushadd_to_gateway(settings.pushgateway, job=settings.job, registry=registry,
                               grouping_key=dict(settings.grouping), timeout=PUSH_TIMEOUT_SECONDS)


def write_textfile(gauges: Sequence[Gauge], settings: MetricsSettings) -> None:
    """Rewrite the file atomically (``write_to_textfile`` renames a temp file) keeping other gauges."""
    from prometheus_client import write_to_textfile

    assert settings.textfile
    labels = dict(settings.grouping)
    new_names = {g.name for g in gauges}
    kept = [family for family in _read_textfile(settings.textfile) if family.name not in new_names]
    write_to_textfile(str(settings.textfile), _registry([*kept, *_families(gauges, labels=labels)]))


def _read_textfile(path: Path) -> list[Metric]:
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return list(text_string_to_metric_families(text))


def _families(gauges: Iterable[Gauge], *, labels: Mapping[str, str]) -> list[Metric]:
    from prometheus_client.metrics_core import GaugeMetricFamily

    families: list[Metric] = []
    for gauge in gauges:
        family = GaugeMetricFamily(gauge.name, gauge.help, labels=list(labels))
        family.add_metric(list(labels.values()), gauge.value)
        families.append(family)
    return families


class _FixedCollector:
    """Serves a fixed list of families: a run's values are computed once, not on scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _registry(families: list[Metric]) -> CollectorRegistry:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_FixedCollector(families))
    return registry


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, HTTPError):
        return exc.code >= 500
    return isinstance(exc, OSError)  # URLError, refused, reset, timeout


def _best_effort(what: str, action: Callable[[], None]) -> bool:
    try:
        action()
    except Exception as exc:  # metrics must never fail the run they describe
        log.warning("%s failed, the run is not affected: %s: %s", what, type(exc).__name__, exc,
                    extra={"event": "metrics-failed"})
        return False
    return True
