"""When a backup uses several dump sessions: configured or one per usable CPU, and safe for a Galera cluster."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agent.backup.cpus import default_dump_threads, usable_cpus
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


@pytest.mark.parametrize(("cpus", "expected"), [(1, 1), (2, 1), (3, 2), (4, 3), (16, 4)])
def test_the_default_leaves_one_cpu_to_the_compressor_and_is_one_session_up_to_two(tmp_path, monkeypatch, cpus,
                                                                                   expected):
    monkeypatch.setattr("agent.backup.cpus.usable_cpus", lambda cpu_max: cpus)
    assert threads(tmp_path, SERVER) == expected
    assert threads(tmp_path, GALERA) == 1  # a Galera cluster's commits wait for the block: only when asked
    assert threads(tmp_path, SERVER, BACKUP_DUMP_THREADS="1") == 1
    assert threads(tmp_path, SERVER, BACKUP_DUMP_THREADS="6") == 6


def test_the_cgroup_cpu_quota_caps_the_usable_cpus(tmp_path, monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)))
    cpu_max = tmp_path / "cpu.max"
    assert usable_cpus(cpu_max) == 8  # no cgroup file: the affinity mask
    cpu_max.write_text("max 100000\n")
    assert usable_cpus(cpu_max) == 8
    cpu_max.write_text("350000 100000\n")  # limits.cpu: 3500m
    assert usable_cpus(cpu_max) == 3 and default_dump_threads(cpu_max) == 2
    cpu_max.write_text("250000 100000\n")  # 2500m: 2 CPUs, the single dump
    assert usable_cpus(cpu_max) == 2 and default_dump_threads(cpu_max) == 1
    cpu_max.write_text("50000 100000\n")
    assert usable_cpus(cpu_max) == 1
    cpu_max.write_text("max 100000\n")
    assert default_dump_threads(cpu_max) == 4


def test_galera_runs_parallel_only_when_asked_and_with_a_binary_log(tmp_path, caplog):
    assert threads(tmp_path, GALERA, BACKUP_DUMP_THREADS="3") == 1
    assert "cannot prove its sessions share one snapshot" in caplog.text
    assert threads(tmp_path, dataclasses.replace(GALERA, log_bin=True), BACKUP_DUMP_THREADS="3") == 3

