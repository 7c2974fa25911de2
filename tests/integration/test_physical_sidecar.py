"""The physical Job's sidecar script, run by a real shell with the real mariadb-backup against a real
server, streaming through real FIFOs into the agent's end (``sidecar_stream`` and the ``mariadb-backup``
shim the agent runs in the Job): the restored copy starts and equals the source."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.drill.throwaway_server import free_port
from shared.physical_sidecar import (
    ERROR_NAME,
    SIDECAR_SCRIPT,
    SidecarStreamError,
    install_shim,
    request_options,
    sidecar_stream,
    sidecar_version,
)
from tests.support.mariadb_server import TestServer, table_checksums

ROOT = Path(__file__).resolve().parents[2]
_started: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _stop_sidecars() -> Iterator[None]:
    """The script serves calls until it is stopped (the kubelet does it in the Job): stop it here."""
    yield
    while _started:
        process = _started.pop()
        process.kill()
        process.wait()


def start_sidecar(tmp_path: Path, server: TestServer, *, password: str | None = None,
                  password_file: bool = True) -> subprocess.Popen[bytes]:
    """The script exactly as the Job's mariadb-backup container runs it (``sh -c``), with its env."""
    stream_dir, sidecar_tmp = tmp_path / "stream", tmp_path / "sidecar-tmp"
    stream_dir.mkdir(exist_ok=True)
    sidecar_tmp.mkdir(exist_ok=True)
    secret = tmp_path / "password"
    if password_file:
        secret.write_text(server.password if password is None else password)
    env = {"PATH": os.environ["PATH"], "STREAM_DIR": str(stream_dir), "PASSWORD_FILE": str(secret),
           "MARIADB_HOST": server.host, "MARIADB_PORT": str(server.port), "TMPDIR": str(sidecar_tmp)}
    process = subprocess.Popen(["sh", "-c", SIDECAR_SCRIPT], env=env, stderr=subprocess.PIPE)
    _started.append(process)
    return process


def receive(stream_dir: Path, out_dir: Path, **kwargs: object) -> None:
    """The agent's end: read the stream to EOF into ``mbstream -x``."""
    out_dir.mkdir()
    with sidecar_stream(stream_dir, **kwargs) as stream:  # type: ignore[arg-type]  # kwargs: options, info_into
        extract = subprocess.Popen(["mbstream", "-x", "-C", str(out_dir)], stdin=subprocess.PIPE)
        assert extract.stdin is not None
        while chunk := stream.read(1 << 20):
            extract.stdin.write(chunk)
        extract.stdin.close()
        assert extract.wait() == 0


def start_on(datadir: Path, run_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    run_dir.mkdir()
    socket = run_dir / "mysqld.sock"
    process = subprocess.Popen(
        [shutil.which("mariadbd") or "/usr/sbin/mariadbd", "--no-defaults", "--user=root", f"--datadir={datadir}",
         f"--socket={socket}", f"--port={free_port()}", "--bind-address=127.0.0.1", f"--tmpdir={run_dir}",
         f"--log-error={run_dir / 'err.log'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if subprocess.run(["mariadb", "--no-defaults", "-uroot", f"--socket={socket}", "-e", "SELECT 1"],
                          capture_output=True, check=False).returncode == 0:
            return process, socket
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"server on the restored datadir did not start: {(run_dir / 'err.log').read_text()[-500:]}")


def test_streamed_backup_restores_to_a_server_equal_to_the_source(tmp_path: Path, sample_server: TestServer) -> None:
    start_sidecar(tmp_path, sample_server)
    receive(tmp_path / "stream", tmp_path / "restored", options=["--parallel=2"], info_into=tmp_path / "lsn")
    assert "backup_type = full-backuped" in (tmp_path / "lsn" / "xtrabackup_checkpoints").read_text()
    assert [p.name for p in (tmp_path / "stream").iterdir()] == ["version"]  # the call cleaned up after itself
    # The option file holds the password in the sidecar's own 0600 file, never in the shared directory.
    assert [oct(p.stat().st_mode & 0o777) for p in (tmp_path / "sidecar-tmp").glob("*.cnf")] == ["0o600"]

    subprocess.run(["mariadb-backup", "--prepare", f"--target-dir={tmp_path / 'restored'}"],
                   check=True, capture_output=True)
    process, socket = start_on(tmp_path / "restored", tmp_path / "run")
    try:
        restored = TestServer()
        restored.dir = socket.parent  # the client helpers reach it through <dir>/mysqld.sock
        assert table_checksums(restored) == table_checksums(sample_server)
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_wrong_password_fails_the_call_and_the_sidecar_stays(tmp_path: Path, mariadb_server: TestServer) -> None:
    sidecar = start_sidecar(tmp_path, mariadb_server, password="not-the-password")
    with pytest.raises(SidecarStreamError, match="ended the call with 1 before streaming"):
        receive(tmp_path / "stream", tmp_path / "restored", start_timeout=30)
    assert sidecar.poll() is None


def test_sidecar_that_cannot_work_says_why_at_once(tmp_path: Path, mariadb_server: TestServer) -> None:
    start_sidecar(tmp_path, mariadb_server, password_file=False)
    with pytest.raises(SidecarStreamError, match="cannot read the password file"):
        receive(tmp_path / "stream", tmp_path / "restored", start_timeout=30)
    assert (tmp_path / "stream" / ERROR_NAME).exists()


def test_agent_that_stops_reading_ends_the_call_and_a_retry_gets_a_fresh_one(tmp_path: Path,
                                                                             sample_server: TestServer) -> None:
    sidecar = start_sidecar(tmp_path, sample_server)
    with pytest.raises(RuntimeError, match="upload failed"), sidecar_stream(tmp_path / "stream") as stream:
        stream.read(4096)
        raise RuntimeError("upload failed")  # EPIPE for mariadb-backup: the call ends instead of blocking
    receive(tmp_path / "stream", tmp_path / "retry")
    assert (tmp_path / "retry" / "xtrabackup_checkpoints").exists() and sidecar.poll() is None


def test_request_with_an_unknown_option_is_refused_by_the_sidecar(tmp_path: Path, mariadb_server: TestServer) -> None:
    sidecar = start_sidecar(tmp_path, mariadb_server)
    call = tmp_path / "stream" / "call.manual"
    call.mkdir()
    (call / "request").write_text("--parallel=2\n--history=x; rm -rf /\n")
    deadline = time.monotonic() + 30
    while not (call / "exit-code").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (call / "exit-code").read_text().strip() == "2"
    sidecar.kill()
    assert sidecar.stderr is not None and b"refusing request option --history" in sidecar.stderr.read()


@pytest.mark.parametrize("option", ["--history=x", "--parallel=two", "--incremental-lsn="])
def test_agent_refuses_options_the_sidecar_would(option: str) -> None:
    with pytest.raises(ValueError, match="does not accept"):
        request_options([option])


def shim_env(tmp_path: Path) -> dict[str, str]:
    shim = install_shim(tmp_path / "bin")
    return {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}", "PHYSICAL_STREAM_DIR": str(tmp_path / "stream"),
            "PYTHONPATH": str(ROOT)}


def run_shim_backup(tmp_path: Path, env: dict[str, str], name: str, *extra: str) -> tuple[Path, str]:
    """The exact command line the agent's physical backup runs (shared/mariadb_backup.backup_argv)."""
    out, lsn = tmp_path / name, tmp_path / f"run-{name}" / "lsn"
    out.mkdir()
    argv = ["mariadb-backup", f"--defaults-extra-file={tmp_path / 'agent.cnf'}", "--backup", "--stream=mbstream",
            "--parallel=2", "--galera-info", *extra, f"--target-dir={tmp_path / f'run-{name}' / 'target'}",
            f"--extra-lsndir={lsn}"]
    backup = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env)
    extract = subprocess.run(["mbstream", "-x", "-C", str(out)], stdin=backup.stdout, check=False)
    assert (backup.wait(timeout=60), extract.returncode) == (0, 0)
    return out, (lsn / "xtrabackup_checkpoints").read_text()


def test_shim_is_mariadb_backup_for_the_agent(tmp_path: Path, sample_server: TestServer) -> None:
    """Through the shim on PATH: stdout is the stream, the LSN files land in --extra-lsndir, an incremental
    reaches the sidecar, --version is the sidecar's."""
    start_sidecar(tmp_path, sample_server)
    env = shim_env(tmp_path)
    full, checkpoints = run_shim_backup(tmp_path, env, "full")
    assert (full / "ibdata1").exists() and "backup_type = full-backuped" in checkpoints
    to_lsn = dict(line.split(" = ") for line in checkpoints.splitlines())["to_lsn"]
    sample_server.execute("UPDATE shop.products SET price_cents = price_cents + 1")
    _, incremental = run_shim_backup(tmp_path, env, "incremental", f"--incremental-lsn={to_lsn}")
    assert "backup_type = incremental" in incremental and f"from_lsn = {to_lsn}" in incremental

    version = subprocess.run(["mariadb-backup", "--version"], env=env, capture_output=True, text=True, check=False)
    assert version.returncode == 0 and "based on MariaDB server" in version.stderr
    assert version.stderr == sidecar_version(tmp_path / "stream")
    other = subprocess.run(["mariadb-backup", "--prepare", "--target-dir=/x"], env=env, capture_output=True,
                           text=True, check=False)
    assert other.returncode == 2 and "only --version and --backup run here" in other.stderr


def test_shim_fails_when_the_sidecar_does(tmp_path: Path, mariadb_server: TestServer) -> None:
    start_sidecar(tmp_path, mariadb_server, password="wrong")
    done = subprocess.run(["mariadb-backup", "--backup", "--stream=mbstream"], env=shim_env(tmp_path),
                          capture_output=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (1, b"")
    assert b"ended the call with 1 before streaming" in done.stderr


def test_exec_agent_runs_the_agent_with_the_shim_first_on_path(tmp_path: Path) -> None:
    probe = tmp_path / "mariadb-ha-backup"  # stands in for the agent: prints which mariadb-backup it would run
    probe.write_text("#!/bin/sh\ncommand -v mariadb-backup\necho \"args: $*\"\nexit 3\n")
    probe.chmod(0o755)
    done = subprocess.run([sys.executable, "-m", "shared.physical_sidecar", "--exec-agent", "backup"],
                          env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "TMPDIR": str(tmp_path),
                               "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 3  # the agent's own exit code (the Job's podFailurePolicy reads it)
    assert done.stdout == f"{tmp_path}/mariadb-ha-backup-bin/mariadb-backup\nargs: backup\n"
