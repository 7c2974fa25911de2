"""Object-level grants and role admins survive a restore, and a re-restore (``--yes``) over the same accounts.

The dump drops and recreates routines, and the server deletes a routine's grants when it drops it
(``automatic_sp_privileges``); accounts the target already has are left alone by design. Real servers:
routine, column and proxy grants, a role with ADMIN OPTION held by ``root@localhost``; restored into a
fresh server, then again with ``--yes``: every account's grants and the role mapping equal the source's.
The drill fails when a restore loses routine grants.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.common.catalog import scan_backups, select_backup
from agent.drill import backup_drill
from agent.drill.backup_drill import DrillFailedError, run_drill
from shared.storage import open_storage
from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer

PREFIX = "grants/db/mariadb-ha"
GRANTS = """CREATE DATABASE app; USE app;
CREATE TABLE t (id INT PRIMARY KEY, secret INT, pub INT);
CREATE PROCEDURE p() SELECT 1;
CREATE FUNCTION f() RETURNS INT RETURN 1;
CREATE ROLE reader;
GRANT EXECUTE ON PROCEDURE app.p TO reader;
CREATE USER 'app'@'%' IDENTIFIED BY 'app-password';
GRANT EXECUTE ON FUNCTION app.f TO 'app'@'%';
GRANT ALTER ROUTINE ON PROCEDURE app.p TO 'app'@'%';
GRANT SELECT (pub), UPDATE (pub) ON app.t TO 'app'@'%';
CREATE USER 'real'@'%';
GRANT PROXY ON 'real'@'%' TO 'app'@'%';
GRANT reader TO 'app'@'%';"""


def grants(server: TestServer) -> dict[str, object]:
    return {
        "app": server.execute("SHOW GRANTS FOR 'app'@'%'"),
        "reader": server.execute("SHOW GRANTS FOR reader"),
        "procs_priv": server.execute("SELECT db, user, routine_name, routine_type, proc_priv FROM mysql.procs_priv "
                                     "ORDER BY 1, 2, 3"),
        "roles_mapping": server.execute("SELECT user, host, role, admin_option FROM mysql.roles_mapping ORDER BY 1, 2, 3"),
    }


@pytest.fixture
def short_dir() -> Iterator[Callable[[], Path]]:
    """Run dirs whose throwaway server's socket path stays under 108 bytes (pytest's tmp_path is too long)."""
    made: list[Path] = []

    def make() -> Path:
        made.append(Path(tempfile.mkdtemp(prefix="drill-")))
        return made[-1]

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def backed_up(mariadb_factory, tmp_path):
    source = mariadb_factory()
    source.execute(GRANTS)
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    backup = run_cli(["backup"], {**env, **source.agent_env()})
    assert backup.returncode == 0, backup.stderr
    return source, env


def test_routine_grants_and_role_admins_survive_a_re_restore(backed_up, mariadb_factory):
    source, env = backed_up
    target = mariadb_factory()
    expected = grants(source)
    assert "EXECUTE ON PROCEDURE" in str(expected["reader"]) and "root\tlocalhost\treader\tY" in str(expected["roles_mapping"])

    first = run_cli(["restore", "--latest"], {**env, **target.agent_env()})
    after_first = grants(target)
    again = run_cli(["restore", "--latest", "--yes"], {**env, **target.agent_env()})

    assert first.returncode == 0, first.stderr
    assert after_first == expected
    assert again.returncode == 0, again.stderr
    assert grants(target) == expected


def test_the_drill_fails_when_a_restore_loses_routine_grants(backed_up, short_dir, monkeypatch):
    _source, env = backed_up
    storage = open_storage(env["BACKUP_URL"])
    manifest = select_backup(scan_backups(storage, prefix=PREFIX), latest=True).manifest
    assert manifest is not None
    run_drill(storage, manifest, run_dir=short_dir())  # a faithful restore passes

    # A restore path that loses the grants on routines (as the re-restore did): the drill must say so.
    give = backup_drill.give_grants
    monkeypatch.setattr(backup_drill, "give_grants",
                        lambda defaults, grants: give(defaults, [g for g in grants if " ON PROCEDURE " not in g
                                                                 and " ON FUNCTION " not in g]))
    with pytest.raises(DrillFailedError) as failed:
        run_drill(storage, manifest, run_dir=short_dir())

    assert "grant missing after restore: GRANT EXECUTE ON FUNCTION `app`.`f` TO `app`@`%`" in str(failed.value)
