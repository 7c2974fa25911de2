"""Run the real CLI as a user would: ``python -m agent``'s ``main`` with a minimal environment.

``run_cli`` runs ``main`` inside the test process when that cannot differ from a separate process:
the environment is replaced by exactly what the child would get (then put back), stdout and stderr
are captured as a pipe would capture them (not a terminal), the working directory is the project's,
and the logging setup the CLI installs is undone afterwards. A new interpreter per run (~200 per
suite) costs more than most of these runs. It starts a separate process instead when the run talks
to a cloud SDK or the Kubernetes client (they keep process-wide clients and configuration), or when
asked (``own_process=True``); ``start_cli`` (signals, memory, argv and environment checks) always
starts one.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
# Flags that point a run at a cloud destination (or the dispatcher at Kubernetes): a separate process.
_CLOUD_FLAGS = ("--url", "--provider")


def base_env() -> dict[str, str]:
    """PATH and locale only: nothing from the developer's shell (no stray cloud credentials)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent", *args]


def run_cli(args: Sequence[str], env: Mapping[str, str], *, timeout: float = 300,
            own_process: bool = False) -> subprocess.CompletedProcess[str]:
    full_env = {**base_env(), **env}
    if own_process or not _same_in_process(args, full_env):
        return subprocess.run(cli_argv(*args), env=full_env, cwd=PROJECT, capture_output=True, text=True,
                              timeout=timeout, check=False)
    return _run_in_process(list(args), full_env)


def start_cli(args: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_argv(*args),
        env={**base_env(), **env},
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class Stopped:
    """How a ``running_cli`` run ended: whether it was still running when the block ended (it must not
    stop on its own), and its exit code after the SIGTERM."""

    still_running: bool = False
    exit_code: int | None = None


@contextlib.contextmanager
def running_cli(args: Sequence[str], env: Mapping[str, str], *, stop_timeout: float = 60) -> Iterator[Stopped]:
    """The CLI running (e.g. ``archive-binlogs --follow``) for the block, then stopped as Kubernetes stops a
    pod: SIGTERM, and a wait for it to clean up and exit."""
    process = start_cli(args, env)
    stopped = Stopped()
    try:
        yield stopped
        stopped.still_running = process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        stopped.exit_code = process.wait(timeout=stop_timeout)


def _same_in_process(args: Sequence[str], env: Mapping[str, str]) -> bool:
    """Local destinations only (or none: a configuration error), no Kubernetes client, and no ``--help``
    (argparse sizes it to the terminal the test process may have)."""
    if not args or args[0] == "dispatch" or "KUBECONFIG" in env or {"-h", "--help"} & set(args):
        return False
    if any(a.startswith(_CLOUD_FLAGS) for a in args):
        return False
    if "BACKUP_URL" in env:
        return env["BACKUP_URL"].startswith("file://")
    return env.get("CLOUD_PROVIDER", "local") == "local"


def _run_in_process(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    from agent.cli import main  # here: a test module that never runs the CLI need not import it

    stdout, stderr = io.StringIO(), io.StringIO()
    with _as_a_child_process(env), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return subprocess.CompletedProcess(cli_argv(*args), code, stdout.getvalue(), stderr.getvalue())


@contextlib.contextmanager
def _as_a_child_process(env: dict[str, str]) -> Iterator[None]:
    """Exactly ``env`` as the environment and the project as the working directory, logging as it was
    before, all put back afterwards."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    root = logging.getLogger()
    saved_handlers, saved_levels = root.handlers[:], {name: logging.getLogger(name).level
                                                      for name in ("", "mariadb_ha_backup")}
    os.environ.clear()
    os.environ.update(env)
    os.chdir(PROJECT)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        root.handlers[:] = saved_handlers
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
