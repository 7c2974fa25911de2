"""``mariadb-ha-backup restore --until TIME``: the state at TIME, from a backup plus the binlog archive.

Everything that can refuse (TIME beyond the archive, a gap, no usable backup, a damaged segment, a
target holding data without ``--yes``) is decided before the first write to the target; see
``agent.pitr_planning`` and ``agent.pitr_replay``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from agent.bucket import open_bucket
from agent.catalog import parse_time, scan_backups
from agent.credentials import resolve_password
from agent.decryption import configured_identities
from agent.pitr_drill import run_point_drill
from agent.pitr_planning import plan_point_in_time
from agent.pitr_replay import PointInTimeResult, restore_to_point
from agent.progress import byte_progress
from agent.restoring import RestoreRequest
from agent.run_dir import private_run_dir
from agent.signals import signals_raise_terminated
from shared.config import (
    ConfigValues,
    load_destination,
    load_restore_confirmed,
    load_retry,
    load_source,
    load_tmp_dir,
)
from shared.encryption import load_decryption_settings
from shared.errors import BadInputError
from shared.logs import register_secret
from shared.mariadb_client import write_defaults_file


def run_until(args: argparse.Namespace, config: ConfigValues) -> int:
    if args.datadir is not None:
        from agent.commands.restore_datadir import run_until_datadir

        return run_until_datadir(args, config)
    if args.database:
        raise BadInputError("--until restores every database: it cannot be combined with --database")
    until = parse_time(args.until, flag="--until")
    source = load_source(config)
    password = resolve_password(source)
    register_secret(password)
    bucket = open_bucket(load_destination(config), load_retry(config))
    backups = scan_backups(bucket.storage, prefix=bucket.prefix)
    identities = configured_identities(load_decryption_settings(config), what="the backup and binlog segments")
    request = RestoreRequest(verify_first=args.verify_first, confirmed=args.yes or load_restore_confirmed(config))
    tmp_dir = load_tmp_dir(config)
    with signals_raise_terminated(), private_run_dir(tmp_dir) as run_dir, byte_progress("restore") as progress:
        plan = plan_point_in_time(bucket.storage, prefix=bucket.prefix, backups=backups, until=until, work_dir=run_dir,
                                  identities=identities)
        defaults = write_defaults_file(run_dir, host=source.host, port=source.port, user=source.user,
                                       password=password)
        result = restore_to_point(bucket.storage, plan, defaults_file=defaults, request=request, run_dir=run_dir,
                                  progress=progress, identities=identities)
    print(json.dumps(asdict(result)) if args.json else summary(result, target=source.address))
    return 0


def drill_until(args: argparse.Namespace, config: ConfigValues) -> int:
    """``verify --restore-test --until TIME``: the same plan, load and replay into a throwaway server."""
    if not args.restore_test or args.backup_id or args.latest:
        raise BadInputError("--until drills a point in time: use it with --restore-test and without ID/--latest")
    until = parse_time(args.until, flag="--until")
    bucket = open_bucket(load_destination(config), load_retry(config))
    backups = scan_backups(bucket.storage, prefix=bucket.prefix)
    identities = configured_identities(load_decryption_settings(config), what="the backup and binlog segments")
    with signals_raise_terminated(), private_run_dir(load_tmp_dir(config)) as run_dir:
        drill = run_point_drill(bucket.storage, prefix=bucket.prefix, backups=backups, until=until, run_dir=run_dir,
                                identities=identities)
    if args.json:
        print(json.dumps({**asdict(drill), "ok": True}))
    else:
        restored = summary(drill.result, target="a throwaway server")
        print(f"point-in-time restore test passed in {drill.seconds} s: {restored}\n"
              f"  the drilled server holds {drill.tables} user table(s)")
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
