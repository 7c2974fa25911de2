"""Archiving a 3-node Galera cluster's binlog while the followed node is killed (``kill -9``).

Writes go round-robin to every node; the archiver follows one node (BINLOG_SOURCES lists all three);
that node dies mid-stream; the archiver must continue on another node from the last archived GTID
(its files have other names and offsets) and the archive must hold every cluster transaction exactly
once: the cluster domain's sequence numbers 1..N, in order, none missing, none twice.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from shared.binlogs.gtid import Gtid
from shared.binlogs.index import gap_free_windows
from shared.binlogs.records import SegmentRecord
from tests.support.agent_runs import wait_for
from tests.support.binlog_archive import archived_gtids, history
from tests.support.cli import run_cli, start_cli
from tests.support.galera import CLUSTER_GTID_DOMAIN, GaleraCluster, galera_available, write_rounds

pytestmark = [pytest.mark.galera, pytest.mark.slow]
PREFIX = "pitr/galera"


def cluster_seq(node_pos: str) -> int:
    """The cluster domain's last sequence number in a node's @@gtid_binlog_pos."""
    return next(Gtid.parse(g).seq_no for g in node_pos.split(",") if g.startswith(f"{CLUSTER_GTID_DOMAIN}-"))


def followed_host(bucket: Path) -> str:
    segments = [r for r in history(bucket, PREFIX) if isinstance(r, SegmentRecord)]
    return segments[-1].source.host


def test_archive_continues_on_another_node_without_gap_or_duplicate(galera_binlog_cluster: GaleraCluster,
                                                                     tmp_path: Path) -> None:
    cluster = galera_binlog_cluster
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    cluster.nodes[0].execute("CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, note TEXT)")
    env = {"CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(bucket), "BACKUP_TMPDIR": str(tmp),
           "BACKUP_PREFIX": PREFIX, "MARIADB_HOST": "127.0.0.1", "MARIADB_PASSWORD": cluster.password,
           "BACKUP_RETRY_ATTEMPTS": "5", "BACKUP_RETRY_SECONDS": "60", "BINLOG_UPLOAD_SECONDS": "2",
           "BINLOG_SOURCES": ",".join(f"127.0.0.1:{n.port}" for n in cluster.nodes)}
    archiver = start_cli(["archive-binlogs", "--follow"], env)
    try:
        next_id = write_rounds(cluster, 1, rounds=5)
        target = cluster_seq(cluster.nodes[0].execute("SELECT @@gtid_binlog_pos").strip())
        wait_for(lambda: len(archived_gtids(bucket, PREFIX)) >= target, timeout=60)
        victim = next(n for n in cluster.nodes if f"127.0.0.1:{n.port}" == followed_host(bucket))
        next_id = write_rounds(cluster, next_id, rounds=2)  # some of these die with the node, unarchived
        cluster.kill(victim.index)
        cluster.wait_size(2)
        last_id = write_rounds(cluster, next_id, rounds=5) - 1
        survivor = cluster.alive_nodes()[0]
        final = cluster_seq(survivor.execute("SELECT @@gtid_binlog_pos").strip())
        wait_for(lambda: len(archived_gtids(bucket, PREFIX)) >= final, timeout=90)
        archiver.send_signal(signal.SIGTERM)
        assert archiver.wait(timeout=60) == 0
    except AssertionError:
        archiver.kill()
        raise AssertionError(archiver.stderr.read()[-3000:] if archiver.stderr else "") from None
    finally:
        if archiver.poll() is None:
            archiver.kill()
    stderr = archiver.stderr.read() if archiver.stderr else ""
    gtids = [Gtid.parse(g) for g in archived_gtids(bucket, PREFIX)]
    assert [g.seq_no for g in gtids if g.domain_id == CLUSTER_GTID_DOMAIN] == list(range(1, final + 1)), stderr
    assert all(g.domain_id == CLUSTER_GTID_DOMAIN for g in gtids)
    sources = [r.source.host for r in history(bucket, PREFIX) if isinstance(r, SegmentRecord)]
    assert sources[0] == f"127.0.0.1:{victim.port}" and sources[-1] != sources[0]  # it did fail over
    assert len(gap_free_windows(history(bucket, PREFIX))) == 1
    # Every row written, on any node, is there: the archive's N transactions are 4 statements of setup
    # (the fixture's 2 ALTER USER, CREATE DATABASE, CREATE TABLE) plus one per row.
    assert survivor.execute("SELECT COUNT(*) FROM shop.items").strip() == str(last_id) == str(final - 4)
    # A one-shot run now (as a scheduled Job would): the dead node is skipped, one more write is archived.
    survivor.execute(f"INSERT INTO shop.items VALUES ({last_id + 1}, 'one-shot')")
    done = run_cli(["archive-binlogs", "--json"], env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["transactions"] == 1
    assert [g.seq_no for g in map(Gtid.parse, archived_gtids(bucket, PREFIX))] == list(range(1, final + 2))


@pytest.mark.parametrize(("setting", "message"), [
    # mariadbd itself refuses log_bin + wsrep_gtid_mode without log_slave_updates: both are off here.
    ("wsrep_gtid_mode=OFF\nlog_slave_updates=OFF", "log_slave_updates is OFF, PITR needs ON"),
    ("wsrep_gtid_mode=OFF", "wsrep_gtid_mode is OFF, PITR needs ON"),
])
def test_a_galera_node_without_what_failover_needs_is_refused(setting: str, message: str, tmp_path: Path) -> None:
    if not galera_available():
        pytest.skip("needs galera-4, rsync and root (see docs/ARCHITECTURE.md, the test stack)")
    cluster = GaleraCluster(size=1, binlogs=True, extra_config=setting + "\n")
    try:
        node = cluster.start().nodes[0]
        bucket = tmp_path / "bucket"
        bucket.mkdir()
        env = {"CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(bucket), "BACKUP_PREFIX": PREFIX,
               "MARIADB_HOST": "127.0.0.1", "MARIADB_PORT": str(node.port), "MARIADB_PASSWORD": cluster.password}
        done = run_cli(["archive-binlogs", "--follow"], env, timeout=60)
    finally:
        cluster.stop()
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr
    assert list(bucket.rglob("*")) == []
