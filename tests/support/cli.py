"""Run the real CLI as a user would: a separate process, ``python -m agent``, a minimal environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def base_env() -> dict[str, str]:
    """PATH and locale only: nothing from the developer's shell (no stray cloud credentials)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent", *args]


def run_cli(args: Sequence[str], env: Mapping[str, str], *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_argv(*args),
        env={**base_env(), **env},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(args: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_argv(*args),
        env={**base_env(), **env},
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
