"""System-versioned history survives the default (parallel) restore.

The dump switches ``system_versioning_insert_history`` on around a versioned table's rows (and can
switch autocommit off there): whichever session loads a batch of those rows must have that setting,
not only the session that ran the switch. Several versioned and plain tables in one database, each
big enough to be cut into several row batches, backed up with the agent (``--dump-history``) and
restored with 2 and 4 sessions, tar.gz and sql.zst: every row version comes back.
"""

from __future__ import annotations

import pytest

from tests.support.cli import run_cli
from tests.support.fidelity import differences, snapshot
from tests.support.mariadb_server import TestServer

PREFIX = "versioned/db/mariadb-ha"
ROWS = 20000  # ~5 MB a table: more than one 4 MiB row batch, so a table's rows spread over sessions


def load_versioned_and_plain(server: TestServer) -> None:
    statements = ["CREATE DATABASE mixed", "USE mixed"]
    for n in range(3):
        statements += [
            f"CREATE TABLE v{n} (id INT PRIMARY KEY, pad VARCHAR(200), x INT) WITH SYSTEM VERSIONING",
            f"INSERT INTO v{n} SELECT seq, REPEAT(MD5(seq), 6), seq FROM seq_1_to_{ROWS}",
            f"UPDATE v{n} SET x = x + 1 WHERE id % 3 = 0",
            f"DELETE FROM v{n} WHERE id % 7 = 0",
            f"CREATE TABLE p{n} (id INT PRIMARY KEY, pad VARCHAR(200)) ",
            f"INSERT INTO p{n} SELECT seq, REPEAT(MD5(seq), 6) FROM seq_1_to_{ROWS}",
        ]
    server.execute(";\n".join(statements))


@pytest.mark.parametrize(("fmt", "sessions"), [("tar.gz", 2), ("sql.zst", 4)])
def test_default_restore_brings_back_every_row_version(fmt, sessions, mariadb_factory, tmp_path):
    source = mariadb_factory()
    load_versioned_and_plain(source)
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    backup = run_cli(["backup", "--format", fmt], {**env, **source.agent_env()})
    assert backup.returncode == 0, backup.stderr
    target = mariadb_factory()

    restored = run_cli(["restore", "--latest", "--parallel", str(sessions)], {**env, **target.agent_env()})

    assert restored.returncode == 0, restored.stderr
    expected = snapshot(source, ["mixed"])
    assert len([k for k in expected if k[0] == "history"]) == 3
    assert differences(expected, snapshot(target, ["mixed"])) == {}
    history = target.execute("SELECT COUNT(*) FROM mixed.v1 FOR SYSTEM_TIME ALL")
    assert int(history) == ROWS + ROWS // 3  # every update left its old version behind
