"""Physical backups end to end: the real CLI, real mariadbd, real mariadb-backup and mbstream.

What a DBA checks: a full and an incremental backup restored with ``restore --datadir`` give a data
directory on which mariadbd starts with every table equal to the source (CHECKSUM TABLE) and every
view, routine, trigger and event in place, plain and age-encrypted; the manifest records the chain
(parent, LSNs) and the binlog GTID; a chain with a missing link is refused by verify and restore with
nothing written; ``verify --restore-test`` starts a server on the prepared copy; SIGTERM mid-copy
leaves no manifest and no temp files; logical-only options are refused with one line.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.agent_runs import wait_for
from tests.support.cli import run_cli, start_cli
from tests.support.mariadb_server import BINLOG_SERVER_ARGS, TestServer, schema_objects, table_checksums
from tests.support.physical import PREFIX, keygen, manifest_of, physical_backup, physical_env, server_on


def change_some_rows(server: TestServer) -> None:
    server.execute("UPDATE shop.customers SET email = CONCAT('changed-', email) WHERE id % 7 = 0;"
                   "INSERT INTO `audit-log`.plain_myisam VALUES (9001, 'after'), (9002, 'full');"
                   "CREATE TABLE crm.added_after_full (id INT PRIMARY KEY) ENGINE=InnoDB; USE crm;"
                   "INSERT INTO crm.added_after_full SELECT seq FROM seq_1_to_500;")


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "age"])
def test_full_and_incremental_restore_equal_to_the_source(encrypted, mariadb_factory, tmp_path):
    source = mariadb_factory(sample=True, extra_args=BINLOG_SERVER_ARGS)
    env = physical_env(source, tmp_path)
    if encrypted:
        env["BACKUP_ENCRYPT_RECIPIENTS"] = keygen(tmp_path / "key.txt")
    full = physical_backup(env)
    change_some_rows(source)
    incremental = physical_backup(env, "--incremental")
    read_env = {**env, "BACKUP_DECRYPT_IDENTITY_FILE": str(tmp_path / "key.txt")} if encrypted else env

    listed = run_cli(["list", "--json"], env)
    verified = run_cli(["verify", incremental["backup_id"]], read_env)
    restored = run_cli(["restore", "--latest", "--datadir", str(tmp_path / "datadir"), "--json"], read_env)

    first, second = manifest_of(tmp_path, full["backup_id"]), manifest_of(tmp_path, incremental["backup_id"])
    assert (first["method"], first["physical"]["kind"], first["physical"]["parent"]) == ("physical", "full", None)
    assert second["physical"]["kind"] == "incremental"
    assert second["physical"]["parent"] == second["physical"]["base"] == full["backup_id"]
    assert second["physical"]["from_lsn"] == first["physical"]["to_lsn"]
    assert second["binlog"]["gtid_state"] == source.execute("SELECT @@gtid_binlog_pos").strip()
    assert second["artifact"]["name"] == "mariadb-ha-backup.mbstream.zst" + (".age" if encrypted else "")
    assert [e["method"] for e in json.loads(listed.stdout)] == ["physical", "physical"]
    assert verified.returncode == 0, verified.stderr
    assert f"chain {full['backup_id']} -> {incremental['backup_id']}: unbroken" in verified.stdout
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["chain"] == [full["backup_id"], incremental["backup_id"]]
    with server_on(tmp_path / "datadir") as copy:
        assert table_checksums(copy) == table_checksums(source)
        assert schema_objects(copy) == schema_objects(source)
    assert list((tmp_path / "spool").iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".datadir")] == []  # no staging left


def test_missing_middle_link_is_refused_by_verify_and_restore(mariadb_factory, tmp_path):
    source = mariadb_factory(sample=True)
    env = physical_env(source, tmp_path)
    physical_backup(env)
    middle = physical_backup(env, "--incremental")
    change_some_rows(source)
    last = physical_backup(env, "--incremental")
    shutil.rmtree(tmp_path / "bucket" / PREFIX / middle["backup_id"])

    verified = run_cli(["verify", last["backup_id"]], env)
    restored = run_cli(["restore", last["backup_id"], "--datadir", str(tmp_path / "datadir")], env)

    assert verified.returncode == 1
    assert f"needs backup {middle['backup_id']}, which is missing" in verified.stderr
    assert restored.returncode == 2
    assert restored.stderr.count("\n") == 1 and f"needs backup {middle['backup_id']}" in restored.stderr
    assert not (tmp_path / "datadir").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bucket", "spool"]


def test_restore_test_starts_a_server_on_the_prepared_chain(mariadb_factory, tmp_path):
    source = mariadb_factory(sample=True)
    env = physical_env(source, tmp_path)
    physical_backup(env)
    change_some_rows(source)
    physical_backup(env, "--incremental")

    done = run_cli(["verify", "--latest", "--restore-test", "--json"], env)

    assert done.returncode == 0, done.stderr
    drill = json.loads(done.stdout)["restore_test"]
    source_tables = source.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                                   "AND table_schema IN ('shop', 'crm', 'audit-log')")
    assert drill["checked"]["tables"] == drill["checked"]["tables checked (CHECK TABLE)"] == int(source_tables)
    assert list((tmp_path / "spool").iterdir()) == []


def test_restore_test_fails_when_a_table_is_gone(mariadb_factory, tmp_path):
    source = mariadb_factory(sample=True)
    env = physical_env(source, tmp_path)
    backup = physical_backup(env)
    manifest_path = tmp_path / "bucket" / PREFIX / backup["backup_id"] / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["inventory"]["tables"].append("shop.never_existed")
    manifest_path.write_text(json.dumps(manifest))

    done = run_cli(["verify", "--latest", "--restore-test"], env)

    assert done.returncode == 1
    assert "tables missing after restore: shop.never_existed" in done.stderr


def terminated_mid_copy(source: TestServer, env: dict[str, str], *args: str) -> int:
    """Start ``backup``, hold mariadb-backup mid-run on its backup locks (a session holds a table lock),
    SIGTERM the agent; its exit code."""
    holder = subprocess.Popen(source.client_argv(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert holder.stdin is not None
    holder.stdin.write(b"LOCK TABLES `audit-log`.plain_myisam WRITE; SELECT SLEEP(60);\n")
    holder.stdin.flush()
    agent = start_cli(["backup", *args], env)
    try:
        wait_for(lambda: _children(agent.pid, "mariadb-backup"), timeout=30)
        time.sleep(1.0)
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=60)
    finally:
        holder.kill()
    assert _children(agent.pid, "mariadb-backup") == []
    return agent.returncode


def test_sigterm_mid_copy_leaves_no_manifest_and_no_temp_files(mariadb_factory, tmp_path):
    source = mariadb_factory(sample=True)
    env = physical_env(source, tmp_path)

    code = terminated_mid_copy(source, env)

    stored = [p for p in (tmp_path / "bucket").rglob("*") if p.is_file()]
    assert code != 0
    assert stored == []  # no manifest, no artifact, no claim marker
    assert list((tmp_path / "spool").iterdir()) == []


def test_a_failed_incremental_leaves_the_chain_as_it_was(mariadb_factory, tmp_path):
    source = mariadb_factory(sample=True)
    env = physical_env(source, tmp_path)
    full = physical_backup(env)
    change_some_rows(source)

    assert terminated_mid_copy(source, env, "--incremental") != 0
    after = physical_backup(env, "--incremental")
    restored = run_cli(["restore", "--latest", "--datadir", str(tmp_path / "datadir")], env)

    folders = sorted(p.name for p in (tmp_path / "bucket" / PREFIX).iterdir())
    assert folders == [full["backup_id"], after["backup_id"]]  # nothing left of the terminated run
    assert manifest_of(tmp_path, after["backup_id"])["physical"]["parent"] == full["backup_id"]
    assert restored.returncode == 0, restored.stderr
    with server_on(tmp_path / "datadir") as copy:
        assert table_checksums(copy) == table_checksums(source)


def _children(pid: int, name: str) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid), "-f", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.parametrize("extra", [["--database", "shop"], ["--parallel", "2"]], ids=["database", "parallel"])
def test_logical_only_options_are_one_line_exit_2(extra, mariadb_factory, tmp_path):
    source = mariadb_factory()
    env = physical_env(source, tmp_path)
    physical_backup(env)

    done = run_cli(["restore", "--latest", "--datadir", str(tmp_path / "datadir"), *extra], env)
    into_server = run_cli(["restore", "--latest", *extra], env)

    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert f"{extra[0]} applies to logical backups" in done.stderr
    assert into_server.returncode == 2 and "is a physical backup: restore it with --datadir" in into_server.stderr
    assert not (tmp_path / "datadir").exists()


def test_datadir_that_holds_files_is_refused(mariadb_factory, tmp_path):
    source = mariadb_factory()
    env = physical_env(source, tmp_path)
    physical_backup(env)
    target = tmp_path / "datadir"
    target.mkdir()
    (target / "precious").write_text("keep me")

    done = run_cli(["restore", "--latest", "--datadir", str(target)], env)

    assert done.returncode == 2 and "is not empty" in done.stderr
    assert [p.name for p in target.iterdir()] == ["precious"]


def test_incremental_without_a_full_is_exit_2(mariadb_factory, tmp_path):
    env = physical_env(mariadb_factory(), tmp_path)

    done = run_cli(["backup", "--incremental"], env)

    assert done.returncode == 2 and "no physical backup to build on" in done.stderr
    assert list(Path(tmp_path / "bucket").rglob("manifest.json")) == []


def test_restore_until_from_a_physical_base_equals_the_source_at_that_second(mariadb_factory, tmp_path):
    from tests.support.agent_runs import env_for
    from tests.support.pitr import PREFIX as PITR_PREFIX
    from tests.support.pitr import history_around_a_second, markers

    source = mariadb_factory(extra_args=BINLOG_SERVER_ARGS)
    (tmp_path / "bucket").mkdir()
    (tmp_path / "spool").mkdir()
    env = env_for(source, tmp_path / "bucket", tmp_path / "spool", BACKUP_PREFIX=PITR_PREFIX, BACKUP_METHOD="physical")
    manifest, target_second, expected, gtid_at_target = history_around_a_second(source, env, tmp_path / "bucket")

    done = run_cli(["restore", "--until", target_second.isoformat(), "--datadir", str(tmp_path / "datadir"),
                    "--json"], env)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert manifest.method == "physical"
    assert (result["backup_id"], result["start_state"]) == (manifest.id, manifest.binlog.gtid_state)  # type: ignore[union-attr]
    assert result["end_state"] == result["last_gtid"] == gtid_at_target
    with server_on(tmp_path / "datadir") as copy:
        assert table_checksums(copy) == expected
        assert markers(copy) == ["at"]
