"""``verify --restore-test``: prove a backup restores, by restoring it.

A SHA1 proves the bytes are the ones written; it cannot prove the dump loads. The drill starts a
private, throwaway ``mariadbd`` (``agent.throwaway_server``: loopback only, own temp dir, removed
afterwards), streams the backup into it with the same code path as ``restore`` (the SHA1 and archive
checks run on the same pass), then reads the restored server's schema inventory with the same query
the backup used for the manifest and compares the two, object by object.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.restoring import load_dump
from agent.throwaway_server import ThrowawayServer
from shared.errors import BackupFailedError
from shared.manifest import Inventory, Manifest
from shared.mariadb_client import write_defaults_file
from shared.server_info import read_inventory
from shared.storage import Storage

log = logging.getLogger("mariadb_ha_backup.drill")

KINDS = ("databases", "tables", "views", "routines", "triggers", "events")


class DrillFailedError(BackupFailedError):
    """The restored server does not hold what the manifest's inventory lists."""


@dataclass(frozen=True)
class DrillReport:
    backup_id: str
    checked: dict[str, int]  # kind -> number of objects found as listed in the manifest
    loaded_bytes: int
    seconds: float


def run_drill(storage: Storage, manifest: Manifest, *, run_dir: Path, identities: Sequence[Any] = ()) -> DrillReport:
    clock = time.monotonic()
    log.info("restore drill of %s: starting a throwaway server", manifest.id,
             extra={"event": "drill-start", "backup_id": manifest.id})
    with ThrowawayServer(base_dir=run_dir) as server:
        # Over TCP with a password, like a real target, so the drill exercises the restore's own path.
        password = secrets.token_urlsafe(24)
        server.set_root_password(password)
        defaults = write_defaults_file(run_dir, host=server.host, port=server.port, user="root", password=password)
        read = load_dump(storage, manifest, defaults_file=defaults, database=None, run_dir=run_dir,
                         identities=identities)
        restored = read_inventory(defaults)
    differences = compare_inventories(expected=manifest.inventory, found=restored)
    if differences:
        raise DrillFailedError(f"restore drill of {manifest.id} failed: " + "; ".join(differences))
    return DrillReport(backup_id=manifest.id, checked={k: len(getattr(manifest.inventory, k)) for k in KINDS},
                       loaded_bytes=read.raw_bytes, seconds=round(time.monotonic() - clock, 2))


def compare_inventories(*, expected: Inventory, found: Inventory) -> list[str]:
    """Each kind's missing and unexpected names, e.g. ``tables missing after restore: shop.orders``."""
    differences = []
    for kind in KINDS:
        want, got = set(getattr(expected, kind)), set(getattr(found, kind))
        if missing := sorted(want - got):
            differences.append(f"{kind} missing after restore: {', '.join(missing)}")
        if extra := sorted(got - want):
            differences.append(f"{kind} not in the manifest: {', '.join(extra)}")
    return differences
