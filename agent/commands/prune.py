"""``mariadb-ha-backup prune [--keep-last N] [--max-age DAYS] [--dry-run]``: apply retention now.

The policy comes from the flags or from ``BACKUP_KEEP_LAST`` / ``BACKUP_MAX_AGE_DAYS`` (the same
settings the backup applies after a successful run). Without any policy, prune only removes
incomplete leftovers older than a day.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from agent.commands.options import add_config_flags
from shared.config import ConfigValues, load_destination, load_keep_policy, load_retry
from shared.errors import EXIT_OK

if TYPE_CHECKING:
    from agent.retention import Removal


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "prune", help="delete backups outside the retention policy",
        description="Delete whole backups (archive, sidecar, manifest) outside the policy; never the newest "
                    "complete backup. Also removes incomplete leftovers older than a day.")
    parser.add_argument("--max-age", dest="cfg_backup_max_age_days", metavar="DAYS",
                        help="delete backups older than DAYS days [BACKUP_MAX_AGE_DAYS]")
    parser.add_argument("--dry-run", action="store_true", help="only print what would be deleted")
    parser.add_argument("--json", action="store_true", help="print the removals as one JSON array on stdout")
    add_config_flags(parser, "prune")  # includes --keep-last N [BACKUP_KEEP_LAST] and --max-age-days
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.common import open_bucket
    from agent.retention import prune

    retention = load_keep_policy(config)
    bucket = open_bucket(load_destination(config), load_retry(config))
    removals = prune(bucket.storage, prefix=bucket.prefix, keep_last=retention.keep_last,
                     max_age_days=retention.max_age_days, dry_run=args.dry_run)
    if args.json:
        print(json.dumps([{**asdict(r), "dry_run": args.dry_run} for r in removals]))
    else:
        print(_summary(removals, dry_run=args.dry_run))
    return EXIT_OK


def _summary(removals: list[Removal], *, dry_run: bool) -> str:
    if not removals:
        return "nothing to delete"
    verb = "would delete" if dry_run else "deleted"
    return "\n".join(
        f"kept {r.backup_id} ({r.state}, {r.reason}): object lock retains it until {r.retained_until}"
        if r.retained_until else f"{verb} {r.backup_id} ({r.state}, {r.reason}, {len(r.keys)} object(s))"
        for r in removals)
