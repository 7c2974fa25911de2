"""``restore --until TIME --datadir DIR``: a physical base prepared into DIR, then the archive replayed on it.

    chain of the base (agent.common.chains) → restore --datadir (agent.restore.physical) → a private mariadbd on
    DIR (loopback, own socket) → the planned binlog transactions replayed in one session → clean shutdown

The planner (agent.pitr.planning, ``method=PHYSICAL``) picks the newest physical backup whose GTID
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
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from agent.common.bucket import open_bucket
from agent.common.catalog import scan_backups
from agent.common.chains import chain_of, complete_by_id
from agent.common.credentials import resolve_password
from agent.common.decryption import configured_identities
from agent.common.progress import byte_progress
from agent.common.run_dir import private_run_dir
from agent.common.signals import signals_raise_terminated
from agent.pitr.planning import ReplayPlan, plan_point_in_time
from agent.pitr.replay import PointInTimeResult, point_result, replay, scheduler_paused
from agent.restore.physical import chown_tree, restore_datadir
from shared.config import ConfigValues, load_destination, load_retry, load_source, load_tmp_dir
from shared.encryption import load_decryption_settings
from shared.logs import register_secret
from shared.manifest import PHYSICAL, Manifest
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


def restore_datadir_until(config: ConfigValues, *, until: datetime, datadir: Path, owner: str | None,
                          start_server: Callable[[Path], AbstractContextManager[LoopbackServer]]) -> PointInTimeResult:
    """Plan from physical bases, then prepare the base's chain into ``datadir`` and replay up to ``until``."""
    source = load_source(config)  # the copy's accounts are the source's: the replay logs in as the source's user
    password = resolve_password(source)
    register_secret(password)
    bucket = open_bucket(load_destination(config), load_retry(config))
    entries = scan_backups(bucket.storage, prefix=bucket.prefix)
    identities = configured_identities(load_decryption_settings(config), what="the backup and binlog segments")
    with signals_raise_terminated(), private_run_dir(load_tmp_dir(config)) as run_dir, \
            byte_progress("restore") as progress:
        plan = plan_point_in_time(bucket.storage, prefix=bucket.prefix, backups=entries, until=until,
                                  work_dir=run_dir, identities=identities, method=PHYSICAL)
        chain = chain_of(plan.backup, complete_by_id(e.manifest for e in entries if e.manifest is not None))
        return restore_datadir_to_point(bucket.storage, plan, chain, datadir=datadir, user=source.user,
                                        password=password, run_dir=run_dir, start_server=start_server,
                                        identities=identities, progress=progress, owner=owner)
