"""``verify --restore-test`` of a physical backup: prepare its chain, start a server on it, check it.

The chain is restored with the same code as ``restore --datadir`` into the run's private directory,
a throwaway ``mariadbd`` (loopback, own socket) starts on the prepared copy with ``--skip-grant-tables``
(the copy holds the source's accounts, whose passwords the drill does not know), and then:

- every database, table, sequence, view, routine, trigger and event the manifest lists is there;
- every view runs (``SELECT ... LIMIT 0``);
- ``CHECK TABLE`` passes for every table: each page InnoDB reads back is checksummed, so a copy that
  prepared but holds a damaged page fails here, not on the day it is needed.

Rows are not counted against the source: a physical backup copies pages, it never sees rows, so it
records no per-table counts (the logical drill's ``Evidence``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.drill.backup_drill import KINDS, DrillFailedError, DrillReport, broken_views, compare_inventories
from agent.drill.backup_drill import _quoted as quoted_table  # one quoting of schema.table for the drills
from agent.drill.throwaway_server import ThrowawayServer
from agent.restore.physical import restore_datadir
from shared.manifest import Manifest
from shared.mariadb_client import run_client_query, write_defaults_file
from shared.server_info import read_inventory
from shared.storage import Storage

log = logging.getLogger("mariadb_ha_backup.drill")

# The copy's own accounts stay as they are: no password of them is known here. Networking stays on
# 127.0.0.1 only (ThrowawayServer), the server is stopped and its directory removed after the checks.
_SERVER_ARGS = ("--skip-grant-tables", "--skip-slave-start", "--max-allowed-packet=1G")
NOT_CHECKED = (
    "row counts against the source (a physical backup copies pages, not rows: it records no counts)",
    "what routines, triggers and events do (only that they exist)",
)
_CHECK_BATCH = 50  # tables per CHECK TABLE statement: one round trip each, a bounded statement


def run_physical_drill(storage: Storage, chain: Sequence[Manifest], *, run_dir: Path,
                       identities: Sequence[Any] = ()) -> DrillReport:
    """Restore ``chain`` (agent.common.chains.chain_of: full first) into a throwaway server and check it."""
    clock, manifest = time.monotonic(), chain[-1]
    log.info("restore drill of physical backup %s: preparing %d backup(s)", manifest.id, len(chain),
             extra={"event": "drill-start", "backup_id": manifest.id, "chain": [m.id for m in chain]})
    datadir = run_dir / "restored-datadir"
    restored = restore_datadir(storage, chain, datadir=datadir, identities=identities)
    # The server's own directory (socket, pid, log) in the system temp dir: a unix socket path must stay
    # under 108 bytes, which a deep BACKUP_TMPDIR can exceed.
    with ThrowawayServer(datadir=datadir, extra_args=_SERVER_ARGS) as server:
        defaults = write_defaults_file(run_dir, host=server.host, port=server.port, user="root", password="")
        found = replace(read_inventory(defaults), events=_events(defaults))
        differences = compare_inventories(expected=manifest.inventory, found=found)
        differences += [f"cannot run: {problem}" for problem in broken_views(defaults, found.views)]
        differences += table_check_failures(defaults, [*found.tables, *found.sequences])
    if differences:
        raise DrillFailedError(f"restore drill of {manifest.id} failed: " + "; ".join(differences))
    checked = {k: len(getattr(manifest.inventory, k)) for k in KINDS}
    checked["tables checked (CHECK TABLE)"] = len(found.tables) + len(found.sequences)
    return DrillReport(backup_id=manifest.id, checked=checked, loaded_bytes=restored.raw_bytes,
                       seconds=round(time.monotonic() - clock, 2), not_checked=list(NOT_CHECKED))


def _events(defaults_file: Path) -> list[str]:
    """information_schema.EVENTS is empty under --skip-grant-tables (no event scheduler): read mysql.event."""
    return sorted(row[0] for row in run_client_query(defaults_file, "SELECT CONCAT(db, '.', name) FROM mysql.event"))


def table_check_failures(defaults_file: Path, tables: list[str]) -> list[str]:
    """``CHECK TABLE`` every table; the ones whose final status is not OK, with the server's message."""
    failures = []
    for start in range(0, len(tables), _CHECK_BATCH):
        batch = ", ".join(quoted_table(t) for t in tables[start:start + _CHECK_BATCH])
        for row in run_client_query(defaults_file, f"CHECK TABLE {batch}", timeout=3600):
            table, _op, kind, text = [*row, "", "", "", ""][:4]
            if kind.lower() in ("error", "corrupt") or (kind.lower() == "status" and text != "OK"):
                failures.append(f"CHECK TABLE {table}: {kind} {text}")
    return failures
