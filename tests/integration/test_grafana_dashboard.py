"""infra/monitoring/grafana-dashboard.json: every panel query names only metrics the code publishes
(taken from the gauge builders themselves), and the dashboard shows what an operator asks first."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from agent.backup import reporting
from agent.common.drill_record import DrillRecord
from agent.drill.reporting import drill_gauges
from agent.pitr.archiver.metrics import lag_gauge, segment_gauges

DASHBOARD = Path(__file__).resolve().parents[2] / "infra" / "monitoring" / "grafana-dashboard.json"
METRIC = re.compile(r"\bmariadb_ha_backup_[a-z_]+")


def published() -> set[str]:
    """Every gauge name the agent can publish, read off the builders (not a hand-kept list)."""
    backup = {reporting.LAST_SUCCESS, reporting.LAST_COMPLETION, reporting.LAST_STATUS, reporting.DURATION,
              reporting.DUMP_BYTES, reporting.STORED_BYTES}
    now = datetime.now(UTC)
    segment = SimpleNamespace(first_time=now, last_time=now)
    archiver = {g.name for g in [*segment_gauges(segment, committed_at=0.0, gaps=0), lag_gauge(0.0)]}  # type: ignore[arg-type]  # duck-typed record
    passed = DrillRecord(backup_id="20250101T000000Z", kind="backup", started_at=now.isoformat(),
                         finished_at=now.isoformat(), passed=True, reason=None, restore_seconds=1.0,
                         restored_bytes=1, bytes_per_second=1.0, server="here")
    drills = {g.name for g in drill_gauges(passed, target=60.0, finished=0.0)}
    return backup | archiver | drills


def queries(dashboard: dict | None = None) -> list[tuple[str, str]]:
    panels = (dashboard or json.loads(DASHBOARD.read_text()))["panels"]
    return [(panel["title"], target["expr"]) for panel in panels for target in panel.get("targets", [])]


def problems(found: list[tuple[str, str]], exported: set[str]) -> list[str]:
    """Panels whose query names no metric of ours, or one nothing publishes."""
    wrong = []
    for title, expr in found:
        names = set(METRIC.findall(expr))
        if not names or not names <= exported:
            wrong.append(f"{title}: {sorted(names - exported) or 'no mariadb_ha_backup metric'}")
    return wrong


def test_every_panel_query_names_a_metric_the_code_publishes() -> None:
    found = queries()
    assert len(found) >= 10
    assert problems(found, published()) == []


def test_the_check_catches_a_misspelt_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    target = dashboard["panels"][1]["targets"][0]
    target["expr"] = target["expr"].replace("last_success_timestamp", "last_succes_timestamp")
    assert problems(queries(dashboard), published()) == [
        f"{dashboard['panels'][1]['title']}: ['mariadb_ha_backup_last_succes_timestamp_seconds']"]


def test_the_dashboard_shows_backups_archive_lag_drills_and_recovery_time() -> None:
    used = {name for _, expr in queries() for name in METRIC.findall(expr)}
    assert {"mariadb_ha_backup_last_success_timestamp_seconds", "mariadb_ha_backup_dump_bytes",
            "mariadb_ha_backup_stored_bytes", "mariadb_ha_backup_duration_seconds",
            "mariadb_ha_backup_binlog_lag_seconds", "mariadb_ha_backup_last_drill_status",
            "mariadb_ha_backup_drill_restore_seconds", "mariadb_ha_backup_recovery_target_seconds"} <= used
    dashboard = json.loads(DASHBOARD.read_text())
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "namespace", "service"}
