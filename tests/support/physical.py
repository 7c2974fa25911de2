"""Physical backups in tests: the agent's environment for them, and a server started on a restored copy."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.throwaway_server import ThrowawayServer
from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer

PREFIX = "physical/db/mariadb-ha"


def physical_env(server: TestServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    bucket, spool = tmp_path / "bucket", tmp_path / "spool"
    bucket.mkdir(exist_ok=True)
    spool.mkdir(exist_ok=True)
    return {"BACKUP_URL": f"file://{bucket}", "BACKUP_PREFIX": PREFIX, "BACKUP_TMPDIR": str(spool),
            "BACKUP_METHOD": "physical", "BACKUP_RETRY_ATTEMPTS": "2", "BACKUP_RETRY_SECONDS": "5",
            **server.agent_env(), **extra}


def physical_backup(env: dict[str, str], *args: str) -> dict:
    done = run_cli(["backup", "--json", *args], env)
    assert done.returncode == 0, done.stderr
    summary: dict = json.loads(done.stdout)
    return summary


def manifest_of(tmp_path: Path, backup_id: str) -> dict:
    data: dict = json.loads((tmp_path / "bucket" / PREFIX / backup_id / "manifest.json").read_text())
    return data


@contextmanager
def server_on(datadir: Path) -> Iterator[ThrowawayServer]:
    """mariadbd started on a restored data directory (root over the socket, as in the source)."""
    with ThrowawayServer(base_dir=datadir.parent, datadir=datadir) as server:
        yield server


def keygen(path: Path) -> str:
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return subprocess.run(["age-keygen", "-y", str(path)], check=True, capture_output=True, text=True).stdout.strip()
