"""A row larger than the target's default max_allowed_packet (16 MiB) still restores (issue 15, 8)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from tests.support.agent_runs import env_for
from tests.support.cli import run_cli

BIG = 20_000_000  # bytes: above the 16 MiB default of a fresh target, below the source's 64 MiB


def test_a_row_above_the_targets_packet_limit_restores_and_the_limit_is_put_back(mariadb_factory, tmp_path):
    source, target = mariadb_factory(), mariadb_factory()
    source.execute("SET GLOBAL max_allowed_packet = 67108864")
    source.execute(f"CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY, b LONGBLOB); "
                   f"INSERT INTO big.t VALUES (1, REPEAT('x', {BIG}))")
    spool = Path(tempfile.mkdtemp(prefix="pkt-", dir="/tmp"))
    (tmp_path / "bucket").mkdir()
    env = env_for(source, tmp_path / "bucket", spool)
    try:
        backup = run_cli(["backup", "--json"], env)
        restored = run_cli(["restore", "--latest"], {**env, **target.agent_env()})
    finally:
        shutil.rmtree(spool, ignore_errors=True)

    assert backup.returncode == 0, backup.stderr
    manifest = json.loads(next((tmp_path / "bucket").rglob("manifest.json")).read_text())
    assert manifest["source"]["max_allowed_packet"] == 67108864
    assert any("rows may be up to 67108864 bytes" in w for w in manifest["warnings"])
    assert restored.returncode == 0, restored.stderr
    assert target.execute("SELECT LENGTH(b) FROM big.t").strip() == str(BIG)
    assert target.execute("SELECT @@global.max_allowed_packet").strip() == str(16 << 20)
