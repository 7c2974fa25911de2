"""``mariadb-ha-backup drill``: a real backup restored into a real empty server (the drill Job's second
container stands here as a plain ``mariadbd`` whose root has no password, as the image starts it),
``drill.json`` with the measured figures, gauges on a real Pushgateway, the webhook on failure, and
``list`` / ``status --max-drill-age`` reading the records back."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from agent.common.dumpfile import read_units
from agent.drill.throwaway_server import ThrowawayServer
from agent.verify.unpacking import open_dump
from shared.manifest import Manifest
from shared.storage import open_storage
from tests.e2e.test_restore_roundtrip import PREFIX, take_backup
from tests.support.backups import repack_backup
from tests.support.cli import run_cli
from tests.support.mariadb_server import table_checksums
from tests.support.monitoring import backup_series

GROUP = {"CELL_DEFAULT_NAMESPACE": "shop", "MARIADB_HA_SERVICE_NAME": "db"}
LOST_TABLE = ("audit-log", "plain_myisam")


@pytest.fixture
def backed_up(sample_server, tmp_path):
    (tmp_path / "bucket").mkdir()
    spool = Path(tempfile.mkdtemp(prefix="drill-", dir="/tmp"))  # short: a throwaway server's socket lives below
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX, "BACKUP_TMPDIR": str(spool), **GROUP}
    yield env, take_backup(sample_server, env)
    shutil.rmtree(spool, ignore_errors=True)


@pytest.fixture
def drill_server(empty_drill_server):
    return empty_drill_server


def stored_json(env: dict[str, str], key: str) -> dict:
    return json.loads(Path(env["BACKUP_URL"][len("file://"):], key).read_text())


def drill_keys(env: dict[str, str], backup_id: str) -> list[str]:
    folder = Path(env["BACKUP_URL"][len("file://"):], PREFIX, backup_id)
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("drill"))


def test_drill_into_the_given_server_records_real_figures_and_pushes_them(
        backed_up, drill_server, sample_server, pushgateway):
    env, summary = backed_up
    env = {**env, "DRILL_SERVER": f"127.0.0.1:{drill_server.port}", "BACKUP_METRICS_PUSHGATEWAY": pushgateway.url,
           "DRILL_RECOVERY_TARGET_SECONDS": "3600"}
    before = time.time()

    done = run_cli(["drill", "--json"], env)

    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    record = stored_json(env, f"{PREFIX}/{summary['backup_id']}/drill.json")
    assert printed == record
    manifest = stored_json(env, summary["manifest_key"])
    assert record["backup_id"] == summary["backup_id"] and record["kind"] == "backup"
    assert record["passed"] is True and record["reason"] is None
    assert record["server"] == f"drill server 127.0.0.1:{drill_server.port}"
    assert record["server_version"].startswith("10.11")
    assert record["restored_bytes"] == summary["raw_bytes"]
    assert 0 < record["restore_seconds"] < time.time() - before
    assert record["bytes_per_second"] == pytest.approx(record["restored_bytes"] / record["restore_seconds"], rel=1e-3)
    assert record["checked"] == {
        **{kind: len(manifest["inventory"][kind])
           for kind in ("databases", "tables", "views", "routines", "triggers", "events", "sequences")},
        "row counts": len(manifest["evidence"]["rows"])}
    assert record["not_checked"]
    # The drill really restored: the drill server holds the source's data, table for table.
    assert table_checksums(drill_server) == table_checksums(sample_server)
    # ... and it no longer lets root in without the password the drill set.
    assert "Access denied" in _tcp_root_without_password(drill_server)
    gauges = backup_series(pushgateway.scrape())
    labels = {"job": "mariadb-ha-backup-drill", "instance": "", "namespace": "shop", "service": "db"}
    assert gauges["mariadb_ha_backup_last_drill_status"] == (labels, 1.0)
    assert gauges["mariadb_ha_backup_drill_restore_seconds"] == (labels, record["restore_seconds"])
    assert gauges["mariadb_ha_backup_drill_restore_bytes_per_second"] == (labels, record["bytes_per_second"])
    assert gauges["mariadb_ha_backup_recovery_target_seconds"] == (labels, 3600.0)
    assert before <= gauges["mariadb_ha_backup_last_drill_success_timestamp_seconds"][1] <= time.time()


def _tcp_root_without_password(server: ThrowawayServer) -> str:
    done = subprocess.run(["mariadb", "--no-defaults", "-uroot", "-h127.0.0.1", f"-P{server.port}", "-e", "SELECT 1"],
                          capture_output=True, text=True, check=False)
    return done.stderr


def lose_a_table(env: dict[str, str], summary: dict) -> None:
    """Repack the backup without one table and with every checksum made to match again."""
    storage = open_storage(env["BACKUP_URL"])
    with storage.open_read(summary["manifest_key"]) as stream:
        manifest = Manifest.from_json(stream.read(), key=summary["manifest_key"])
    with open_dump(storage, manifest) as dump:
        sql = b"".join(u.data for u in read_units(dump) if (u.database, u.name) != LOST_TABLE)
    repack_backup(storage, summary, sql)


def test_drill_of_a_backup_with_a_lost_table_fails_records_why_pushes_0_and_posts(
        backed_up, drill_server, pushgateway, webhook):
    env, summary = backed_up
    lose_a_table(env, summary)
    env = {**env, "DRILL_SERVER": f"127.0.0.1:{drill_server.port}", "BACKUP_METRICS_PUSHGATEWAY": pushgateway.url,
           "BACKUP_NOTIFY_URL": webhook.url}

    done = run_cli(["drill"], env)

    assert done.returncode == 1
    why = "tables missing after restore: audit-log.plain_myisam"
    assert why in done.stderr and "FAILED" in done.stdout
    record = stored_json(env, f"{PREFIX}/{summary['backup_id']}/drill.json")
    assert record["passed"] is False and why in record["reason"]
    assert record["restore_seconds"] > 0  # the restore ran; the checks after it failed
    gauges = backup_series(pushgateway.scrape())
    assert gauges["mariadb_ha_backup_last_drill_status"][1] == 0.0
    assert "mariadb_ha_backup_last_drill_success_timestamp_seconds" not in gauges
    assert "mariadb_ha_backup_drill_restore_seconds" not in gauges
    [(path, body)] = webhook.requests
    assert path == "/ping/3f2a/fail"
    assert body["event"] == "restore-drill" and body["status"] == "failure"
    assert why in body["reason"] and body["backup_id"] == summary["backup_id"]
    assert body["drill_record"] == f"{PREFIX}/{summary['backup_id']}/drill.json"


def test_drill_refuses_a_server_that_holds_databases_and_writes_nothing(backed_up, drill_server, pushgateway):
    env, summary = backed_up
    drill_server.execute("CREATE DATABASE production_data")
    env = {**env, "DRILL_SERVER": f"127.0.0.1:{drill_server.port}", "BACKUP_METRICS_PUSHGATEWAY": pushgateway.url}

    done = run_cli(["drill"], env)

    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(
        f"the drill server 127.0.0.1:{drill_server.port} holds databases (production_data): a drill only restores "
        "into an empty throwaway server")
    assert drill_keys(env, summary["backup_id"]) == []
    assert drill_server.execute("SHOW DATABASES LIKE 'shop'") == ""
    assert backup_series(pushgateway.scrape())["mariadb_ha_backup_last_drill_status"][1] == 0.0


def test_list_and_status_read_the_records_back(backed_up):
    env, summary = backed_up
    never = run_cli(["status", "--max-drill-age", "1d"], env)
    assert never.returncode == 1, never.stdout + never.stderr
    assert "no passed drill" in never.stdout

    first = run_cli(["drill"], env)  # no DRILL_SERVER: a throwaway mariadbd started here
    time.sleep(1.1)  # the second record is named after its start second
    second = run_cli(["drill"], env)

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "restore drill of backup" in first.stdout and "passed" in first.stdout
    keys = drill_keys(env, summary["backup_id"])
    assert keys[0] == "drill-" + keys[0][6:] and keys[1] == "drill.json" and len(keys) == 2
    listed = json.loads(run_cli(["list", "--json"], env).stdout)
    assert listed[0]["drill"]["passed"] is True
    assert listed[0]["drill"]["finished_at"] == stored_json(env, f"{PREFIX}/{summary['backup_id']}/{keys[0]}")[
        "finished_at"]
    text = run_cli(["list"], env).stdout
    assert "DRILLED" in text and "passed" in text

    fresh = run_cli(["status", "--max-drill-age", "1d", "--json"], env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    drill = json.loads(fresh.stdout)["drill"]
    assert drill["verdict"] == "ok" and drill["backup_id"] == summary["backup_id"]
    assert drill["restore_seconds"] > 0 and 0 <= drill["age_seconds"] < 60
    time.sleep(2)
    stale = run_cli(["status", "--max-drill-age", "1s"], env)
    assert stale.returncode == 1
    assert "STALE" in stale.stdout and "newest passed drill" in stale.stdout
    unchecked = run_cli(["status"], env)  # without --max-drill-age the drill's age is shown, not judged
    assert unchecked.returncode == 0, unchecked.stdout
    assert "newest passed drill" in unchecked.stdout
