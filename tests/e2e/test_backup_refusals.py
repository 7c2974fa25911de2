"""Schema features mariadb-dump refuses never fail the backup: the rest is dumped and the loss is said.

Real servers: a database with transaction-precise history (ROW START/END as BIGINT UNSIGNED) beside
timestamp history and plain tables, and one with a view whose table was dropped. ``backup`` exits 0,
the output and the manifest's warnings name what was lost, and a restore brings back everything else.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer, table_checksums

PREFIX = "refusals/db/mariadb-ha"
PRECISE = """CREATE DATABASE hist; USE hist;
CREATE TABLE precise (id INT PRIMARY KEY, x INT,
  trx_start BIGINT UNSIGNED GENERATED ALWAYS AS ROW START INVISIBLE,
  trx_end BIGINT UNSIGNED GENERATED ALWAYS AS ROW END INVISIBLE,
  PERIOD FOR SYSTEM_TIME(trx_start, trx_end)) ENGINE=InnoDB WITH SYSTEM VERSIONING;
INSERT INTO precise (id, x) VALUES (1, 1), (2, 2); UPDATE precise SET x = 3 WHERE id = 1;
CREATE TABLE stamped (id INT PRIMARY KEY, x INT) WITH SYSTEM VERSIONING;
INSERT INTO stamped VALUES (1, 1); UPDATE stamped SET x = 2;
CREATE TABLE plain (id INT PRIMARY KEY); INSERT INTO plain VALUES (1), (2);"""
BROKEN_VIEW = """CREATE DATABASE shop; USE shop;
CREATE TABLE orders (id INT PRIMARY KEY); INSERT INTO orders VALUES (7);
CREATE TABLE gone (id INT PRIMARY KEY); CREATE VIEW stale AS SELECT id FROM gone; DROP TABLE gone;
CREATE VIEW fine AS SELECT id FROM orders;"""


def backup_and_restore(source: TestServer, target: TestServer, tmp_path: Path) -> tuple[dict, dict]:
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    backup = run_cli(["backup", "--json"], {**env, **source.agent_env()})
    assert backup.returncode == 0, backup.stderr
    restored = run_cli(["restore", "--latest"], {**env, **target.agent_env()})
    assert restored.returncode == 0, restored.stderr
    [manifest_path] = (tmp_path / "bucket").rglob("manifest.json")
    return json.loads(backup.stdout), json.loads(manifest_path.read_text())


def test_transaction_precise_history_keeps_the_backup_and_its_current_rows(mariadb_factory, tmp_path):
    source, target = mariadb_factory(), mariadb_factory()
    source.execute(PRECISE)

    summary, manifest = backup_and_restore(source, target, tmp_path)

    [warning] = [w for w in summary["warnings"] if "transaction-precise" in w]
    assert "hist.precise" in warning and "only their current rows" in warning
    assert warning in manifest["warnings"]
    assert manifest["evidence"]["history_dumped"] is False
    assert table_checksums(target) == table_checksums(source)  # current rows of every table
    assert target.execute("SELECT id, x FROM hist.precise ORDER BY id").split() == ["1", "3", "2", "2"]
    precise_columns = "SELECT data_type FROM information_schema.columns WHERE table_name = 'precise' AND column_name = 'trx_start'"
    assert target.execute(precise_columns).strip() == "bigint"  # the table itself comes back as it was defined


def test_an_invalid_view_is_left_out_and_named(mariadb_factory, tmp_path):
    source, target = mariadb_factory(), mariadb_factory()
    source.execute(BROKEN_VIEW)

    summary, manifest = backup_and_restore(source, target, tmp_path)

    [warning] = [w for w in summary["warnings"] if "invalid views" in w]
    assert warning.endswith(": shop.stale") and warning in manifest["warnings"]
    assert manifest["inventory"]["views"] == ["shop.fine"]
    assert target.execute("SELECT * FROM shop.fine").strip() == "7"
    assert target.execute("SELECT COUNT(*) FROM information_schema.views WHERE table_name = 'stale'").strip() == "0"


def test_a_table_whose_engine_is_not_loaded_is_left_out_and_named(mariadb_factory, tmp_path):
    source, target = mariadb_factory(), mariadb_factory()
    source.execute("INSTALL SONAME 'ha_blackhole'; CREATE DATABASE shop; USE shop; "
                   "CREATE TABLE sink (id INT) ENGINE=BLACKHOLE; CREATE TABLE orders (id INT PRIMARY KEY); "
                   "INSERT INTO orders VALUES (7); UNINSTALL SONAME 'ha_blackhole'")

    summary, manifest = backup_and_restore(source, target, tmp_path)

    [warning] = [w for w in summary["warnings"] if "cannot open" in w]
    assert "shop.sink (Unknown storage engine 'BLACKHOLE')" in warning and warning in manifest["warnings"]
    assert "shop.sink" not in manifest["inventory"]["tables"] and "shop.orders" in manifest["inventory"]["tables"]
    assert target.execute("SELECT * FROM shop.orders").strip() == "7"
