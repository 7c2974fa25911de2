"""With encryption on, accounts.sql (password hashes) is stored age-encrypted and restores with the identity."""

from __future__ import annotations

import subprocess

from tests.support.agent_runs import env_for
from tests.support.cli import run_cli
from tests.support.hostile import load_hostile


def test_accounts_are_stored_encrypted_and_come_back_with_the_identity(mariadb_factory, tmp_path):
    source, target = mariadb_factory(), mariadb_factory()
    load_hostile(source)
    identity = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(identity)], check=True, capture_output=True,
                               text=True).stdout.strip()
    (tmp_path / "bucket").mkdir()
    env = {**env_for(source, tmp_path / "bucket", tmp_path), "BACKUP_ENCRYPT_RECIPIENTS": recipient}

    backup = run_cli(["backup", "--json"], env)
    stored = {p.name: p.read_bytes() for p in (tmp_path / "bucket").rglob("*") if p.is_file()}
    restored = run_cli(["restore", "--latest"], {**env, **target.agent_env(),
                                                 "BACKUP_DECRYPT_IDENTITY_FILE": str(identity)})

    assert backup.returncode == 0, backup.stderr
    assert "accounts.sql" not in stored and stored["accounts.sql.age"].startswith(b"age-encryption.org/v1")
    assert not any(b"IDENTIFIED BY PASSWORD" in data for data in stored.values())
    assert restored.returncode == 0, restored.stderr
    assert target.execute("SELECT COUNT(*) FROM mysql.user WHERE user IN ('app', 'definer', 'app_role')").strip() == "3"
