"""Galera node loss during a backup, on a real 3-node cluster behind a balancer (the Service's stand-in).

The dump is held mid-stream by a table lock on every node (``LOCK TABLES ... WRITE`` is node-local
in Galera), the node serving it is killed with SIGKILL, the other locks are released: the agent must
retry through the balancer, finish from a surviving node, leave no trace of the failed attempt, and
the backup must restore to data equal to the cluster's.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.agent_runs import dump_children, wait_for
from tests.support.cli import run_cli, start_cli
from tests.support.galera import GaleraCluster, GaleraNode, ServiceBalancer
from tests.support.mariadb_server import SAMPLE_SQL, table_checksums

pytestmark = [pytest.mark.galera, pytest.mark.slow]


def load_sample(node: GaleraNode) -> None:
    node.execute(SAMPLE_SQL.read_text())
    # Galera replicates InnoDB only: the sample's MyISAM table would differ between nodes.
    for table in node.execute(
        "SELECT CONCAT('`', table_schema, '`.`', table_name, '`') FROM information_schema.tables "
        "WHERE engine = 'MyISAM' AND table_schema NOT IN ('mysql')"
    ).split():
        node.execute(f"DROP TABLE {table}")


def hold_lock(node: GaleraNode, table: str) -> subprocess.Popen[bytes]:
    holder = subprocess.Popen(node.client_argv(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    assert holder.stdin is not None
    holder.stdin.write(f"LOCK TABLES {table} WRITE; SELECT SLEEP(300);\n".encode())
    holder.stdin.flush()
    return holder


def agent_env(cluster: GaleraCluster, balancer: ServiceBalancer, bucket: Path, tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "CLOUD_PROVIDER": "local",
        "LOCAL_BACKUP_DIR": str(bucket),
        "BACKUP_TMPDIR": str(tmp),
        "MARIADB_HOST": "127.0.0.1",
        "MARIADB_PORT": str(balancer.port),
        "MARIADB_PASSWORD": cluster.password,
        "BACKUP_RETRY_ATTEMPTS": "5",
        "BACKUP_RETRY_SECONDS": "60",
        **extra,
    }


def dirs(tmp_path: Path) -> tuple[Path, Path]:
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    return bucket, tmp


def test_node_killed_mid_dump_backup_completes_from_another_node(
    galera_cluster: GaleraCluster, service_balancer: ServiceBalancer, mariadb_factory, tmp_path
):
    load_sample(galera_cluster.nodes[0])
    bucket, tmp = dirs(tmp_path)
    holders = [hold_lock(node, "shop.products") for node in galera_cluster.nodes]
    try:
        agent = start_cli(["backup", "--json"], agent_env(galera_cluster, service_balancer, bucket, tmp))
        # The dump is running, its upload has begun, and it is now blocked on the locked table.
        wait_for(lambda: dump_children(agent.pid) and any(bucket.rglob("*.partial-*")) and service_balancer.serving())
        time.sleep(0.5)
        (victim,) = service_balancer.serving()
        galera_cluster.kill(victim)
    finally:
        for holder in holders:  # release the survivors' locks: the retried dump can run through
            holder.kill()
            holder.wait()
    stdout, stderr = agent.communicate(timeout=180)

    assert agent.returncode == 0, stderr
    retries = [json.loads(line) for line in stderr.splitlines() if '"event": "retry"' in line]
    # The server's own words, or (when the kill beat mariadb-dump's report) its silent exit 2.
    assert retries and any(reason in retries[0]["message"] for reason in
                           ("Lost connection", "without an error message")), stderr
    result = json.loads(stdout)
    # The failed attempt left nothing: one backup with exactly its three objects, and no temp files.
    stored = sorted(p.relative_to(bucket).as_posix() for p in bucket.rglob("*") if p.is_file())
    folder = f"mariadb-ha-backup/default/mariadb/{result['backup_id']}"
    assert stored == [f"{folder}/{n}" for n in ("accounts.sql", "manifest.json", "mariadb-ha-backup.tar.gz",
                                                "mariadb-ha-backup.tar.gz.sha1")]
    assert list(tmp.iterdir()) == []
    manifest = json.loads((bucket / folder / "manifest.json").read_text())
    assert manifest["source"]["galera"]["wsrep_cluster_size"] in ("2", "3")

    # The backup restores to data equal to the cluster's (compared on a surviving node).
    target = mariadb_factory()
    survivor = galera_cluster.alive_nodes()[0]
    done = run_cli(["restore", "--latest"], {**agent_env(galera_cluster, service_balancer, bucket, tmp),
                                             **target.agent_env()})
    assert done.returncode == 0, done.stderr
    assert table_checksums(target) == table_checksums(survivor)  # type: ignore[arg-type]  # duck-typed: execute()


def test_cluster_unavailable_longer_than_budget_fails_cleanly_in_time(
    galera_cluster: GaleraCluster, service_balancer: ServiceBalancer, tmp_path
):
    bucket, tmp = dirs(tmp_path)
    budget = 8.0
    env = agent_env(galera_cluster, service_balancer, bucket, tmp, BACKUP_RETRY_ATTEMPTS="50",
                    BACKUP_RETRY_SECONDS=str(budget))
    # Quorum lost: two of three nodes die, the last one drops to a non-Primary component and refuses
    # to serve data; then it dies too and the balancer has no endpoint at all.
    galera_cluster.kill(0)
    galera_cluster.kill(1)
    survivor = galera_cluster.nodes[2]
    wait_for(lambda: survivor.status("wsrep_ready") == "OFF", timeout=30)
    for phase in ("non-primary", "all-dead"):
        started = time.monotonic()
        done = run_cli(["backup"], env)
        elapsed = time.monotonic() - started
        assert done.returncode == 1, (phase, done.stderr)
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("mariadb-ha-backup: error:"), (phase, last)
        assert "not ready" in last or "connection failed" in last, (phase, last)
        assert "Traceback" not in done.stderr
        # The budget bounds the retries; the rest is interpreter start-up and the last attempt.
        assert elapsed < budget + 6, (phase, elapsed)
        assert [p for p in bucket.rglob("*") if p.is_file()] == [] and list(tmp.iterdir()) == []
        galera_cluster.kill(2)
