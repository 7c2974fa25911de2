"""Point-in-time restore of a 3-node Galera cluster across the loss of the node the archiver follows.

A backup through one node records the cluster's GTID state; writes go round-robin to every node while
``archive-binlogs --follow`` follows one node (BINLOG_SOURCES lists all three); that node is killed
(``kill -9``) and the archiver continues on another from the last archived GTID; more writes on the
survivors. ``restore --until`` the last archived second (after the failover) into a fresh server must
equal a surviving node's state (CHECKSUM TABLE).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from shared.binlogs.gtid import parse_state
from tests.support.agent_runs import wait_for
from tests.support.binlog_archive import archived_transactions, history
from tests.support.cli import run_cli, start_cli
from tests.support.galera import CLUSTER_GTID_DOMAIN, GaleraCluster, write_rounds
from tests.support.pitr import backup, last_archived_second

pytestmark = [pytest.mark.galera, pytest.mark.slow]
PREFIX = "pitr/galera-restore"


def cluster_seq(node) -> int:  # type: ignore[no-untyped-def]
    return parse_state(node.execute("SELECT @@gtid_binlog_pos").strip())[CLUSTER_GTID_DOMAIN].seq_no


def test_point_after_failover_equals_a_surviving_node(galera_binlog_cluster: GaleraCluster, mariadb_factory,
                                                     tmp_path: Path) -> None:
    cluster = galera_binlog_cluster
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    cluster.nodes[0].execute("CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, note TEXT)")
    env = {"CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(bucket), "BACKUP_TMPDIR": str(tmp),
           "BACKUP_PREFIX": PREFIX, "MARIADB_HOST": "127.0.0.1", "MARIADB_PORT": str(cluster.nodes[1].port),
           "MARIADB_USER": "root", "MARIADB_PASSWORD": cluster.password, "BACKUP_RETRY_ATTEMPTS": "5",
           "BACKUP_RETRY_SECONDS": "60", "BINLOG_UPLOAD_SECONDS": "2", "BINLOG_ROLLUP_RECORDS": "3",
           "BINLOG_COMPACT": "on",
           "BINLOG_SOURCES": ",".join(f"127.0.0.1:{n.port}" for n in cluster.nodes)}
    next_id = write_rounds(cluster, 1, rounds=2)
    manifest = backup(env)
    archiver = start_cli(["archive-binlogs", "--follow"], env)
    try:
        next_id = write_rounds(cluster, next_id, rounds=3)
        wait_for(lambda: archived_transactions(bucket, PREFIX) >= cluster_seq(cluster.nodes[0]), timeout=60)
        followed = history(bucket, PREFIX)[-1].source.host  # type: ignore[union-attr]
        victim = next(n for n in cluster.nodes if f"127.0.0.1:{n.port}" == followed)
        next_id = write_rounds(cluster, next_id, rounds=2)
        cluster.kill(victim.index)
        cluster.wait_size(2)
        write_rounds(cluster, next_id, rounds=3)
        survivor = cluster.alive_nodes()[0]
        final = cluster_seq(survivor)
        wait_for(lambda: archived_transactions(bucket, PREFIX) >= final, timeout=90)
    finally:
        archiver.send_signal(signal.SIGTERM)
        stopped = archiver.wait(timeout=60)
    assert stopped == 0, archiver.stderr.read()[-2000:] if archiver.stderr else ""
    sources = {r.source.host for r in history(bucket, PREFIX)}  # type: ignore[union-attr]
    assert len(sources) >= 2  # the archive did fail over
    # Rolled up across the failover (3 records a rollup): the restore below reads through them.
    assert list((bucket / PREFIX / "binlogs" / "rollups").glob("*.json"))
    # And compacted (BINLOG_COMPACT=on): the restore reads compacted segments beside small ones.
    assert list((bucket / PREFIX / "binlogs" / "compactions").glob("*.json"))
    assert manifest.binlog is not None and CLUSTER_GTID_DOMAIN in parse_state(manifest.binlog.gtid_state)
    target = mariadb_factory()

    done = run_cli(["restore", "--until", last_archived_second(bucket, prefix=PREFIX), "--json"],
                   {**env, **target.agent_env()}, timeout=300)

    assert done.returncode == 0, done.stderr
    expected = survivor.execute("CHECKSUM TABLE shop.items EXTENDED")
    assert target.execute("CHECKSUM TABLE shop.items EXTENDED") == expected
    assert target.execute("SELECT COUNT(*) FROM shop.items") == survivor.execute("SELECT COUNT(*) FROM shop.items")
