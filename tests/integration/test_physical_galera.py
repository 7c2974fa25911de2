"""A physical backup of a 3-node Galera cluster while every node takes writes, restored into a data directory.

The backup goes through node 1 (``--galera-info``: the manifest records the cluster's ``uuid:seqno``);
meanwhile single-row inserts go round-robin to all three nodes. The restored copy, started as a plain
server, must hold exactly the transactions up to the backup's GTID: as many rows as inserts the GTID
counts, and the same rows as the cluster for those ids (a checksum over them).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from shared.binlogs.gtid import parse_state
from tests.support.cli import run_cli
from tests.support.galera import CLUSTER_GTID_DOMAIN, GaleraCluster, write_rounds
from tests.support.physical import server_on

pytestmark = [pytest.mark.galera, pytest.mark.slow]
PREFIX = "physical/galera"
ROWS_DIGEST = "SELECT COUNT(*), SUM(CRC32(CONCAT(id, ':', note))) FROM shop.items WHERE id <= {last}"


def test_physical_backup_under_writes_restores_the_cluster_at_its_gtid(galera_binlog_cluster: GaleraCluster,
                                                                        tmp_path: Path) -> None:
    cluster = galera_binlog_cluster
    (tmp_path / "bucket").mkdir()
    (tmp_path / "tmp").mkdir()
    cluster.nodes[0].execute("CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, note TEXT)")
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX, "BACKUP_TMPDIR": str(tmp_path / "tmp"),
           "BACKUP_METHOD": "physical", "MARIADB_HOST": "127.0.0.1", "MARIADB_PORT": str(cluster.nodes[1].port),
           "MARIADB_USER": "root", "MARIADB_PASSWORD": cluster.password}
    next_id = write_rounds(cluster, 1, rounds=2)
    seq_before = _cluster_seq(cluster.nodes[0].execute("SELECT @@gtid_binlog_pos"))
    stop, written = threading.Event(), []

    def writer() -> None:
        start = next_id
        while not stop.is_set():
            start = write_rounds(cluster, start, rounds=1)
        written.append(start)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        done = run_cli(["backup", "--json"], env, timeout=300)
    finally:
        stop.set()
        thread.join()
    assert done.returncode == 0, done.stderr
    backup_id = json.loads(done.stdout)["backup_id"]
    manifest = json.loads((tmp_path / "bucket" / PREFIX / backup_id / "manifest.json").read_text())
    restored = run_cli(["restore", backup_id, "--datadir", str(tmp_path / "datadir")], env, timeout=300)

    assert restored.returncode == 0, restored.stderr
    assert re.fullmatch(r"[0-9a-f-]{36}:\d+( \d+)?", manifest["physical"]["galera_info"])  # uuid:seqno [domain]
    assert manifest["source"]["galera"]["wsrep_local_state_comment"] == "Synced"
    inserts_in_backup = _cluster_seq(manifest["binlog"]["gtid_state"]) - seq_before
    assert 0 < inserts_in_backup < written[0] - next_id  # the copy's point lies inside the writes
    last = next_id - 1 + inserts_in_backup
    with server_on(tmp_path / "datadir") as copy:
        assert copy.execute("SELECT MAX(id), COUNT(*) FROM shop.items").split() == [str(last), str(last)]
        assert copy.execute(ROWS_DIGEST.format(last=last)) == cluster.nodes[2].execute(ROWS_DIGEST.format(last=last))


def _cluster_seq(state: str) -> int:
    return parse_state(state.strip())[CLUSTER_GTID_DOMAIN].seq_no
