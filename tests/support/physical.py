"""Physical backups in tests: the agent's environment for them, and a server started on a restored copy."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.drill.throwaway_server import ThrowawayServer
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
    """mariadbd started on a restored data directory (root over the socket, as in the source). Its own
    directory (socket, pid, log) is in the system temp: under an xdist worker's longer ``tmp_path``
    the socket's path would pass the 107-byte limit."""
    with ThrowawayServer(datadir=datadir) as server:
        yield server


def keygen(path: Path) -> str:
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    return subprocess.run(["age-keygen", "-y", str(path)], check=True, capture_output=True, text=True).stdout.strip()


def store_physical(storage, *, prefix: str, started, tmp: Path, parent=None,  # type: ignore[no-untyped-def]
                   lsns: tuple[int, int] = (0, 100)):
    """A physical backup's objects and manifest as the agent lays them out (the artifact's content is not
    an mbstream: for chain, list and retention logic only). ``parent``: the BackupKeys it builds on."""
    import io
    from dataclasses import replace

    from shared.manifest import FULL, INCREMENTAL, PHYSICAL, Manifest, PhysicalCopy
    from tests.support.backups import store_backup

    keys = store_backup(storage, prefix=prefix, started=started, fmt="mbstream.zst", tmp=tmp)
    with storage.open_read(keys.manifest) as stream:
        manifest = Manifest.from_json(stream.read())
    base = keys.backup_id
    if parent is not None:
        with storage.open_read(parent.manifest) as stream:
            parent_copy = Manifest.from_json(stream.read()).physical
        base = parent_copy.base
    copy = PhysicalCopy(kind=INCREMENTAL if parent else FULL, from_lsn=lsns[0], to_lsn=lsns[1], last_lsn=lsns[1] + 5,
                        base=base, parent=parent.backup_id if parent else None, tool_version="10.11.19")
    storage.put(keys.manifest, io.BytesIO(replace(manifest, method=PHYSICAL, physical=copy).to_json()))
    return keys


def local_bucket(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A ``file://`` bucket in ``tmp_path/bucket`` (created)."""
    from shared.storage import open_storage

    (tmp_path / "bucket").mkdir(exist_ok=True)
    return open_storage(f"file://{tmp_path / 'bucket'}")
