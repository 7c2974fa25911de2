"""Parallel restore into a 3-node Galera cluster: exact on every node, and what the sessions cost there.

The same dump (~40 MB of the benchmark's dataset: shop, crm, analytics; 256 KB INSERT statements) is
loaded into node 1 with one plain client and with 2 and 4 sessions; after each load, once every node
has applied everything, each node's fingerprint (tests/support/fingerprint.py) must equal the
serial load's. The timings are printed (``-s``): a measurement for docs/PERFORMANCE.md, not an
assertion. Parallel sessions on one node certify independently (no two touch the same rows), so no
certification conflict or brute-force abort is expected: the test would fail on one.
"""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator

import pytest

from agent.common.dumpfile import read_units
from agent.restore.parallel_loading import ParallelLoader
from agent.restore.restoring import CLIENT_FLAGS
from bench import dataset
from shared.mariadb_client import client_argv, write_defaults_file
from tests.support.fingerprint import fingerprint
from tests.support.galera import GaleraCluster, GaleraNode
from tests.support.hostile import dump_all
from tests.support.mariadb_server import SYSTEM_SCHEMAS, start_test_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dump() -> Iterator[bytes]:
    server = start_test_server()
    try:
        server.execute("\n".join(dataset.statements(dataset.scale_for(40_000_000))))
        yield dump_all(server, "--net-buffer-length=262144")
    finally:
        server.stop()


def drop_user_databases(node: GaleraNode) -> None:
    excluded = ",".join(f"'{s}'" for s in SYSTEM_SCHEMAS)
    names = node.execute(f"SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN ({excluded})")
    node.execute("".join(f"DROP DATABASE `{n}`;" for n in names.splitlines()))


def wait_applied(cluster: GaleraCluster) -> None:
    """Until every node has committed the same last write set (the load is replicated everywhere)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        seqnos = {n.status("wsrep_last_committed") for n in cluster.nodes}
        if len(seqnos) == 1:
            return
        time.sleep(0.2)
    raise AssertionError(f"nodes did not converge: {seqnos}")


def load(cluster: GaleraCluster, dump: bytes, tmp_path, sessions: int) -> float:
    node = cluster.nodes[0]
    defaults = write_defaults_file(tmp_path, host=node.host, port=node.port, user="root", password=cluster.password)
    started = time.monotonic()
    if sessions == 1:
        done = subprocess.run(client_argv(defaults, *CLIENT_FLAGS), input=dump, capture_output=True, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
    else:
        loader = ParallelLoader(client_argv(defaults, *CLIENT_FLAGS), sessions=sessions, run_dir=tmp_path)
        loader.load(read_units(io.BytesIO(dump), batch_bytes=1 << 20))
    return time.monotonic() - started


def test_parallel_restore_into_galera_is_exact_on_every_node(galera_cluster, dump, tmp_path_factory):
    timings, conflicts = {}, {}
    expected: dict[str, object] | None = None
    for sessions in (1, 2, 4):
        drop_user_databases(galera_cluster.nodes[0])
        wait_applied(galera_cluster)
        before = int(galera_cluster.nodes[0].status("wsrep_local_bf_aborts"))
        timings[sessions] = load(galera_cluster, dump, tmp_path_factory.mktemp(f"s{sessions}"), sessions)
        wait_applied(galera_cluster)
        conflicts[sessions] = int(galera_cluster.nodes[0].status("wsrep_local_bf_aborts")) - before
        prints = [fingerprint(node) for node in galera_cluster.nodes]
        expected = expected or prints[0]
        assert all(p == expected for p in prints), f"{sessions} sessions: a node differs from the serial load"
    print(f"\nGalera load of {len(dump) / 1e6:.0f} MB into node 1: "
          + ", ".join(f"{s} session(s) {t:.1f} s" for s, t in timings.items())
          + f"; brute-force aborts {conflicts}")
    assert conflicts == {1: 0, 2: 0, 4: 0}
