"""``status`` on a real archive: a real server writing binlogs, a real backup, ``archive-binlogs``, then
the restorable range ``status`` reports runs from that backup to the last archived commit."""

from __future__ import annotations

import json
import time
from pathlib import Path

from shared.binlogs.index import gap_free_windows
from shared.layout import parse_backup_id
from shared.times import format_time
from tests.support.agent_runs import env_for
from tests.support.binlog_archive import history
from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer

PREFIX = "pitr/status"


def test_status_reports_the_window_of_a_real_archive(binlog_server: TestServer, tmp_path: Path) -> None:
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    env = env_for(binlog_server, bucket, tmp, BACKUP_PREFIX=PREFIX)
    binlog_server.execute("CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY) ENGINE=InnoDB;")
    backup = run_cli(["backup", "--json"], env)
    assert backup.returncode == 0, backup.stderr
    backup_id = json.loads(backup.stdout)["backup_id"]
    time.sleep(1.1)  # the next commits get a later second than the backup's id
    binlog_server.execute("INSERT INTO shop.items VALUES (1), (2), (3);")
    archived = run_cli(["archive-binlogs"], env, timeout=120)
    assert archived.returncode == 0, archived.stderr

    done = run_cli(["status", "--json"], env)
    assert done.returncode == 0, done.stderr
    pitr = json.loads(done.stdout)["pitr"]
    [window] = gap_free_windows(history(bucket, PREFIX))
    assert pitr["restorable"] is True and pitr["gaps"] == 0 and pitr["base_backup"] == backup_id
    assert pitr["restorable_from"] == format_time(parse_backup_id(backup_id))
    assert pitr["restorable_until"] == pitr["archived_until"] == format_time(window.end_time)
    assert window.end_time > parse_backup_id(backup_id)
    text = run_cli(["status"], env).stdout.splitlines()[-1]
    assert text.startswith(f"  pitr        restorable {format_time(parse_backup_id(backup_id))} .. ")
