"""Real throwaway ``mariadbd`` servers for tests (no mocks): fixtures and comparison helpers.

- ``mariadb_server``: an empty server whose root password (``server.password``) is random and
  contains characters that need quoting, reachable on 127.0.0.1:``server.port``.
- ``sample_server``: the same with ``examples/sample-data.sql`` loaded (several databases,
  utf8mb4, BLOBs, NULLs, generated column, views, trigger, routines, event).
- ``binlog_server``: an empty server writing ROW binary logs (``bin.000001``...; ``server.server_id``
  is 1), rotating at 1 MiB (``BINLOG_SERVER_ARGS``): the source for point-in-time-recovery tests.
- ``mariadb_factory``: call it to get more servers (e.g. a restore target); all stop at teardown.
- ``table_checksums(server)`` / ``schema_objects(server)``: what a restore must reproduce.

Every ``TestServer`` starts from a copy of one ``mariadb-install-db`` run per test process (the same
arguments the agent's throwaway server uses): ~120 servers, one install.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.drill.throwaway_server import ServerStartError, ThrowawayServer, install_db_args
from tests.support.ram import ram_base

SAMPLE_SQL = Path(__file__).resolve().parents[2] / "examples" / "sample-data.sql"
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
# What PITR needs of a server (docs/PITR.md); 1 MiB files so tests see rotations after little writing.
BINLOG_SERVER_ARGS = ("--log-bin=bin", "--server-id=1", "--binlog-format=ROW", "--max-binlog-size=1M")
_PORT_RACE_RETRIES = 2


_TEMPLATES: dict[str, Path] = {}
# Servers (and their template) live in RAM where the machine has room for them (tests/support/ram.py):
# a run's servers write several GB that nobody reads after their test, and on disk the kernel's
# writeback of it competed with the tests for the 2 cores. Room: the load test's servers hold a few GB
# (one look during a whole run here: 2.7 GB on /dev/shm); without it they stay in the temp directory.
SERVER_BASE = ram_base(8 << 30)


def _installed_data_dir(install_db: str) -> Path:
    """One fresh install per test process (each xdist worker has its own), removed when it exits; made
    again if it went missing (seen here: a hand clean-up of /tmp deleted the templates under a running suite,
    and every later server of that run failed)."""
    data = _TEMPLATES.get(install_db)
    if data is None or not data.is_dir():
        data = _TEMPLATES[install_db] = _install_template(install_db)
    return data


def _install_template(install_db: str) -> Path:
    base = Path(tempfile.mkdtemp(prefix="mariadb-install-template-", dir=SERVER_BASE))
    atexit.register(_remove_in_owner, base, owner=os.getpid())
    (base / "tmp").mkdir()
    subprocess.run([install_db, *install_db_args(data=base / "data", tmpdir=base / "tmp")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return base / "data"


def _remove_in_owner(base: Path, *, owner: int) -> None:
    # Only the process that made the template removes it: a child forked from a test process inherits
    # the atexit hooks and would otherwise delete the template under its parent when it exits.
    if os.getpid() == owner:
        shutil.rmtree(base, ignore_errors=True)


class TestServer(ThrowawayServer):
    __test__ = False  # not a test class, despite the name
    password: str = ""

    def __init__(self, *, extra_args: tuple[str, ...] = (), base_dir: Path | None = None,
                 datadir: Path | None = None) -> None:
        super().__init__(base_dir=base_dir or SERVER_BASE, extra_args=extra_args, datadir=datadir)

    def install_data_dir(self, install_db: str, data: Path, tmpdir: Path) -> None:
        # A copy of the same install is what install-db would write again (~0.2 s instead of ~0.6 s).
        # Sparse: the redo log and ibdata1 are mostly zeros, so a copy writes ~6 MB instead of ~60 MB.
        subprocess.run(["cp", "-a", "--sparse=always", str(_installed_data_dir(install_db)), str(data)], check=True)

    def start(self) -> TestServer:
        # free_port() closes its probe before mariadbd binds: with several xdist workers starting
        # servers at once another one can take the port in between. A lost race is retried.
        for _ in range(_PORT_RACE_RETRIES):
            try:
                super().start()
                return self
            except ServerStartError as exc:
                if "Address already in use" not in str(exc):
                    raise
        super().start()
        return self

    def agent_env(self) -> dict[str, str]:
        """Environment for the agent to reach this server over TCP with the password."""
        return {
            "MARIADB_HOST": self.host,
            "MARIADB_PORT": str(self.port),
            "MARIADB_USER": "root",
            "MARIADB_PASSWORD": self.password,
        }


def start_test_server(*, sample: bool = False, extra_args: tuple[str, ...] = ()) -> TestServer:
    server = TestServer(extra_args=extra_args)
    server.start()
    # Quote, backslash, '#' and '$' make sure nothing splits or interprets the password on its way.
    server.password = f"pw'\"#${secrets.token_hex(8)}\\end"
    server.set_root_password(server.password)
    if sample:
        server.execute(SAMPLE_SQL.read_text())
    return server


@pytest.fixture
def mariadb_factory() -> Iterator[Callable[..., TestServer]]:
    started: list[TestServer] = []

    def make(*, sample: bool = False, extra_args: tuple[str, ...] = ()) -> TestServer:
        server = start_test_server(sample=sample, extra_args=extra_args)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def mariadb_server(mariadb_factory: Callable[..., TestServer]) -> TestServer:
    return mariadb_factory()


@pytest.fixture
def binlog_server(mariadb_factory: Callable[..., TestServer]) -> TestServer:
    return mariadb_factory(extra_args=BINLOG_SERVER_ARGS)


@pytest.fixture
def sample_server(mariadb_factory: Callable[..., TestServer]) -> TestServer:
    return mariadb_factory(sample=True)


def user_tables(server: ThrowawayServer) -> list[str]:
    excluded = ",".join(f"'{s}'" for s in SYSTEM_SCHEMAS)
    rows = server.execute(
        "SELECT CONCAT('`', table_schema, '`.`', table_name, '`') FROM information_schema.tables "
        f"WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ({excluded}) ORDER BY 1"
    )
    return rows.splitlines()


def table_checksums(server: ThrowawayServer) -> dict[str, str]:
    """``CHECKSUM TABLE`` of every user table, keyed by schema.table."""
    tables = user_tables(server)
    assert tables, "no user tables: the comparison would be empty"
    out = server.execute(f"CHECKSUM TABLE {', '.join(tables)} EXTENDED")
    return dict(line.split("\t") for line in out.splitlines())


def schema_objects(server: ThrowawayServer) -> dict[str, list[str]]:
    """Views, routines, triggers and events by qualified name."""
    excluded = ",".join(f"'{s}'" for s in SYSTEM_SCHEMAS)
    # (kind, information_schema table, schema column, name expression)
    sources = [
        ("views", "views", "table_schema", "table_name"),
        ("routines", "routines", "routine_schema", "CONCAT(routine_name, ':', routine_type)"),
        ("triggers", "triggers", "trigger_schema", "trigger_name"),
        ("events", "events", "event_schema", "event_name"),
    ]
    queries = {
        kind: f"SELECT CONCAT({schema}, '.', {name}) FROM information_schema.{table} WHERE {schema} NOT IN ({excluded})"
        for kind, table, schema, name in sources
    }
    return {kind: sorted(server.execute(sql).splitlines()) for kind, sql in queries.items()}

