"""The password never appears on any process's argv, in a child's environment, in a log line, in
the manifest, and the defaults file is 0600 inside a 0700 dir that is gone after the run."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.support.agent_runs import dump_children, env_for, hold_table_lock, wait_for
from tests.support.cli import run_cli, start_cli


def all_cmdlines() -> list[bytes]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                found.append((proc / "cmdline").read_bytes())
            except OSError:
                continue
    return found


def test_password_stays_secret_during_a_backup(sample_server, tmp_path):
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    secret = sample_server.password.encode()
    holder = hold_table_lock(sample_server, "shop.products")  # keeps the dump running while we look
    try:
        agent = start_cli(["-v", "backup"], env_for(sample_server, bucket, tmp))
        wait_for(lambda: dump_children(agent.pid))
        child = dump_children(agent.pid)[0]
        cmdlines = all_cmdlines()
        child_environ = Path(f"/proc/{child}/environ").read_bytes()
        (run_dir,) = tmp.iterdir()
        defaults = run_dir / "client.cnf"
        modes = (stat.S_IMODE(run_dir.stat().st_mode), stat.S_IMODE(defaults.stat().st_mode))
        child_cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
    finally:
        holder.kill()
        holder.wait()
    stdout, stderr = agent.communicate(timeout=120)

    assert agent.returncode == 0, stderr
    assert cmdlines and not [c for c in cmdlines if secret in c]
    assert secret not in child_environ
    assert b"MARIADB_PASSWORD" not in child_environ
    assert child_cmdline[1] == f"--defaults-extra-file={defaults}".encode()
    assert modes == (0o700, 0o600)
    assert sample_server.password not in stdout + stderr
    assert '"level": "debug"' in stderr  # verbose logs were on, and still nothing leaked
    manifests = list(bucket.rglob("manifest.json"))
    assert len(manifests) == 1 and secret not in manifests[0].read_bytes()
    assert not run_dir.exists()


def test_password_file_is_used_and_not_echoed(mariadb_server, tmp_path):
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    secret_file = tmp_path / "pw"
    secret_file.write_text(mariadb_server.password + "\n")
    env = env_for(mariadb_server, bucket, tmp, MARIADB_PASSWORD_FILE=str(secret_file))
    del env["MARIADB_PASSWORD"]
    done = run_cli(["backup"], env)
    assert done.returncode == 0, done.stderr
    assert mariadb_server.password not in done.stdout + done.stderr
