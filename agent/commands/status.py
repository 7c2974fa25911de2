"""``mariadb-ha-backup status``: the newest complete backup, the point-in-time window, and a verdict.

Exit 0 when the newest complete backup is younger than ``--max-age`` (``BACKUP_MAX_AGE``, default
26h), 1 when it is older or there is none, 2 on bad input: a check a CronJob, CI job or monitoring
probe can run as is.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from agent.commands.options import add_command
from shared.config import ConfigValues
from shared.errors import EXIT_FAILED, EXIT_OK


def register(subparsers: Any) -> None:
    add_command(  # --max-age DURATION [BACKUP_MAX_AGE] comes from the option table
        subparsers, "status", run=run, summary="is the newest complete backup recent enough? (exit 1 if not)",
        description="Show the newest complete backup and the point-in-time restorable range; exit 0 when "
                    "the newest complete backup is younger than --max-age, 1 when older or none, 2 on bad input.",
        json_help="print one JSON object on stdout")


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.status import check_status

    checked = check_status(config)
    print(json.dumps(checked.as_json(), indent=2) if args.json else checked.as_text())
    return EXIT_OK if checked.ok else EXIT_FAILED
