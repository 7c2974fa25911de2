"""``verify --restore-test --until TIME``: prove a point in time restores, by restoring it.

The same plan and the same load-then-replay as ``restore --until`` (``agent.pitr.planning``,
``agent.pitr.replay``), into a private throwaway ``mariadbd`` over TCP with a password, like a real
target. The drill passes when the dump loads with its SHA1 checked and every planned transaction
replays without an error in one client session; it reports what was replayed and what the server
then holds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.common.bucket import open_bucket
from agent.common.catalog import BackupEntry, scan_backups
from agent.common.decryption import configured_identities
from agent.common.run_dir import private_run_dir
from agent.common.signals import signals_raise_terminated
from agent.drill.servers import drill_server
from agent.pitr.planning import ReplayPlan, plan_point_in_time
from agent.pitr.replay import PointInTimeResult, restore_to_point
from agent.pitr.until import point_summary
from agent.restore.restoring import RestoreRequest
from shared.config import ConfigValues, Endpoint, load_destination, load_retry, load_tmp_dir
from shared.encryption import load_decryption_settings
from shared.server_info import read_inventory
from shared.storage import Storage


@dataclass(frozen=True)
class PointDrillReport:
    result: PointInTimeResult
    tables: int  # user tables in the drilled server after the replay
    seconds: float
    restore_seconds: float = 0.0  # the load and the replay alone: the recovery time to that point
    server_version: str = ""

    def as_text(self) -> str:
        restored = point_summary(self.result, target="a throwaway server")
        return (f"point-in-time restore test passed in {self.seconds} s: {restored}\n"
                f"  the drilled server holds {self.tables} user table(s)")


def run_point_drill(storage: Storage, *, prefix: str, backups: list[BackupEntry], until: datetime,
                    run_dir: Path, identities: Sequence[Any] = (),
                    address: Endpoint | None = None) -> PointDrillReport:
    """``address``: the drill Job's server; None starts a throwaway one here (``agent.drill.servers``)."""
    clock = time.monotonic()
    plan = plan_point_in_time(storage, prefix=prefix, backups=backups, until=until, work_dir=run_dir,
                              identities=identities)
    report = drill_plan(storage, plan, run_dir=run_dir, identities=identities, address=address)
    return replace(report, seconds=round(time.monotonic() - clock, 2))


def drill_plan(storage: Storage, plan: ReplayPlan, *, run_dir: Path, identities: Sequence[Any] = (),
               address: Endpoint | None = None) -> PointDrillReport:
    """Load the plan's backup and replay its transactions into an empty server (given, or started here)."""
    clock = time.monotonic()
    with drill_server(address, run_dir=run_dir) as server:
        defaults = server.defaults_file
        restore_clock = time.monotonic()
        # The load checks the SHA1 on the bytes it loads: a separate verification pass adds nothing here.
        # Confirmed: the server holds no user database (checked, or just made); the accounts it has (the
        # MariaDB image makes healthcheck users) are the image's, not data to protect.
        request = RestoreRequest(verify_first=False, confirmed=True)
        result = restore_to_point(storage, plan, defaults_file=defaults, request=request, run_dir=run_dir,
                                  identities=identities)
        restore_seconds = round(time.monotonic() - restore_clock, 2)
        tables = len(read_inventory(defaults).tables)
        version = server.version()
    return PointDrillReport(result=result, tables=tables, seconds=round(time.monotonic() - clock, 2),
                            restore_seconds=restore_seconds, server_version=version)


def drill_point_in_time(config: ConfigValues, *, until: datetime) -> PointDrillReport:
    """``verify --restore-test --until TIME``: the same plan, load and replay into a throwaway server."""
    bucket = open_bucket(load_destination(config), load_retry(config))
    backups = scan_backups(bucket.storage, prefix=bucket.prefix)
    identities = configured_identities(load_decryption_settings(config), what="the backup and binlog segments")
    with signals_raise_terminated(), private_run_dir(load_tmp_dir(config)) as run_dir:
        return run_point_drill(bucket.storage, prefix=bucket.prefix, backups=backups, until=until, run_dir=run_dir,
                               identities=identities)
