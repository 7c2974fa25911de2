"""``mariadb-ha-backup prune [--keep-last N] [--max-age DAYS] [--dry-run]``: apply retention now.

The policy comes from the flags or from ``BACKUP_KEEP_LAST`` / ``BACKUP_MAX_AGE_DAYS`` (the same
settings the backup applies after a successful run). Without any policy, prune only removes
incomplete leftovers older than a day.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from agent.commands.options import add_command
from shared.config import ConfigValues
from shared.errors import EXIT_OK


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers, "prune", run=run, summary="delete backups outside the retention policy",
        description="Delete whole backups (archive, sidecar, manifest) outside the policy; never the newest "
                    "complete backup. Also removes incomplete leftovers older than a day.",
        json_help="print the removals as one JSON array on stdout")
    parser.add_argument("--max-age", dest="cfg_backup_max_age_days", metavar="DAYS",
                        help="delete backups older than DAYS days [BACKUP_MAX_AGE_DAYS]")
    parser.add_argument("--dry-run", action="store_true", help="only print what would be deleted")


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.retention import prune_configured, prune_summary

    removals = prune_configured(config, dry_run=args.dry_run)
    if args.json:
        print(json.dumps([{**asdict(r), "dry_run": args.dry_run} for r in removals]))
    else:
        print(prune_summary(removals, dry_run=args.dry_run))
    return EXIT_OK
