"""The archiver's gauges, published through ``shared.reporting.metrics`` (Pushgateway and/or textfile).

Published from a background thread with only the latest values kept: a Pushgateway that is slow or
down (3 tries of 5 s) must never hold up the archiving loop, whose whole point is a small lag. The
job is ``mariadb-ha-binlog-archiver``, so the archiver's group never replaces the backup Job's gauges.

- ``..._binlog_last_event_timestamp_seconds``: commit time of the newest archived transaction; alert
  on ``time() - this`` only together with the source's write rate (an idle cluster archives nothing).
- ``..._binlog_lag_seconds``: age of the oldest transaction received but not yet in the bucket (0 when
  everything received is stored), refreshed every ``REFRESH_SECONDS`` and after each upload: what a
  loss of the cluster right now would cost. A stuck upload makes it grow; a stalled stream is ended by
  the watchdog within 20 s; a dead archiver stops refreshing (the Pushgateway's ``push_time_seconds``).
- ``..._binlog_segment_lag_seconds``: for the newest segment, its upload time minus the commit time of
  its first (longest waiting) transaction: the RPO actually achieved.
- ``..._binlog_last_upload_timestamp_seconds``, ``..._binlog_gaps``: when the last segment landed, and
  how many gaps this archiver has recorded since it started (any gap deserves an alert).
"""

from __future__ import annotations

import threading
import time

from shared.binlogs.records import GapRecord, SegmentRecord
from shared.reporting.metrics import Gauge, MetricsSettings, publish

JOB = "mariadb-ha-binlog-archiver"
# How often the lag gauge is refreshed while nothing is uploaded (an idle or stuck archiver).
REFRESH_SECONDS = 10.0
_PREFIX = "mariadb_ha_backup_binlog_"


def segment_gauges(record: SegmentRecord, *, committed_at: float, gaps: int) -> list[Gauge]:
    return [
        Gauge(f"{_PREFIX}last_event_timestamp_seconds", "Commit time of the newest archived transaction.",
              record.last_time.timestamp()),
        Gauge(f"{_PREFIX}segment_lag_seconds",
              "Newest segment: its upload time minus its first transaction's commit time.",
              max(0.0, committed_at - record.first_time.timestamp())),
        lag_gauge(0.0),
        Gauge(f"{_PREFIX}last_upload_timestamp_seconds", "When the newest segment was committed to the bucket.",
              committed_at),
        Gauge(f"{_PREFIX}gaps", "Gaps this archiver recorded since it started.", float(gaps)),
    ]


def lag_gauge(seconds: float) -> Gauge:
    return Gauge(f"{_PREFIX}lag_seconds", "Age of the oldest transaction received but not yet in the bucket.",
                 max(0.0, seconds))


class MetricsPublisher:
    """Keeps the latest gauges and publishes them from a daemon thread; ``close`` sends the last ones."""

    def __init__(self, settings: MetricsSettings) -> None:
        self.settings = settings
        self._latest: list[Gauge] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self.gaps = 0
        self._thread = threading.Thread(target=self._run, name="archive-metrics", daemon=True)
        if settings.enabled:
            self._thread.start()

    def segment(self, record: SegmentRecord) -> None:
        self._offer(segment_gauges(record, committed_at=time.time(), gaps=self.gaps))

    def lag(self, seconds: float) -> None:
        self._offer([lag_gauge(seconds)])

    def gap(self, record: GapRecord) -> None:
        self.gaps += 1
        self._offer([Gauge(f"{_PREFIX}gaps", "Gaps this archiver recorded since it started.", float(self.gaps))])

    def close(self, timeout: float = 20.0) -> None:
        self._closed = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _offer(self, gauges: list[Gauge]) -> None:
        if not self.settings.enabled:
            return
        with self._lock:
            merged = {g.name: g for g in [*(self._latest or []), *gauges]}
            self._latest = list(merged.values())
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                gauges, self._latest = self._latest, None
            if gauges:
                publish(gauges, self.settings)
            if self._closed:
                return
