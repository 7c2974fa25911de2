"""Backups come back: the CLI as a user runs it, real mariadbd servers, every storage backend.

backup (``python -m agent backup``) → list → verify → restore into a second, fresh server, then the
same checks a DBA would make: ``CHECKSUM TABLE`` of every table and the views, routines, triggers and
events. Also ``--at``, ``--database``, the refusal to overwrite, and a corrupted bucket object.
"""

from __future__ import annotations

import json

import pytest

from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer, schema_objects, table_checksums

PREFIX = "restore-tests/db/mariadb-ha"


def bucket_env(backend, tmp_path) -> dict[str, str]:
    (tmp_path / "spool").mkdir(exist_ok=True)
    return {**backend.agent_env(PREFIX), "BACKUP_TMPDIR": str(tmp_path / "spool")}


def take_backup(server: TestServer, env: dict[str, str], *, fmt: str = "tar.gz") -> dict:
    done = run_cli(["backup", "--json", "--format", fmt], {**env, **server.agent_env()})
    assert done.returncode == 0, done.stderr
    summary: dict = json.loads(done.stdout)
    return summary


def user_databases(server: TestServer) -> list[str]:
    return server.execute(
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN "
        "('mysql','information_schema','performance_schema','sys') ORDER BY 1").split()


def flip_one_byte(storage, key: str) -> None:
    import io

    with storage.open_read(key) as stream:
        data = bytearray(stream.read())
    data[len(data) // 2] ^= 0x01
    storage.put(key, io.BytesIO(bytes(data)))


def test_round_trip_restores_identical_data(storage_backend, sample_server, mariadb_factory, tmp_path):
    env = bucket_env(storage_backend, tmp_path)
    summary = take_backup(sample_server, env)

    listed = run_cli(["list", "--json"], env)
    verified = run_cli(["verify", "--latest"], env)
    target = mariadb_factory()
    restored = run_cli(["restore", "--latest", "--json"], {**env, **target.agent_env()})

    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert (entry["id"], entry["sha1"], entry["state"]) == (summary["backup_id"], summary["sha1"], "complete")
    assert verified.returncode == 0, verified.stderr
    assert f"backup {summary['backup_id']} OK: SHA1 {summary['sha1']}" in verified.stdout
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["sha1"] == summary["sha1"]
    assert table_checksums(target) == table_checksums(sample_server)
    assert schema_objects(target) == schema_objects(sample_server)
    assert target.password not in restored.stdout + restored.stderr
    assert list((tmp_path / "spool").iterdir()) == []  # the private run dirs are gone


@pytest.mark.parametrize("fmt", ["sql.gz", "sql.zst"])
def test_streaming_formats_round_trip(fmt, sample_server, mariadb_factory, tmp_path):
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    take_backup(sample_server, env, fmt=fmt)
    target = mariadb_factory()

    restored = run_cli(["restore", "--latest"], {**env, **target.agent_env()})

    assert restored.returncode == 0, restored.stderr
    assert table_checksums(target) == table_checksums(sample_server)
    assert schema_objects(target) == schema_objects(sample_server)


def test_at_restores_the_newest_backup_at_or_before_the_time(sample_server, mariadb_factory, tmp_path,
                                                             skipping_id_clock):
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    ids, states = [], []
    for n in range(3):  # one after another: a run whose id-second is taken moves on to the next
        sample_server.execute(f"INSERT INTO shop.customers (name) VALUES ('generation {n}')")
        ids.append(take_backup(sample_server, env)["backup_id"])
        states.append(table_checksums(sample_server))
    assert ids == sorted(set(ids))
    second = ids[1]
    at = f"{second[:4]}-{second[4:6]}-{second[6:8]}T{second[9:11]}:{second[11:13]}:{second[13:15]}Z"
    target = mariadb_factory()

    restored = run_cli(["restore", "--at", at, "--json"], {**env, **target.agent_env()})
    too_early = run_cli(["restore", "--at", "2000-01-01", "--yes"], {**env, **target.agent_env()})

    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["backup_id"] == second
    assert table_checksums(target) == states[1] != states[2]
    assert too_early.returncode == 2
    assert too_early.stderr.strip() == (f"mariadb-ha-backup: error: no complete backup at or before "
                                        f"20000101T000000Z; the oldest is {ids[0]}")


def test_one_database_restore_and_the_refusal_to_overwrite(sample_server, mariadb_factory, tmp_path):
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    take_backup(sample_server, env)
    target = mariadb_factory()
    target.execute("CREATE DATABASE crm; CREATE TABLE crm.kept (id INT PRIMARY KEY); INSERT INTO crm.kept VALUES (7)")
    target_env = {**env, **target.agent_env()}

    shop_only = run_cli(["restore", "--latest", "--database", "shop"], target_env)
    again = run_cli(["restore", "--latest", "--database", "shop"], target_env)
    everything = run_cli(["restore", "--latest"], target_env)
    unknown = run_cli(["restore", "--latest", "--database", "nope"], target_env)

    assert shop_only.returncode == 0, shop_only.stderr
    assert user_databases(target) == ["crm", "shop"]
    source, restored = table_checksums(sample_server), table_checksums(target)
    assert {k: v for k, v in restored.items() if k.startswith("shop.")} == \
        {k: v for k, v in source.items() if k.startswith("shop.")}
    assert target.execute("SELECT id FROM crm.kept").split() == ["7"]  # the other database is untouched
    assert [r for r in schema_objects(target)["routines"] if r.startswith("shop.")] == \
        [r for r in schema_objects(sample_server)["routines"] if r.startswith("shop.")]
    for refused in (again, everything):
        assert refused.returncode == 2
        assert "already has database(s)" in refused.stderr and "MARIADB_HA_RESTORE_YES=1" in refused.stderr
    assert "database(s) crm, shop that" in everything.stderr
    assert unknown.returncode == 2 and "has no database 'nope' (it has: audit-log, crm, shop)" in unknown.stderr

    confirmed = run_cli(["restore", "--latest"], {**target_env, "MARIADB_HA_RESTORE_YES": "1"})

    assert confirmed.returncode == 0, confirmed.stderr
    assert table_checksums(target) == {**table_checksums(sample_server), "crm.kept": restored["crm.kept"]}


def test_flipped_byte_in_the_bucket_fails_verify_and_restore_changes_nothing(
        storage_backend, sample_server, mariadb_factory, tmp_path):
    env = bucket_env(storage_backend, tmp_path)
    summary = take_backup(sample_server, env)
    flip_one_byte(storage_backend.storage, summary["artifact_key"])
    target = mariadb_factory()
    target.execute("CREATE DATABASE keep; CREATE TABLE keep.t (id INT PRIMARY KEY); INSERT INTO keep.t VALUES (1)")
    before = table_checksums(target)

    verified = run_cli(["verify", summary["backup_id"]], env)
    restored = run_cli(["restore", "--latest", "--yes"], {**env, **target.agent_env()})

    assert verified.returncode == 1
    assert "FAILED verification" in verified.stdout
    assert "SHA1 of mariadb-ha-backup.tar.gz is" in verified.stdout and f"the manifest says {summary['sha1']}" in verified.stdout
    assert restored.returncode == 1
    assert "failed verification" in restored.stderr and "the .sha1 sidecar says" in restored.stderr
    assert user_databases(target) == ["keep"]
    assert table_checksums(target) == before
