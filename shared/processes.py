"""Stopping a child process politely, then firmly: the one way every part of the tool does it."""

from __future__ import annotations

import subprocess
from typing import Any


def stop_process(process: subprocess.Popen[Any], *, grace_seconds: float) -> None:
    """SIGTERM, wait up to ``grace_seconds`` for it to exit cleanly, then SIGKILL. No-op if it already exited."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
