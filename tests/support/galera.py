"""A real 3-node Galera cluster on loopback, and a TCP balancer standing in for the Kubernetes Service.

Recipe and pitfalls (docs/ARCHITECTURE.md, the test stack): rsync SST (mariabackup is not installed), every node
runs with ``user=mysql`` (the rsync SST daemon drops to ``nobody`` and fails as root), node dirs are
owned by mysql and every parent directory is traversable, node 1 bootstraps with
``--wsrep-new-cluster``, and short evs timeouts so a killed node is evicted in ~4 s instead of ~15 s.

- ``galera_binlog_cluster``: the same with binlogs on every node (log_slave_updates, wsrep_gtid_mode,
  domain ``CLUSTER_GTID_DOMAIN``, files ``node<i>-bin.*``), for point-in-time recovery.
- ``galera_cluster``: a fresh cluster per test (tests kill nodes, so sharing one would couple them);
  ``cluster.password`` is root's TCP password, ``cluster.nodes[i].execute(sql)`` runs SQL over the
  node's socket, ``cluster.kill(i)`` is ``kill -9``.
- ``ServiceBalancer``: new connections go round-robin to the nodes that accept a TCP connect, the way
  kube-proxy spreads a Service's connections; ``serving()`` says which nodes carry open connections.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.drill.throwaway_server import free_port

GALERA_PROVIDER = Path("/usr/lib/galera/libgalera_smm.so")
# A joiner's rsync SST plus InnoDB start-up takes 3-6 s here; 90 s covers a loaded 2-core CI box.
_NODE_READY_TIMEOUT_S = 90.0
_CONNECT_TIMEOUT_S = 1.0
# The GTID domain of replicated writes when nodes log binlogs (wsrep_gtid_domain_id).
CLUSTER_GTID_DOMAIN = 100


class GaleraNode:
    def __init__(self, *, index: int, base: Path, gcomm_ports: list[int], binlogs: bool = False,
                 extra_config: str = "") -> None:
        self.index = index
        self.binlogs = binlogs
        self.extra_config = extra_config
        self.dir = base / f"node{index}"
        self.port = free_port()
        self.host = "127.0.0.1"
        self.gcomm_port = gcomm_ports[index]
        self.sst_port = free_port()
        self.ist_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._cluster_address = "gcomm://" + ",".join(f"127.0.0.1:{p}" for p in gcomm_ports)

    @property
    def socket_path(self) -> Path:
        return self.dir / "mysqld.sock"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def write_config(self) -> Path:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        provider_options = ";".join(
            [
                f"base_port={self.gcomm_port}",
                f"gmcast.listen_addr=tcp://127.0.0.1:{self.gcomm_port}",
                f"ist.recv_addr=127.0.0.1:{self.ist_port}",
                "gcache.size=32M",
                # Evict a dead peer in ~4 s (defaults: 15 s / 5 s), so failover fits a test's time.
                "evs.inactive_timeout=PT6S",
                "evs.suspect_timeout=PT3S",
            ]
        )
        config = self.dir / "my.cnf"
        config.write_text(
            "[mysqld]\n"
            "user=mysql\n"
            f"datadir={self.dir / 'data'}\n"
            f"socket={self.socket_path}\n"
            f"pid-file={self.dir / 'mysqld.pid'}\n"
            f"log-error={self.dir / 'err.log'}\n"
            f"port={self.port}\n"
            "bind-address=127.0.0.1\n"
            "skip-name-resolve\n"
            "innodb_buffer_pool_size=32M\n"
            "innodb_log_file_size=16M\n"
            "binlog_format=ROW\n"
            "innodb_autoinc_lock_mode=2\n"
            "wsrep_on=ON\n"
            f"wsrep_provider={GALERA_PROVIDER}\n"
            f"wsrep_cluster_address={self._cluster_address}\n"
            f"wsrep_node_address=127.0.0.1:{self.gcomm_port}\n"
            f"wsrep_node_name=node{self.index}\n"
            f"wsrep_sst_receive_address=127.0.0.1:{self.sst_port}\n"
            "wsrep_sst_method=rsync\n"
            f'wsrep_provider_options="{provider_options}"\n'
            + (self._binlog_config() if self.binlogs else "")
            + self.extra_config  # last: a later line of an option file overrides an earlier one
        )
        return config

    def _binlog_config(self) -> str:
        """What PITR needs (docs/ARCHITECTURE.md, docs/PITR.md): every node logs every write (log_slave_updates),
        with the cluster's GTIDs (wsrep_gtid_mode, one wsrep_gtid_domain_id) under its own file names."""
        return (f"log_bin=node{self.index}-bin\n"
                "log_slave_updates=ON\n"
                "wsrep_gtid_mode=ON\n"
                f"wsrep_gtid_domain_id={CLUSTER_GTID_DOMAIN}\n"
                f"gtid_domain_id={10 + self.index}\n"
                f"server_id={1 + self.index}\n"
                "max_binlog_size=1M\n")

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    def start(self, *, bootstrap: bool) -> None:
        argv = ["mariadbd", f"--defaults-file={self.dir / 'my.cnf'}", *(["--wsrep-new-cluster"] if bootstrap else [])]
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self.process = subprocess.Popen(
            [mariadbd, *argv[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )

    def client_argv(self, *args: str) -> list[str]:
        return ["mariadb", "--no-defaults", "-uroot", f"--socket={self.socket_path}",
                "--default-character-set=utf8mb4", *args]

    def execute(self, sql: str, *, database: str | None = None) -> str:
        argv = self.client_argv("--batch", "--skip-column-names", *([database] if database else []))
        done = subprocess.run(argv, input=sql.encode(), capture_output=True, check=False, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"node{self.index}: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout.decode()

    def status(self, name: str) -> str:
        out = self.execute(f"SHOW GLOBAL STATUS LIKE '{name}'")
        return out.split("\t")[1].strip() if "\t" in out else ""

    def wait_ready(self) -> None:
        deadline = time.monotonic() + _NODE_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.alive:
                break
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                if self.status("wsrep_ready") == "ON" and self.status("wsrep_local_state_comment") == "Synced":
                    return
            time.sleep(0.2)
        raise RuntimeError(f"node{self.index} not ready: {self.log_tail()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def discard(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # started in a session of its own
            self.process.wait()

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return " | ".join((self.dir / "err.log").read_text(errors="replace").strip().splitlines()[-5:])
        return "no error log"


_INSTALLED: dict[str, Path] = {}


def _install_data_dir(node: GaleraNode) -> None:
    """The first node's system tables: ``mariadb-install-db`` once per test process, then a copy of that
    (what the install writes does not depend on the ports, binlog or wsrep settings of a node; ~1 s
    saved per cluster on a quiet machine, several under load). Removed by the process that made it."""
    template = _INSTALLED.get("data")
    if template is None or not template.is_dir():
        base = Path(tempfile.mkdtemp(prefix="galera-install-template-"))
        base.chmod(0o755)  # the install runs as the config's user=mysql
        atexit.register(_remove_in_owner, base, owner=os.getpid())
        subprocess.run(
            ["mariadb-install-db", f"--defaults-file={node.dir / 'my.cnf'}", f"--datadir={base / 'data'}",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        template = _INSTALLED["data"] = base / "data"
    node.data_dir.rmdir()  # made empty by write_config
    subprocess.run(["cp", "-a", "--sparse=always", str(template), str(node.data_dir)], check=True)


def _remove_in_owner(base: Path, *, owner: int) -> None:
    # A child forked from a test process inherits the atexit hooks: only the maker removes the template.
    if os.getpid() == owner:
        shutil.rmtree(base, ignore_errors=True)


class GaleraCluster:
    def __init__(self, size: int = 3, *, binlogs: bool = False, extra_config: str = "") -> None:
        self.base = Path(tempfile.mkdtemp(prefix="galera-"))
        # mkdtemp makes 0700 dirs: mysql (and rsync's nobody) must be able to walk into them.
        self.base.chmod(0o755)
        gcomm_ports = [free_port() for _ in range(size)]
        self.nodes = [GaleraNode(index=i, base=self.base, gcomm_ports=gcomm_ports, binlogs=binlogs,
                                 extra_config=extra_config) for i in range(size)]
        self.password = f"gal'\"#${secrets.token_hex(8)}\\end"

    def start(self) -> GaleraCluster:
        first = self.nodes[0]
        for node in self.nodes:
            node.write_config()
        _install_data_dir(first)
        shutil.chown(self.base, "mysql", "mysql")
        subprocess.run(["chown", "-R", "mysql:mysql", str(self.base)], check=True)
        first.start(bootstrap=True)
        first.wait_ready()
        quoted = self.password.replace("\\", "\\\\").replace("'", "\\'")
        first.execute("".join(f"ALTER USER 'root'@'{h}' IDENTIFIED BY '{quoted}';" for h in ("127.0.0.1", "::1")))
        # One joiner at a time: two SSTs at once from one donor would queue anyway. (Starting joiners from
        # copies of a cleanly stopped cluster was tried: they still run the rsync SST script, for an IST,
        # and saved ~1 s a cluster, less than making the copies cost.)
        for node in self.nodes[1:]:
            node.start(bootstrap=False)
            node.wait_ready()
        return self

    def kill(self, index: int) -> None:
        """``kill -9`` one node: no shutdown, its clients see the connection drop mid-query."""
        self.nodes[index].kill()

    def alive_nodes(self) -> list[GaleraNode]:
        return [n for n in self.nodes if n.alive]

    def wait_size(self, size: int, *, timeout: float = 30.0) -> None:
        """Wait until every live node sees a Primary component of ``size`` nodes (eviction done)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                if all(n.status("wsrep_cluster_size") == str(size) for n in self.alive_nodes()):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"cluster did not settle at size {size}")

    def stop(self) -> None:
        """Throw the cluster away: its data is deleted next, so no node needs a clean shutdown (that
        took ~2 s a cluster); each node's whole session goes, SST helpers included."""
        for node in self.nodes:
            node.discard()
        shutil.rmtree(self.base, ignore_errors=True)


class ServiceBalancer:
    """A TCP proxy on 127.0.0.1 spreading new connections round-robin over the nodes that accept one.

    A node that refuses (dead) is skipped, as kube-proxy stops routing to a Pod that failed its
    readiness probe. When either side of a proxied connection ends, both sides are shut down, so a
    client whose server died sees EOF/"lost connection" instead of waiting forever.
    """

    def __init__(self, nodes: list[GaleraNode]) -> None:
        self._nodes = nodes
        self._next = 0
        self._lock = threading.Lock()
        self._open: dict[int, int] = {}  # node index -> open proxied connections
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept_loop, name="service-balancer", daemon=True).start()

    def serving(self) -> list[int]:
        """Indexes of the nodes that currently carry at least one proxied connection."""
        with self._lock:
            return sorted(i for i, n in self._open.items() if n > 0)

    def stop(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in list(self._sockets):
                _shutdown(sock)

    def _connect_upstream(self) -> tuple[int, socket.socket] | None:
        with self._lock:
            order = [(self._next + k) % len(self._nodes) for k in range(len(self._nodes))]
            self._next = (self._next + 1) % len(self._nodes)
        for index in order:
            try:
                return index, socket.create_connection(("127.0.0.1", self._nodes[index].port), _CONNECT_TIMEOUT_S)
            except OSError:
                continue
        return None

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            picked = self._connect_upstream()
            if picked is None:
                _shutdown(client)  # no endpoint: the client sees the connection closed at once
                continue
            index, upstream = picked
            upstream.settimeout(None)
            with self._lock:
                self._open[index] = self._open.get(index, 0) + 1
                self._sockets.update((client, upstream))
            threading.Thread(target=self._relay, args=(index, client, upstream), daemon=True).start()

    def _relay(self, index: int, client: socket.socket, upstream: socket.socket) -> None:
        other = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        other.start()
        _pump(client, upstream)
        other.join()
        with self._lock:
            self._open[index] -= 1
            self._sockets.difference_update((client, upstream))
        client.close()
        upstream.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(1 << 16):
            dst.sendall(data)
    # Either side ended: end both, or the peer blocked in recv() never learns the connection is gone.
    _shutdown(src)
    _shutdown(dst)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def write_rounds(cluster: GaleraCluster, start: int, *, rounds: int) -> int:
    """``rounds`` single-row transactions into ``shop.items`` on each live node in turn (writes from every
    node, as an application behind the Service makes them); returns the next free id."""
    for i in range(rounds):
        for node in cluster.alive_nodes():
            node.execute(f"INSERT INTO shop.items VALUES ({start}, 'node{node.index} round {i}')")
            start += 1
    return start


def galera_available() -> bool:
    return GALERA_PROVIDER.exists() and shutil.which("rsync") is not None and os.geteuid() == 0


@pytest.fixture
def galera_cluster() -> Iterator[GaleraCluster]:
    if not galera_available():
        pytest.skip("needs galera-4, rsync and root (see docs/ARCHITECTURE.md, the test stack)")
    cluster = GaleraCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def galera_binlog_cluster() -> Iterator[GaleraCluster]:
    """The same cluster with binary logs on every node, as point-in-time recovery needs them."""
    if not galera_available():
        pytest.skip("needs galera-4, rsync and root (see docs/ARCHITECTURE.md, the test stack)")
    cluster = GaleraCluster(binlogs=True)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def service_balancer(galera_cluster: GaleraCluster) -> Iterator[ServiceBalancer]:
    balancer = ServiceBalancer(galera_cluster.nodes)
    yield balancer
    balancer.stop()
