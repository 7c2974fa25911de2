"""On a terminal the agent shows a progress bar with bytes and throughput and plain-text logs."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios

from tests.support.cli import base_env, cli_argv


def test_terminal_gets_progress_bar_and_text_logs(sample_server, tmp_path):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    env = {**base_env(), "CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(bucket), **sample_server.agent_env()}
    primary, secondary = pty.openpty()
    # A fresh pty is 0x0; tqdm sizes its bar to the terminal, so give it a real one (80x24).
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(cli_argv("backup"), env=env, stdout=subprocess.PIPE, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    stdout, _ = proc.communicate(timeout=60)
    os.close(primary)
    terminal = b"".join(chunks).decode(errors="replace")

    assert proc.returncode == 0, terminal
    assert "dump:" in terminal and "B/s" in terminal  # tqdm's byte counter with throughput
    assert "INFO backup" in terminal and "complete" in terminal and not terminal.lstrip().startswith("{")
    assert sample_server.password not in terminal
    assert b"complete" in stdout
