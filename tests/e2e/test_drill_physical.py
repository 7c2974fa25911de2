"""``drill`` of physical backups: here (no DRILL_SERVER) the chain is prepared and a server started on it,
and the verdict recorded like a dump's; with a given server (the drill Job) a newer physical backup is
passed over for the newest dump instead of failing every week."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.physical import PREFIX, physical_backup, physical_env

pytestmark = pytest.mark.slow


def test_physical_backup_drilled_here_is_recorded(mariadb_factory, tmp_path):
    source = mariadb_factory(sample=True)
    env = physical_env(source, tmp_path)
    summary = physical_backup(env)

    done = run_cli(["drill", "--json"], {k: v for k, v in env.items() if k != "BACKUP_TMPDIR"})

    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert (record["backup_id"], record["passed"], record["kind"]) == (summary["backup_id"], True, "backup")
    assert record["checked"]["tables checked (CHECK TABLE)"] >= 7 and record["restore_seconds"] > 0
    stored = json.loads(Path(tmp_path, "bucket", PREFIX, summary["backup_id"], "drill.json").read_text())
    assert stored == record


def test_the_drill_job_passes_over_a_newer_physical_backup_for_the_newest_dump(
        mariadb_factory, empty_drill_server, tmp_path):
    source = mariadb_factory(sample=True)
    env = physical_env(source, tmp_path)
    logical = run_cli(["backup", "--json"], {k: v for k, v in env.items() if k != "BACKUP_METHOD"})
    assert logical.returncode == 0, logical.stderr
    physical = physical_backup(env)

    done = run_cli(["drill", "--json"], {**env, "DRILL_SERVER": empty_drill_server.address})

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["backup_id"] == json.loads(logical.stdout)["backup_id"]
    assert not list(Path(tmp_path, "bucket", PREFIX, physical["backup_id"]).glob("drill*.json"))
    named = run_cli(["drill", physical["backup_id"]], {**env, "DRILL_SERVER": empty_drill_server.address})
    assert named.returncode == 1
    assert "is physical: its drill starts a server on the prepared copy here" in named.stderr.splitlines()[-1]
