"""The reporting pieces on their own: what a run publishes, and that no secret reaches a webhook body."""

from __future__ import annotations

import json

import pytest

from agent.backup.reporting import (
    LAST_STATUS,
    LAST_SUCCESS,
    RunOutcome,
    reported_run,
    reporting_settings_from,
    run_gauges,
    summary,
)
from agent.backup.run import BackupResult
from shared.config import ConfigError
from shared.errors import AlreadyRunningError, BadInputError
from shared.logs import register_secret
from shared.mariadb_client import ClientConnectionError
from shared.reporting.metrics import Gauge, metrics_settings_from, publish
from shared.reporting.notify import notify_settings_from

RESULT = BackupResult(backup_id="20261203T040000Z", storage_url="file:///b", format="tar.gz", artifact_key="k",
                      sha1_key="k.sha1", manifest_key="m", sha1="ab" * 20, raw_bytes=1000, compressed_bytes=300,
                      duration_seconds=1.0)


def test_an_error_that_echoes_the_password_reaches_the_body_redacted() -> None:
    password = "Hunter2-correct-horse"  # a test value
    register_secret(password)
    error = ClientConnectionError(f"Access denied for user 'root'@'10.0.0.7' (using password: {password})")
    body = json.dumps(summary(RunOutcome(), {"namespace": "ns", "service": "db"}, error=error))
    assert password not in body
    assert "Access denied for user" in body and "***" in body


def test_a_failure_publishes_status_zero_and_never_a_success_time() -> None:
    failed = {g.name: g.value for g in run_gauges(RunOutcome(), error=BadInputError("x"), finished=5.0)}
    assert failed[LAST_STATUS] == 0 and LAST_SUCCESS not in failed
    ok = {g.name: g.value for g in run_gauges(RunOutcome(result=RESULT), error=None, finished=5.0)}
    assert (ok[LAST_STATUS], ok[LAST_SUCCESS]) == (1, 5.0)


def test_a_skipped_run_reports_nothing(monkeypatch) -> None:
    reported = []
    monkeypatch.setattr("agent.backup.reporting.report", lambda *a, **k: reported.append(k))
    with pytest.raises(AlreadyRunningError), reported_run(reporting_settings_from({})):
        raise AlreadyRunningError("another backup is running")
    assert reported == []


def test_grouping_is_namespace_and_service_never_the_pod() -> None:
    settings = metrics_settings_from({"BACKUP_METRICS_PUSHGATEWAY": "http://gw:9091", "HOSTNAME": "pod-abc",
                                      "CELL_DEFAULT_NAMESPACE": "shop", "MARIADB_HA_SERVICE_NAME": "db"})
    assert (settings.job, dict(settings.grouping)) == ("mariadb-ha-backup", {"namespace": "shop", "service": "db"})


def test_a_notify_url_error_never_echoes_the_url() -> None:
    with pytest.raises(ConfigError) as caught:
        notify_settings_from({"BACKUP_NOTIFY_URL": "hc-ping.com/secret-uuid"})
    assert "secret-uuid" not in str(caught.value)


def test_a_textfile_that_cannot_be_written_is_a_warning_not_an_error(tmp_path, caplog) -> None:
    settings = metrics_settings_from({"BACKUP_METRICS_TEXTFILE": str(tmp_path / "missing" / "backup.prom")})
    assert publish([Gauge(LAST_STATUS, "status", 1.0)], settings) is False
    assert [r.levelname for r in caplog.records if r.name == "mariadb_ha_backup.metrics"] == ["WARNING"]


