"""After every backup, however it ends, operators hear about it: gauges on a real Pushgateway or in a
node_exporter textfile, and a webhook POST (healthchecks.io style). None of it can fail a backup."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.support.agent_runs import dump_children, env_for, hold_table_lock, wait_for
from tests.support.cli import run_cli, start_cli
from tests.support.monitoring import backup_series, parse_series
from tests.support.storage_servers import dead_endpoint

TARGET = {"CELL_DEFAULT_NAMESPACE": "shop", "MARIADB_HA_SERVICE_NAME": "mariadb-ha"}
GROUP = {"job": "mariadb-ha-backup", "namespace": "shop", "service": "mariadb-ha", "instance": ""}


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    return bucket, tmp


def manifests(bucket: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(bucket.rglob("manifest.json"))]


def test_pushgateway_success_then_failure_then_unreachable(mariadb_server, dirs, pushgateway):
    bucket, tmp = dirs
    env = env_for(mariadb_server, bucket, tmp, **TARGET, BACKUP_METRICS_PUSHGATEWAY=pushgateway.url)

    ok = run_cli(["backup"], env)
    assert ok.returncode == 0, ok.stderr
    after_ok = backup_series(pushgateway.scrape())
    assert {labels == GROUP for labels, _ in after_ok.values()} == {True}  # one group, no pod label
    [manifest] = manifests(bucket)
    assert after_ok["mariadb_ha_backup_last_status"][1] == 1
    assert after_ok["mariadb_ha_backup_dump_bytes"][1] == manifest["artifact"]["raw_bytes"]
    assert after_ok["mariadb_ha_backup_stored_bytes"][1] == manifest["artifact"]["compressed_bytes"]
    success_time = after_ok["mariadb_ha_backup_last_success_timestamp_seconds"][1]
    assert abs(success_time - time.time()) < 60
    assert 0 < after_ok["mariadb_ha_backup_duration_seconds"][1] < 60

    failed = run_cli(["backup"], {**env, "MARIADB_PASSWORD": "not-the-password"})
    assert failed.returncode == 2
    after_fail = backup_series(pushgateway.scrape())
    assert after_fail["mariadb_ha_backup_last_status"][1] == 0
    assert after_fail["mariadb_ha_backup_last_success_timestamp_seconds"][1] == success_time  # not erased
    assert after_fail["mariadb_ha_backup_last_completion_timestamp_seconds"][1] > success_time
    assert after_fail["mariadb_ha_backup_dump_bytes"] == after_ok["mariadb_ha_backup_dump_bytes"]

    pushgateway.stop()
    unreachable = run_cli(["backup"], env)
    assert unreachable.returncode == 0, unreachable.stderr
    warnings = [json.loads(line) for line in unreachable.stderr.splitlines() if '"metrics-failed"' in line]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"
    assert len(manifests(bucket)) == 2  # the backup itself was committed


def test_textfile_keeps_last_success_across_a_failed_run(mariadb_server, dirs, tmp_path):
    bucket, tmp = dirs
    textfile = tmp_path / "textfile" / "mariadb_ha_backup.prom"
    textfile.parent.mkdir()
    env = env_for(mariadb_server, bucket, tmp, **TARGET, BACKUP_METRICS_TEXTFILE=str(textfile))

    assert run_cli(["backup"], env).returncode == 0
    after_ok = backup_series(parse_series(textfile.read_text()))
    assert {labels == {"namespace": "shop", "service": "mariadb-ha"} for labels, _ in after_ok.values()} == {True}
    assert after_ok["mariadb_ha_backup_last_status"][1] == 1
    assert after_ok["mariadb_ha_backup_dump_bytes"][1] == manifests(bucket)[0]["artifact"]["raw_bytes"]

    assert run_cli(["backup"], {**env, "MARIADB_PASSWORD": "not-the-password"}).returncode == 2
    after_fail = backup_series(parse_series(textfile.read_text()))
    assert after_fail["mariadb_ha_backup_last_status"][1] == 0
    assert (after_fail["mariadb_ha_backup_last_success_timestamp_seconds"]
            == after_ok["mariadb_ha_backup_last_success_timestamp_seconds"])
    assert [p.name for p in textfile.parent.iterdir()] == [textfile.name]  # no temp file left


def test_webhook_gets_a_success_summary_and_a_secret_free_failure(mariadb_server, dirs, webhook):
    bucket, tmp = dirs
    env = env_for(mariadb_server, bucket, tmp, **TARGET, BACKUP_NOTIFY_URL=webhook.url)

    assert run_cli(["backup"], env).returncode == 0
    [(path, body)] = webhook.requests
    [manifest] = manifests(bucket)
    assert path == "/ping/3f2a"
    assert body["status"] == "success" and "error" not in body
    assert (body["backup_id"], body["dump_bytes"], body["stored_bytes"], body["sha1"]) == (
        manifest["id"], manifest["artifact"]["raw_bytes"], manifest["artifact"]["compressed_bytes"],
        manifest["artifact"]["sha1"])
    assert (body["namespace"], body["service"]) == ("shop", "mariadb-ha")

    # An authentication failure: the error names the refusal; neither password reaches the receiver.
    failed = run_cli(["backup"], {**env, "MARIADB_PASSWORD": "wrong-pw-7731"})
    assert failed.returncode == 2
    path, body = webhook.requests[1]
    assert path == "/ping/3f2a/fail"
    assert body["status"] == "failure" and body["exit_code"] == 2
    assert "refused the credentials" in body["error"]
    for raw in webhook.raw_bodies:
        assert b"wrong-pw-7731" not in raw and mariadb_server.password.encode() not in raw

    # Bad configuration of the backup itself (exit 2 before any connection) is reported too.
    bad = run_cli(["backup"], {**env, "BACKUP_FORMAT": "rar"})
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    path, body = webhook.requests[2]
    assert path == "/ping/3f2a/fail" and body["exit_code"] == 2 and "BACKUP_FORMAT" in body["error"]


def test_webhook_retries_a_5xx_and_a_dead_receiver_never_fails_the_backup(mariadb_server, dirs, webhook):
    bucket, tmp = dirs
    webhook.fail_next(1, 503)
    env = env_for(mariadb_server, bucket, tmp, **TARGET, BACKUP_NOTIFY_URL=webhook.url)
    assert run_cli(["backup"], env).returncode == 0
    assert [path for path, _ in webhook.requests] == ["/ping/3f2a", "/ping/3f2a"]  # retried once, delivered

    dead = run_cli(["backup"], {**env, "BACKUP_NOTIFY_URL": dead_endpoint() + "/ping/secret-token-9"})
    assert dead.returncode == 0, dead.stderr
    warning = [line for line in dead.stderr.splitlines() if '"notify-failed"' in line]
    assert len(warning) == 1 and "secret-token-9" not in dead.stderr  # the URL's token is never logged
    assert len(manifests(bucket)) == 2


def test_sigterm_is_reported_as_a_failure(sample_server, dirs, webhook, pushgateway):
    bucket, tmp = dirs
    holder = hold_table_lock(sample_server, "shop.products")
    try:
        agent = start_cli(["backup"], env_for(sample_server, bucket, tmp, **TARGET, BACKUP_NOTIFY_URL=webhook.url,
                                              BACKUP_METRICS_PUSHGATEWAY=pushgateway.url))
        wait_for(lambda: dump_children(agent.pid) and any(bucket.rglob("*.partial-*")))  # the upload has begun
        time.sleep(0.3)  # the dump is blocked on the locked table, mid-stream
        agent.send_signal(signal.SIGTERM)
        agent.communicate(timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert agent.returncode == 128 + signal.SIGTERM
    [(path, body)] = webhook.requests
    assert path == "/ping/3f2a/fail"
    assert (body["error"], body["exit_code"]) == ("stopped by signal 15", 143)
    gauges = backup_series(pushgateway.scrape())
    assert gauges["mariadb_ha_backup_last_status"][1] == 0
    assert "mariadb_ha_backup_last_success_timestamp_seconds" not in gauges
    assert manifests(bucket) == []


def test_malformed_reporting_settings_are_bad_input(mariadb_server, dirs):
    bucket, tmp = dirs
    for setting, message in [({"BACKUP_METRICS_PUSHGATEWAY": "ftp://gw"}, "must be an http(s):// URL"),
                             ({"BACKUP_METRICS_TEXTFILE": "/tmp/x.txt"}, "must end in .prom"),
                             ({"BACKUP_NOTIFY_URL": "hcio/abc-token"}, "BACKUP_NOTIFY_URL must be an http")]:
        done = run_cli(["backup"], env_for(mariadb_server, bucket, tmp, **setting))
        assert done.returncode == 2
        [line] = done.stderr.strip().splitlines()
        assert message in line and "abc-token" not in line
    assert list(bucket.iterdir()) == [] and list(tmp.iterdir()) == []
