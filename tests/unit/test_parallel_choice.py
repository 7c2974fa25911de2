"""When a backup uses several dump sessions: configured, safe for a Galera cluster, and room for the parts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from agent.backup.run import DumpCommand, _parallel_plan
from shared.config import load_settings
from shared.manifest import Inventory
from shared.server_info import ServerInfo

SERVER = ServerInfo(version="10.11.19-MariaDB", hostname="db-0", gtid_binlog_pos=None, galera=None,
                    inventory=Inventory(), data_bytes=1000)
GALERA = dataclasses.replace(SERVER, galera={"wsrep_on": "ON"})


def threads(tmp_path: Path, info: ServerInfo, **env: str) -> int:
    settings = load_settings({"MARIADB_HOST": "h", "BACKUP_URL": "file:///b", "MARIADB_PASSWORD": "pw", **env})
    plan = _parallel_plan(settings, DumpCommand(), info, defaults=tmp_path / "client.cnf",
                          argv=lambda cnf: ["mariadb-dump"], position_flags=())
    return plan.threads if plan else 1


def test_the_default_is_the_single_dump_and_sessions_are_opt_in(tmp_path):
    assert threads(tmp_path, SERVER) == 1
    assert threads(tmp_path, GALERA) == 1
    assert threads(tmp_path, SERVER, BACKUP_DUMP_THREADS="2") == 2


def test_galera_runs_parallel_only_when_asked_and_with_a_binary_log(tmp_path, caplog):
    assert threads(tmp_path, GALERA, BACKUP_DUMP_THREADS="3") == 1
    assert "cannot prove its sessions share one snapshot" in caplog.text
    assert threads(tmp_path, dataclasses.replace(GALERA, log_bin=True), BACKUP_DUMP_THREADS="3") == 3


def test_data_that_may_not_fit_the_temp_dir_means_one_session(tmp_path, caplog):
    assert threads(tmp_path, SERVER, BACKUP_DUMP_THREADS="2", BACKUP_TMPDIR_BYTES="1250") == 2  # 80% of 1250
    assert threads(tmp_path, SERVER, BACKUP_DUMP_THREADS="2", BACKUP_TMPDIR_BYTES="1249") == 1
    assert "may not fit in the temp dir" in caplog.text
    assert threads(tmp_path, SERVER, BACKUP_DUMP_THREADS="1") == 1
