"""``restore --until TIME --datadir DIR``: a physical base prepared into DIR, then the archive replayed on it.

    chain of the base (agent.chains) → restore --datadir (agent.physical_restore) → a private mariadbd on
    DIR (loopback, own socket) → the planned binlog transactions replayed in one session → clean shutdown

The planner (agent.pitr_planning, ``method=PHYSICAL``) picks the newest physical backup whose GTID
position lies in a recoverable window and can reach TIME, exactly as for a logical base; what differs is
only how the base becomes a server. The replay logs in with the configured user and password: the copy
holds the source's accounts, so the source's credentials are the copy's. The private server is started
by the caller (``start_server``: the command passes the throwaway server, which lives in a higher layer).
If anything fails after DIR was made, DIR is removed again: a half-replayed data directory is not a state
the cluster ever had.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from agent.physical_restore import chown_tree, restore_datadir
from agent.pitr_planning import ReplayPlan
from agent.pitr_replay import PointInTimeResult, point_result, replay, scheduler_paused
from shared.manifest import Manifest
from shared.mariadb_client import write_defaults_file
from shared.readers import Progress
from shared.storage import Storage

log = logging.getLogger("mariadb_ha_backup.restore")


class LoopbackServer(Protocol):
    host: str
    port: int


def restore_datadir_to_point(storage: Storage, plan: ReplayPlan, chain: Sequence[Manifest], *, datadir: Path,
                             user: str, password: str, run_dir: Path,
                             start_server: Callable[[Path], AbstractContextManager[LoopbackServer]],
                             identities: Sequence[Any] = (), progress: Progress | None = None,
                             owner: str | None = None) -> PointInTimeResult:
    restored = restore_datadir(storage, chain, datadir=datadir, identities=identities, progress=progress)
    try:
        with start_server(datadir) as server:
            defaults = write_defaults_file(run_dir, host=server.host, port=server.port, user=user, password=password)
            log.info("replaying %d transaction(s) after physical backup %s up to %s", plan.transactions,
                     plan.backup.id, plan.until.isoformat(), extra={"event": "replay", "backup_id": plan.backup.id})
            with scheduler_paused(defaults):
                decoded = replay(plan.files, defaults_file=defaults, run_dir=run_dir, progress=progress)
        if owner is not None:
            chown_tree(datadir, owner)  # after the server (running as us) wrote its last files
    except BaseException:
        shutil.rmtree(datadir, ignore_errors=True)
        raise
    return point_result(plan, restored=restored, decoded_bytes=decoded)
