"""``verify --restore-test``: a good backup passes and says what it checked; a tampered one fails and
names the difference, whether the tampering breaks the SHA1 or keeps it consistent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.restore.selection import Selection
from agent.verify.unpacking import open_dump
from shared.manifest import Manifest
from shared.storage import open_storage
from tests.e2e.test_restore_roundtrip import PREFIX, flip_one_byte, take_backup
from tests.support.backups import repack_backup, store_backup
from tests.support.cli import run_cli


@pytest.fixture
def backed_up(sample_server, tmp_path):
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    return env, take_backup(sample_server, env)


def test_drill_on_a_good_backup_passes_and_reports_what_it_checked(backed_up):
    env, summary = backed_up

    done = run_cli(["verify", "--latest", "--restore-test", "--json"], env)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and result["problems"] == []
    drill = result["restore_test"]
    manifest = json.loads(Path(env["BACKUP_URL"][7:], summary["manifest_key"]).read_text())
    assert drill["checked"] == {
        **{kind: len(manifest["inventory"][kind])
           for kind in ("databases", "tables", "views", "routines", "triggers", "events", "sequences")},
        "row counts": len(manifest["evidence"]["rows"]),
    }
    assert drill["checked"]["events"] >= 1 and drill["checked"]["triggers"] >= 1
    assert drill["loaded_bytes"] == summary["raw_bytes"]


def test_drill_human_output(backed_up):
    env, _ = backed_up

    done = run_cli(["verify", "--restore-test"], env)

    assert done.returncode == 0, done.stderr
    assert "restore test passed" in done.stdout and "3 databases, 7 tables, 2 views" in done.stdout


def test_drill_on_a_flipped_byte_fails_naming_the_sha1(backed_up):
    env, summary = backed_up
    flip_one_byte(open_storage(env["BACKUP_URL"]), summary["artifact_key"])

    done = run_cli(["verify", "--latest", "--restore-test"], env)

    assert done.returncode == 1
    assert f"the manifest says {summary['sha1']}" in done.stdout
    assert "restore test passed" not in done.stdout


def test_drill_on_a_consistently_repacked_archive_names_the_missing_objects(backed_up, tmp_path):
    """Someone replaced the archive with one that lacks two databases and updated every checksum:
    only restoring it shows that it is not the backup the manifest describes."""
    env, summary = backed_up
    storage = open_storage(env["BACKUP_URL"])
    with storage.open_read(summary["manifest_key"]) as stream:
        manifest = Manifest.from_json(stream.read(), key=summary["manifest_key"])
    with open_dump(storage, manifest) as dump:
        shop_only = b"".join(Selection("shop").chunks(dump))
    repack_backup(storage, summary, shop_only)

    plain = run_cli(["verify", "--latest"], env)
    drill = run_cli(["verify", "--latest", "--restore-test"], env)

    assert plain.returncode == 0, plain.stderr  # the checksums alone cannot tell
    assert drill.returncode == 1
    assert "databases missing after restore: audit-log, crm" in drill.stderr
    assert "tables missing after restore: audit-log." in drill.stderr


def test_drill_without_server_binaries_is_exit_2_with_a_clear_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "bucket").mkdir()
    storage = open_storage(f"file://{tmp_path / 'bucket'}")
    from datetime import UTC, datetime

    store_backup(storage, prefix=PREFIX, started=datetime(2024, 5, 1, tzinfo=UTC), tmp=tmp_path,
                 sql=b"CREATE DATABASE shop;\n")
    monkeypatch.setenv("BACKUP_URL", f"file://{tmp_path / 'bucket'}")
    monkeypatch.setenv("BACKUP_PREFIX", PREFIX)
    monkeypatch.setattr("agent.drill.throwaway_server.shutil.which", lambda *args, **kwargs: None)

    code = main(["verify", "--restore-test"])

    assert code == 2
    assert capsys.readouterr().err.strip().endswith(
        "needs mariadbd and mariadb-install-db (Debian: apt-get install mariadb-server)")

