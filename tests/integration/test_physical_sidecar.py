"""The physical Job's sidecar script, run by a real shell with the real mariadb-backup against a real
server, streaming through a real FIFO into the agent's end (``sidecar_stream``): the restored copy
starts and equals the source."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from agent.drill.throwaway_server import free_port
from shared.physical_sidecar import (
    EXIT_CODE_NAME,
    INFO_DIR_NAME,
    SIDECAR_SCRIPT,
    SidecarStreamError,
    abort,
    request_options,
    sidecar_argv,
    sidecar_stream,
)
from tests.support.mariadb_server import TestServer, table_checksums


def start_sidecar(tmp_path: Path, server: TestServer, *, password: str | None = None) -> subprocess.Popen[bytes]:
    """The script exactly as the Job's mariadb-backup container runs it (``sh -c``), with its env."""
    stream_dir, sidecar_tmp = tmp_path / "stream", tmp_path / "sidecar-tmp"
    stream_dir.mkdir(exist_ok=True)
    sidecar_tmp.mkdir(exist_ok=True)
    password_file = tmp_path / "password"
    password_file.write_text(server.password if password is None else password)
    env = {"PATH": os.environ["PATH"], "STREAM_DIR": str(stream_dir), "PASSWORD_FILE": str(password_file),
           "MARIADB_HOST": server.host, "MARIADB_PORT": str(server.port), "TMPDIR": str(sidecar_tmp),
           "REQUEST_TIMEOUT_SECONDS": "30"}
    return subprocess.Popen(["sh", "-c", SIDECAR_SCRIPT], env=env, stderr=subprocess.PIPE)


def receive(stream_dir: Path, out_dir: Path, **kwargs: object) -> None:
    """The agent's end: read the stream to EOF into ``mbstream -x``."""
    out_dir.mkdir()
    with sidecar_stream(stream_dir, **kwargs) as stream:  # type: ignore[arg-type]  # kwargs: options
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
    sidecar = start_sidecar(tmp_path, sample_server)
    receive(tmp_path / "stream", tmp_path / "restored", options=["--parallel=2"])
    assert sidecar.wait(timeout=60) == 0
    assert (tmp_path / "stream" / EXIT_CODE_NAME).read_text().strip() == "0"
    checkpoints = (tmp_path / "stream" / INFO_DIR_NAME / "xtrabackup_checkpoints").read_text()
    assert "backup_type = full-backuped" in checkpoints
    # The option file held the password only while mariadb-backup ran.
    assert list((tmp_path / "sidecar-tmp").glob("*.cnf")) == []

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


def test_wrong_password_fails_before_streaming(tmp_path: Path, mariadb_server: TestServer) -> None:
    sidecar = start_sidecar(tmp_path, mariadb_server, password="not-the-password")
    with pytest.raises(SidecarStreamError, match="exited with 1 before streaming"):
        receive(tmp_path / "stream", tmp_path / "restored", start_timeout=30)
    assert sidecar.wait(timeout=30) == 1
    assert sidecar.stderr is not None and b"cannot query" in sidecar.stderr.read()


def test_agent_that_fails_before_asking_releases_the_sidecar(tmp_path: Path, mariadb_server: TestServer) -> None:
    sidecar = start_sidecar(tmp_path, mariadb_server)
    abort(tmp_path / "stream")
    assert sidecar.wait(timeout=10) == 0
    assert not (tmp_path / "stream" / EXIT_CODE_NAME).exists()


def test_agent_that_stops_reading_ends_the_sidecar(tmp_path: Path, sample_server: TestServer) -> None:
    sidecar = start_sidecar(tmp_path, sample_server)
    with pytest.raises(RuntimeError, match="upload failed"), sidecar_stream(tmp_path / "stream") as stream:
        stream.read(4096)
        raise RuntimeError("upload failed")
    assert sidecar.wait(timeout=60) != 0  # EPIPE: mariadb-backup stops instead of blocking forever


def test_request_file_with_an_unknown_option_is_refused_by_the_sidecar(tmp_path: Path,
                                                                         mariadb_server: TestServer) -> None:
    sidecar = start_sidecar(tmp_path, mariadb_server)
    (tmp_path / "stream" / "request").write_text("--parallel=2\n--history=x; rm -rf /\n")
    assert sidecar.wait(timeout=30) == 1
    assert sidecar.stderr is not None and b"refusing request option --history" in sidecar.stderr.read()


@pytest.mark.parametrize("option", ["--history=x", "--parallel=two", "--incremental-lsn="])
def test_agent_refuses_options_the_sidecar_would(option: str) -> None:
    with pytest.raises(ValueError, match="does not accept"):
        request_options([option])


def test_command_bridge_is_a_drop_in_for_the_mariadb_backup_command(tmp_path: Path, sample_server: TestServer) -> None:
    """What the agent's pipeline runs in the Job instead of mariadb-backup: stdout is the stream."""
    sidecar = start_sidecar(tmp_path, sample_server)
    out = tmp_path / "out"
    out.mkdir()
    bridge = subprocess.Popen(sidecar_argv(tmp_path / "stream", ["--parallel=2"]), stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    extract = subprocess.run(["mbstream", "-x", "-C", str(out)], stdin=bridge.stdout, check=False)
    assert (bridge.wait(timeout=60), extract.returncode, sidecar.wait(timeout=60)) == (0, 0, 0)
    assert (out / "ibdata1").exists() and (out / "xtrabackup_checkpoints").exists()


def test_command_bridge_fails_when_the_sidecar_does(tmp_path: Path, mariadb_server: TestServer) -> None:
    sidecar = start_sidecar(tmp_path, mariadb_server, password="wrong")
    bridge = subprocess.run(sidecar_argv(tmp_path / "stream"), capture_output=True, timeout=60, check=False,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert (bridge.returncode, bridge.stdout) == (1, b"")
    assert b"exited with 1 before streaming" in bridge.stderr
    assert sidecar.wait(timeout=30) == 1
