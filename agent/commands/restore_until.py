"""``mariadb-ha-backup restore --until TIME``: the state at TIME, from a backup plus the binlog archive.

Everything that can refuse (TIME beyond the archive, a gap, no usable backup, a damaged segment, a
target holding data without ``--yes``) is decided before the first write to the target; see
``agent.pitr_planning`` and ``agent.pitr_replay``.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict

from agent.backup import private_run_dir, resolve_password
from agent.bucket import open_bucket
from agent.catalog import parse_time, scan_backups
from agent.commands.options import settings_from_args
from agent.pitr_planning import plan_point_in_time
from agent.pitr_replay import PointInTimeResult, restore_to_point
from agent.progress import byte_progress
from agent.restoring import YES_ENV, RestoreRequest
from agent.signals import signals_raise_terminated
from shared.dump import write_defaults_file
from shared.errors import BadInputError
from shared.logs import register_secret


def run_until(args: argparse.Namespace) -> int:
    if args.database:
        raise BadInputError("--until restores every database: it cannot be combined with --database")
    until = parse_time(args.until, flag="--until")
    settings = settings_from_args(args)
    password = resolve_password(settings)
    register_secret(password)
    bucket = open_bucket(settings.destination)
    backups = scan_backups(bucket.storage, prefix=bucket.prefix)
    request = RestoreRequest(verify_first=args.verify_first, confirmed=args.yes or os.environ.get(YES_ENV) == "1")
    with signals_raise_terminated(), private_run_dir(settings.tmp_dir) as run_dir, byte_progress("restore") as progress:
        plan = plan_point_in_time(bucket.storage, prefix=bucket.prefix, backups=backups, until=until, work_dir=run_dir)
        defaults = write_defaults_file(run_dir, host=settings.host, port=settings.port, user=settings.user,
                                       password=password)
        result = restore_to_point(bucket.storage, plan, defaults_file=defaults, request=request, run_dir=run_dir,
                                  progress=progress)
    print(json.dumps(asdict(result)) if args.json else summary(result, target=f"{settings.host}:{settings.port}"))
    return 0


def summary(r: PointInTimeResult, *, target: str) -> str:
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
