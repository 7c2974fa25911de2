"""``restore --parallel``: the same dump loaded over several sessions equals the plain client's result.

Real servers: a source with the sample data, the hostile fixture (odd names, history, sequences,
definers, triggers, routines, events, views across databases) and a table big enough to be cut into
many row batches; its dump is loaded once with ``mariadb < dump.sql`` and once by the parallel loader
(small batches, so every table's rows really spread over the sessions), and the two targets are
compared object by object: CHECKSUM TABLE, SHOW CREATE of every table, view, sequence, trigger,
routine and event, AUTO_INCREMENT counters and sequence states.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.common.dumpfile import Kind, read_units
from agent.drill.throwaway_server import ThrowawayServer
from agent.restore.parallel_loading import ParallelLoader, SessionFailedError
from agent.restore.restoring import CLIENT_FLAGS
from shared.mariadb_client import client_argv, write_defaults_file
from tests.support.fingerprint import fingerprint
from tests.support.hostile import dump_all, load_hostile
from tests.support.mariadb_server import SAMPLE_SQL, TestServer, start_test_server

BATCH = 16 * 1024  # small batches: the big table's rows are cut into ~100 units spread over the sessions


@pytest.fixture(scope="module")
def source_server() -> Iterator[TestServer]:
    server = start_test_server()
    try:
        server.execute(SAMPLE_SQL.read_text())
        load_hostile(server)
        # A row that violates a CHECK added later: no plain `mariadb < dump.sql` can load it (the dump
        # does not switch check_constraint_checks off; the fidelity work's business, not a parallel one).
        server.execute("UPDATE nums.checked SET qty = 5")
        server.execute(
            "CREATE DATABASE big; USE big; CREATE TABLE big.rows_ai (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(200), "
            "n BIGINT, KEY (n)) ENGINE=InnoDB; INSERT INTO big.rows_ai (v, n) SELECT REPEAT(MD5(seq), 5), seq * 7 "
            "FROM seq_1_to_20000; DELETE FROM big.rows_ai WHERE id > 19990;"  # AUTO_INCREMENT above max(id)
            "CREATE TABLE big.heap (a INT, b TEXT) ENGINE=MyISAM; INSERT INTO big.heap SELECT seq % 13, "
            "REPEAT('x', seq % 50) FROM seq_1_to_5000;"  # no primary key, keys disabled while loading
        )
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def source_dump(source_server) -> bytes:
    return dump_all(source_server, "--net-buffer-length=16384")  # many INSERT statements per table


def targets(mariadb_factory, count: int = 2) -> list[TestServer]:
    """Fresh servers with the fixture's definer account (accounts are not in the dump: mysql.global_priv
    is skipped), as a restore target would have them."""
    servers = [mariadb_factory() for _ in range(count)]
    for server in servers:
        server.execute("CREATE USER 'definer'@'localhost'; GRANT ALL ON *.* TO 'definer'@'localhost';")
    return servers


def load_serially(target: ThrowawayServer, dump: bytes) -> None:
    done = subprocess.run(target.client_argv(*CLIENT_FLAGS), input=dump, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def load_in_parallel(target: TestServer, dump: bytes, tmp_path: Path, *, sessions: int) -> None:
    defaults = write_defaults_file(tmp_path, host=target.host, port=target.port, user="root",
                                   password=target.password)
    loader = ParallelLoader(client_argv(defaults, *CLIENT_FLAGS), sessions=sessions, run_dir=tmp_path)
    loader.load(read_units(io.BytesIO(dump), batch_bytes=BATCH))


def test_dump_really_has_many_row_batches(source_dump):
    batches = [u for u in read_units(io.BytesIO(source_dump), batch_bytes=BATCH) if u.kind is Kind.ROWS]
    assert len([u for u in batches if u.name == "rows_ai"]) > 50


@pytest.mark.parametrize("sessions", [2, 4])
def test_parallel_load_equals_the_plain_client(source_dump, mariadb_factory, tmp_path, sessions):
    serial, parallel = targets(mariadb_factory)

    load_serially(serial, source_dump)
    load_in_parallel(parallel, source_dump, tmp_path, sessions=sessions)

    expected, got = fingerprint(serial), fingerprint(parallel)
    assert len(expected) > 60  # the comparison covers the fixture's objects, not an empty server
    assert {k for k in expected if k.startswith("SEQUENCE") or "state" in k}  # sequences are compared
    assert got == expected


@pytest.mark.parametrize("sessions", [2, 4])
def test_session_settings_around_a_tables_rows_reach_every_session(source_server, mariadb_factory, tmp_path,
                                                                   sessions):
    """History (system_versioning_insert_history) and --no-autocommit's SET/COMMIT are switched around each
    table's rows; whichever session loads a batch must run under them."""
    dump = dump_all(source_server, "--net-buffer-length=16384", "--dump-history", "--no-autocommit")
    assert b"@@session.system_versioning_insert_history=1" in dump and b"@@AUTOCOMMIT=0" in dump
    serial, parallel = targets(mariadb_factory)

    load_serially(serial, dump)
    load_in_parallel(parallel, dump, tmp_path, sessions=sessions)

    assert fingerprint(parallel) == fingerprint(serial)
    for table in ("hist.versioned", "hist.partial_versioned"):
        history = f"SELECT *, ROW_START, ROW_END FROM {table} FOR SYSTEM_TIME ALL ORDER BY 1, ROW_START"
        assert parallel.execute(history) == serial.execute(history) == source_server.execute(history)


def test_an_error_in_one_session_stops_all_and_names_the_table(source_dump, mariadb_factory, tmp_path):
    (target,) = targets(mariadb_factory, 1)
    statement = b"INSERT INTO `rows_ai` VALUES\n("
    tenth = [m.start() for m in re.finditer(re.escape(statement), source_dump)][9]
    poisoned = source_dump[:tenth] + statement + b"NULL," + source_dump[tenth + len(statement):]

    with pytest.raises(SessionFailedError) as caught:
        load_in_parallel(target, poisoned, tmp_path, sessions=3)

    message = str(caught.value)
    assert "rows of table `big`.`rows_ai`" in message and "1136" in message  # column count doesn't match
    assert "ended" not in message
    clients = subprocess.run(["pgrep", "-f", f"defaults-extra-file={tmp_path}"], capture_output=True, text=True)
    assert clients.stdout == ""  # every session was stopped
