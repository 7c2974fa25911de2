"""Encrypted backups end to end: the real CLI, real mariadbd servers, every storage backend, and the
reference ``age`` CLI (Debian ``age``) reading what we store.

What a user checks: the stored artifact is ``<name>.age``; ``sha1sum -c`` passes on a download;
``age -d -i key.txt`` of it gives the archive (``tar tzf`` lists the seed's member); any one of several
recipients' identities restores data equal to the source; without an identity or with a wrong one the
restore is refused and the target untouched; the identity never shows on an argv, in a child's
environment, a log line or the manifest.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from shared.layout import BackupKeys
from tests.support.agent_runs import wait_for
from tests.support.cli import run_cli, start_cli
from tests.support.mariadb_server import TestServer, schema_objects, table_checksums

PREFIX = "enc/db"
MEMBER = "mariadb-ha-backup/all-databases-dump.sql"
DECOMPRESS_TEST = {"sql.gz": ["gzip", "-t"], "sql.zst": ["zstd", "-q", "-t"]}


def keygen(path: Path) -> str:
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return subprocess.run(["age-keygen", "-y", str(path)], check=True, capture_output=True, text=True).stdout.strip()


def secret_of(path: Path) -> str:
    return next(line for line in path.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))


def encrypted_backup(server: TestServer, env: dict[str, str], recipients: list[str], fmt: str = "tar.gz",
                     logs: list[str] | None = None) -> BackupKeys:
    done = run_cli(["backup", "--json"], {**env, **server.agent_env(), "BACKUP_FORMAT": fmt,
                                          "BACKUP_ENCRYPT_RECIPIENTS": ",".join(recipients)})
    assert done.returncode == 0, done.stderr
    if logs is not None:
        logs.append(done.stderr)
    summary = json.loads(done.stdout)
    keys = BackupKeys(prefix=PREFIX, backup_id=summary["backup_id"], format=fmt, layers=("age",))
    assert summary["artifact_key"] == keys.artifact
    return keys


def download(storage, keys: BackupKeys, into: Path) -> None:  # type: ignore[no-untyped-def]
    into.mkdir()
    for key in (keys.artifact, keys.sha1, keys.manifest):
        with storage.open_read(key) as src:
            (into / key.rsplit("/", 1)[1]).write_bytes(src.read())


def user_databases(server: TestServer) -> list[str]:
    return server.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN "
                          "('mysql','information_schema','performance_schema','sys','test') ORDER BY 1").split()


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    path = tmp_path / "keys"
    path.mkdir()
    return path


def test_encrypted_backup_round_trips_on_each_backend(storage_backend, sample_server, mariadb_factory, tmp_path,
                                                      keys_dir):
    recipients = [keygen(keys_dir / "ops.txt"), keygen(keys_dir / "escrow.txt")]
    env = storage_backend.agent_env(PREFIX)
    keys = encrypted_backup(sample_server, env, recipients)

    download(storage_backend.storage, keys, tmp_path / "dl")
    sha1sum = subprocess.run(["sha1sum", "-c", f"{keys.artifact_name}.sha1"], cwd=tmp_path / "dl",
                             capture_output=True, text=True)
    plain = subprocess.run(["age", "-d", "-i", str(keys_dir / "escrow.txt"), keys.artifact_name],
                           cwd=tmp_path / "dl", capture_output=True)
    listing = subprocess.run(["tar", "tzf", "-"], input=plain.stdout, capture_output=True)
    manifest_text = (tmp_path / "dl" / "manifest.json").read_text()
    listed = run_cli(["list", "--json"], env)
    unverified = run_cli(["verify", "--latest"], env)
    verified = run_cli(["verify", "--latest"], {**env, "BACKUP_DECRYPT_IDENTITY_FILE": str(keys_dir / "ops.txt")})
    target = mariadb_factory()
    restored = run_cli(["restore", "--latest"], {**env, **target.agent_env(),
                                                 "BACKUP_DECRYPT_IDENTITY_FILE": str(keys_dir / "ops.txt")})

    assert keys.artifact_name == "mariadb-ha-backup.tar.gz.age"
    assert sha1sum.returncode == 0 and sha1sum.stdout.strip() == f"{keys.artifact_name}: OK"
    assert plain.returncode == 0, plain.stderr
    assert listing.stdout.decode().splitlines() == [MEMBER]
    assert json.loads(manifest_text)["encryption"] == {"scheme": "age", "recipients": recipients}
    assert json.loads(manifest_text)["artifact"]["layers"] == ["age"]
    assert "AGE-SECRET-KEY" not in manifest_text
    [entry] = json.loads(listed.stdout)
    assert (entry["layers"], entry["encryption"]["recipients"]) == (["age"], recipients)
    assert unverified.returncode == 0, unverified.stderr
    assert "content NOT checked: the backup is encrypted" in unverified.stdout
    assert verified.returncode == 0, verified.stderr
    assert "archive read to the end" in verified.stdout
    assert restored.returncode == 0, restored.stderr
    assert table_checksums(target) == table_checksums(sample_server)
    assert schema_objects(target) == schema_objects(sample_server)


@pytest.mark.parametrize("fmt", ["sql.gz", "sql.zst"])
def test_streaming_formats_encrypt_and_restore(fmt, sample_server, mariadb_factory, tmp_path, keys_dir):
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    recipient = keygen(keys_dir / "k.txt")
    keys = encrypted_backup(sample_server, env, [recipient], fmt=fmt)
    stored = tmp_path / "bucket" / keys.artifact
    plain = tmp_path / f"plain.{fmt}"
    decrypted = subprocess.run(["age", "-d", "-i", str(keys_dir / "k.txt"), "-o", str(plain), str(stored)])
    target = mariadb_factory()

    restored = run_cli(["restore", "--latest"], {**env, **target.agent_env(),
                                                 "BACKUP_DECRYPT_IDENTITY_FILE": str(keys_dir / "k.txt")})

    assert keys.artifact_name == f"mariadb-ha-backup.{fmt}.age"
    assert decrypted.returncode == 0 and subprocess.run([*DECOMPRESS_TEST[fmt], str(plain)]).returncode == 0
    assert restored.returncode == 0, restored.stderr
    assert table_checksums(target) == table_checksums(sample_server)


def test_missing_identity_is_refused_before_any_download(sample_server, mariadb_server, tmp_path, keys_dir):
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    keys = encrypted_backup(sample_server, env, [keygen(keys_dir / "k.txt")])
    # The artifact is gone: a restore that downloaded anything would fail on that instead.
    (tmp_path / "bucket" / keys.artifact).unlink()

    restored = run_cli(["restore", "--latest"], {**env, **mariadb_server.agent_env()})
    drill = run_cli(["verify", "--latest", "--restore-test"], env)

    for done in (restored, drill):
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line == (f"mariadb-ha-backup: error: backup {keys.backup_id} is encrypted: set "
                        "BACKUP_DECRYPT_IDENTITY_FILE (an age identity file) or BACKUP_DECRYPT_IDENTITY_SECRET "
                        "(a Secret with key 'age-identity')")
    assert user_databases(mariadb_server) == []


@pytest.mark.parametrize("verify_first", [True, False])
def test_wrong_identity_is_refused_and_the_target_untouched(verify_first, sample_server, mariadb_server, tmp_path,
                                                            keys_dir):
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    encrypted_backup(sample_server, env, [keygen(keys_dir / "right.txt")])
    keygen(keys_dir / "wrong.txt")

    args = ["restore", "--latest", *([] if verify_first else ["--no-verify-first"])]
    done = run_cli(args, {**env, **mariadb_server.agent_env(),
                          "BACKUP_DECRYPT_IDENTITY_FILE": str(keys_dir / "wrong.txt")})

    assert done.returncode == 2, done.stderr
    assert "none of the configured identities can decrypt it" in done.stderr
    assert "Traceback" not in done.stderr and secret_of(keys_dir / "wrong.txt") not in done.stderr
    assert user_databases(mariadb_server) == []


def test_identity_stays_secret_during_a_restore(sample_server, mariadb_factory, tmp_path, keys_dir):
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    keys = encrypted_backup(sample_server, env, [keygen(keys_dir / "k.txt")])
    secret = secret_of(keys_dir / "k.txt").encode()
    target = mariadb_factory()
    # A table the dump drops, locked by another session: the restore's client waits there while we look.
    target.execute("CREATE DATABASE shop; CREATE TABLE shop.products (id INT)")
    holder = subprocess.Popen(target.client_argv(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert holder.stdin is not None
    holder.stdin.write(b"LOCK TABLES shop.products WRITE; SELECT SLEEP(120);\n")
    holder.stdin.flush()
    try:
        agent = start_cli(["-v", "restore", "--latest", "--yes"], {
            **env, **target.agent_env(), "BACKUP_DECRYPT_IDENTITY_FILE": str(keys_dir / "k.txt")})
        # The loading sessions, blocked on the target's lock (short-lived query clients come and go before).
        wait_for(lambda: waiting_on_the_lock(target) and loading_clients(agent.pid), timeout=60)
        clients = loading_clients(agent.pid)
        cmdlines, environs = proc_files("cmdline"), proc_files("environ")
        client_environs = [Path(f"/proc/{client}/environ").read_bytes() for client in clients]
    finally:
        holder.kill()
        holder.wait()
    stdout, stderr = agent.communicate(timeout=120)

    assert agent.returncode == 0, stderr
    assert cmdlines and not [c for c in cmdlines if secret in c]
    assert not [e for e in environs if secret in e]
    assert client_environs and not [e for e in client_environs if secret in e]
    assert '"event": "restore"' in stderr and secret.decode() not in stdout + stderr  # logs were written
    assert table_checksums(target) == table_checksums(sample_server)
    assert secret not in (tmp_path / "bucket" / keys.manifest).read_bytes()


def test_identity_from_a_kubernetes_secret(kube_api, sample_server, mariadb_factory, tmp_path, keys_dir):
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX}
    encrypted_backup(sample_server, env, [keygen(keys_dir / "k.txt")])
    kube_api.seed_secret(namespace="restore", name="backup-age-key",
                         data={"age-identity": (keys_dir / "k.txt").read_bytes()})
    target = mariadb_factory()

    done = run_cli(["restore", "--latest"], {
        **env, **target.agent_env(), "KUBECONFIG": str(kube_api.kubeconfig), "CELL_DEFAULT_NAMESPACE": "restore",
        "BACKUP_DECRYPT_IDENTITY_SECRET": "backup-age-key"})
    missing = run_cli(["restore", "--latest"], {
        **env, **target.agent_env(), "KUBECONFIG": str(kube_api.kubeconfig), "CELL_DEFAULT_NAMESPACE": "restore",
        "BACKUP_DECRYPT_IDENTITY_SECRET": "no-such-key", "MARIADB_HA_RESTORE_YES": "1"})

    assert done.returncode == 0, done.stderr
    assert table_checksums(target) == table_checksums(sample_server)
    assert missing.returncode == 2
    assert missing.stderr.strip() == ("mariadb-ha-backup: error: Secret 'no-such-key' in namespace 'restore' not found")


def waiting_on_the_lock(server: TestServer) -> bool:
    return server.execute("SELECT COUNT(*) FROM information_schema.processlist "
                          "WHERE state LIKE 'Waiting for % metadata lock'").strip() != "0"


def loading_clients(pid: int) -> list[int]:
    """The agent's ``mariadb`` children that load the dump (``--binary-mode``), one per restore session."""
    out = subprocess.run(["pgrep", "-P", str(pid), "-x", "mariadb"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if b"--binary-mode" in _read_or_empty(Path(f"/proc/{p}/cmdline"))]


def _read_or_empty(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the process exited meanwhile
        return b""


def proc_files(name: str) -> list[bytes]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                found.append((proc / name).read_bytes())
            except OSError:
                continue
    return found


def test_restore_drill_and_damage_detection_on_an_encrypted_backup(sample_server, tmp_path, keys_dir):
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": PREFIX,
           "BACKUP_DECRYPT_IDENTITY_FILE": str(keys_dir / "k.txt")}
    keys = encrypted_backup(sample_server, env, [keygen(keys_dir / "k.txt")])

    drill = run_cli(["verify", "--latest", "--restore-test"], env)
    stored = tmp_path / "bucket" / keys.artifact
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit inside an age payload chunk
    stored.write_bytes(bytes(data))
    damaged = run_cli(["verify", "--latest"], env)

    assert drill.returncode == 0, drill.stderr
    assert "restore test passed" in drill.stdout
    assert damaged.returncode == 1
    assert f"SHA1 of {keys.artifact_name} is" in damaged.stdout
    assert f"backup {keys.backup_id} is not a readable age file" in damaged.stdout


@pytest.mark.parametrize(("value", "message"), [
    ("age1notakey", "BACKUP_ENCRYPT_RECIPIENTS: 'age1notakey' is not an age X25519 recipient"),
    ("SECRET", "BACKUP_ENCRYPT_RECIPIENTS holds an age identity (a secret key), not a recipient"),
])
def test_bad_recipient_is_bad_input_and_nothing_is_written(value, message, tmp_path, keys_dir):
    keygen(keys_dir / "k.txt")
    value = secret_of(keys_dir / "k.txt") if value == "SECRET" else value
    (tmp_path / "bucket").mkdir()
    env = {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "MARIADB_HOST": "127.0.0.1", "MARIADB_PASSWORD": "x",
           "BACKUP_ENCRYPT_RECIPIENTS": value}

    done = run_cli(["backup"], env)

    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"mariadb-ha-backup: error: {message}")
    if value.startswith("AGE-SECRET-KEY-"):
        assert value[16:] not in done.stderr  # the key part of the identity is never echoed
    assert list((tmp_path / "bucket").iterdir()) == []


def test_encrypted_upload_cut_mid_stream_is_retried_and_decrypts(s3_server, fault_proxy, sample_server, tmp_path,
                                                                  keys_dir, monkeypatch):
    """A reset during the artifact's upload: the whole upload is retried from the spool, encrypted afresh
    (a new age file key), and the sidecar's SHA1 is that of the attempt that was stored."""
    from shared.storage import open_storage
    from tests.support.storage_servers import unique_bucket_name

    bucket = unique_bucket_name()
    s3_server.create_bucket(bucket)
    proxy = fault_proxy(s3_server.port)
    env = {**s3_server.env_for(proxy.endpoint), "AWS_MAX_ATTEMPTS": "1", "BACKUP_URL": f"s3://{bucket}",
           "BACKUP_PREFIX": PREFIX}
    proxy.cut_after(60_000)  # past the listing and the claim marker, inside the artifact's upload

    logs: list[str] = []
    keys = encrypted_backup(sample_server, env, [keygen(keys_dir / "k.txt")], logs=logs)

    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    download(open_storage(f"s3://{bucket}"), keys, tmp_path / "dl")
    sha1sum = subprocess.run(["sha1sum", "-c", f"{keys.artifact_name}.sha1"], cwd=tmp_path / "dl",
                             capture_output=True, text=True)
    plain = subprocess.run(["age", "-d", "-i", str(keys_dir / "k.txt"), keys.artifact_name], cwd=tmp_path / "dl",
                           capture_output=True)
    assert sha1sum.returncode == 0, sha1sum.stdout
    assert plain.returncode == 0 and subprocess.run(["tar", "tzf", "-"], input=plain.stdout,
                                                    capture_output=True).stdout.decode().splitlines() == [MEMBER]
    retried = [json.loads(line) for line in logs[0].splitlines() if '"retry"' in line or "retrying" in line]
    assert [r["message"] for r in retried if keys.artifact in r["message"]], logs[0]  # the artifact's upload was cut


@pytest.mark.parametrize("fmt", ["tar.gz", "sql.zst"])
def test_sigterm_during_an_encrypted_backup_leaves_nothing(fmt, sample_server, tmp_path, keys_dir):
    import signal
    import time

    from tests.support.agent_runs import dump_children, env_for, hold_table_lock

    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    env = env_for(sample_server, bucket, tmp, BACKUP_FORMAT=fmt, BACKUP_ENCRYPT_RECIPIENTS=keygen(keys_dir / "k.txt"))
    holder = hold_table_lock(sample_server, "shop.products")
    try:
        agent = start_cli(["backup"], env)
        wait_for(lambda: dump_children(agent.pid))
        time.sleep(0.5)  # the dump is blocked on the locked table, mid-stream, the age thread waiting on it
        agent.send_signal(signal.SIGTERM)
        _, stderr = agent.communicate(timeout=30)
    finally:
        holder.kill()
        holder.wait()

    assert agent.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr
    assert [p for p in bucket.rglob("*") if p.is_file()] == []  # no artifact, no manifest, no claim marker
    assert list(tmp.iterdir()) == []
