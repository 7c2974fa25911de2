"""``prune`` and ``list`` through the CLI on every storage backend (backups written with the contract's
layout through the Storage interface, so seven of them take no seven dumps)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.support.backups import store_backup
from tests.support.cli import run_cli

PREFIX = "prune-tests/db/mariadb-ha"
NOW = datetime.now(UTC).replace(microsecond=0)


def listed(env: dict[str, str], *flags: str) -> list[dict]:
    done = run_cli(["list", "--json", *flags], env)
    assert done.returncode == 0, done.stderr
    entries: list[dict] = json.loads(done.stdout)
    return entries


def test_keep_last_three_of_seven_deletes_exactly_the_oldest_four(storage_backend, tmp_path):
    env = storage_backend.agent_env(PREFIX)
    made = [store_backup(storage_backend.storage, prefix=PREFIX, started=NOW - timedelta(days=n), tmp=tmp_path).backup_id
            for n in range(7)]

    dry = run_cli(["prune", "--keep-last", "3", "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    assert [e["id"] for e in listed(env)] == made  # a dry run deletes nothing
    done = run_cli(["prune", "--keep-last", "3", "--json"], env)

    assert done.returncode == 0, done.stderr
    assert sorted(r["backup_id"] for r in json.loads(done.stdout)) == sorted(made[3:])
    assert dry.stdout.count("would delete") == 4
    assert [e["id"] for e in listed(env, "--all")] == made[:3]
    assert sorted(o.key for o in storage_backend.storage.list(PREFIX + "/")) == sorted(
        f"{PREFIX}/{i}/{name}" for i in made[:3]
        for name in ("manifest.json", "mariadb-ha-backup.tar.gz", "mariadb-ha-backup.tar.gz.sha1"))


def test_one_backup_is_never_pruned(storage_backend, tmp_path):
    env = storage_backend.agent_env(PREFIX)
    only = store_backup(storage_backend.storage, prefix=PREFIX, started=NOW - timedelta(days=90), tmp=tmp_path)

    done = run_cli(["prune", "--keep-last", "1", "--max-age", "7"], env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "nothing to delete"
    assert [e["id"] for e in listed(env)] == [only.backup_id]


def test_list_marks_incomplete_leftovers_only_with_all(storage_backend, tmp_path):
    env = storage_backend.agent_env(PREFIX)
    done = store_backup(storage_backend.storage, prefix=PREFIX, started=NOW - timedelta(hours=2), tmp=tmp_path)
    leftover = store_backup(storage_backend.storage, prefix=PREFIX, started=NOW - timedelta(hours=1), tmp=tmp_path,
                            manifest=False)

    assert [e["id"] for e in listed(env)] == [done.backup_id]
    assert [(e["id"], e["state"]) for e in listed(env, "--all")] == [(leftover.backup_id, "incomplete"),
                                                                     (done.backup_id, "complete")]
    text = run_cli(["list", "--all"], env)
    assert text.returncode == 0
    assert f"{leftover.backup_id}  INCOMPLETE" in text.stdout


def test_bad_policy_values_are_exit_2(tmp_path):
    env = {"BACKUP_URL": f"file://{tmp_path}", "BACKUP_PREFIX": PREFIX}
    for flags, message in ((["--keep-last", "0"], "BACKUP_KEEP_LAST must be between 1 and 100000, not 0"),
                           (["--max-age", "soon"], "BACKUP_MAX_AGE_DAYS must be a number, not 'soon'")):
        done = run_cli(["prune", *flags], env)
        assert done.returncode == 2
        assert done.stderr == f"mariadb-ha-backup: error: {message}\n"
