"""``restore --until TIME``: the state at TIME, from a backup plus the binlog archive.

Everything that can refuse (TIME beyond the archive, a gap, no usable backup, a damaged segment, a
target holding data without ``--yes``) is decided before the first write to the target; see
``agent.pitr.planning`` and ``agent.pitr.replay``.
"""

from __future__ import annotations

from datetime import datetime

from agent.common.bucket import open_bucket
from agent.common.catalog import scan_backups
from agent.common.credentials import resolve_password
from agent.common.decryption import configured_identities
from agent.common.progress import byte_progress
from agent.common.run_dir import private_run_dir
from agent.common.signals import signals_raise_terminated
from agent.pitr.planning import PointInTimeRefusedError, plan_point_in_time
from agent.pitr.replay import PointInTimeResult, restore_to_point
from agent.pitr.windows import read_archive
from agent.restore.restoring import RestoreRequest
from shared.config import ConfigValues, load_destination, load_restore_confirmed, load_retry, load_source, load_tmp_dir
from shared.encryption import load_decryption_settings
from shared.logs import register_secret
from shared.mariadb_client import write_defaults_file
from shared.storage import Storage


def restore_until(config: ConfigValues, *, until: datetime | None, verify_first: bool,
                  confirmed: bool) -> PointInTimeResult:
    """Plan, then load the base backup and replay the archive up to ``until`` (None: as far as the archive
    reaches, its checkpoint included: ``--until latest``) into the configured target."""
    source = load_source(config)
    password = resolve_password(source)
    register_secret(password)
    bucket = open_bucket(load_destination(config), load_retry(config))
    backups = scan_backups(bucket.storage, prefix=bucket.prefix)
    identities = configured_identities(load_decryption_settings(config), what="the backup and binlog segments")
    request = RestoreRequest(verify_first=verify_first, confirmed=confirmed or load_restore_confirmed(config))
    if until is None:
        until = latest_reach(bucket.storage, bucket.prefix)
    with signals_raise_terminated(), private_run_dir(load_tmp_dir(config)) as run_dir, \
            byte_progress("restore") as progress:
        plan = plan_point_in_time(bucket.storage, prefix=bucket.prefix, backups=backups, until=until, work_dir=run_dir,
                                  identities=identities)
        defaults = write_defaults_file(run_dir, host=source.host, port=source.port, user=source.user,
                                       password=password)
        return restore_to_point(bucket.storage, plan, defaults_file=defaults, request=request, run_dir=run_dir,
                                progress=progress, identities=identities)


def latest_reach(storage: Storage, prefix: str) -> datetime:
    view = read_archive(storage, prefix)
    if not view.windows:
        raise PointInTimeRefusedError("--until latest: nothing is archived since the last gap: run archive-binlogs")
    return view.end_of(view.windows[-1])


def point_summary(r: PointInTimeResult, *, target: str) -> str:
    lines = [f"restored the state at {r.until} into {target}",
             f"  base backup  {r.backup_id} (snapshot GTID state {r.start_state or '(empty)'})"]
    if r.transactions:
        lines += [f"  replayed     {r.transactions:,} transaction(s), GTID {r.first_gtid} .. {r.last_gtid} "
                  f"(state {r.start_state or '(empty)'} -> {r.end_state}), {r.replay_bytes:,} binlog bytes "
                  f"from {r.segments} segment(s), one client session",
                  f"  last transaction replayed committed at {r.last_time}"]
    else:
        lines.append("  replayed     nothing: no transaction was committed between the snapshot and that second")
    return "\n".join(lines)
