"""``mariadb-ha-backup status``: the newest complete backup, the point-in-time window, and a verdict.

Exit 0 when the newest complete backup is younger than ``--max-age`` (``BACKUP_MAX_AGE``, default
26h), 1 when it is older or there is none, 2 on bad input: a check a CronJob, CI job or monitoring
probe can run as is.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from agent.commands.options import add_config_flags
from shared.config import ConfigValues, load_destination, load_retry
from shared.errors import EXIT_FAILED, EXIT_OK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="is the newest complete backup recent enough? (exit 1 if not)",
        description="Show the newest complete backup and the point-in-time recovery window; exit 0 when "
                    "the newest complete backup is younger than --max-age, 1 when older or none, 2 on bad input.")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_config_flags(parser, "status")  # includes --max-age DURATION [BACKUP_MAX_AGE]
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.common import open_bucket, scan_backups
    from agent.pitr import pitr_status_json, read_archive
    from agent.status import DEFAULT_MAX_AGE, OK, assess, parse_duration, pitr_text, status_json, status_text

    max_age = parse_duration(config.get("BACKUP_MAX_AGE", DEFAULT_MAX_AGE), name="--max-age")
    bucket = open_bucket(load_destination(config), load_retry(config))
    entries = scan_backups(bucket.storage, prefix=bucket.prefix)
    now = datetime.now(UTC)
    freshness = assess(entries, now=now, max_age=max_age)
    archive = read_archive(bucket.storage, bucket.prefix)
    if args.json:
        pitr = pitr_status_json(archive, entries, now=now) if archive.history else None
        print(json.dumps({**status_json(freshness, bucket), "pitr": pitr}, indent=2))
    else:
        print(status_text(freshness, bucket) + "\n" + pitr_text(archive, entries, now=now))
    return EXIT_OK if freshness.verdict == OK else EXIT_FAILED
