"""``mariadb-ha-backup drill [ID | --latest]``: restore a backup into an empty server, check it, record it.

What the drill Job runs (``DRILL_SERVER`` names its second container); by hand it starts a throwaway
``mariadbd`` here, like ``verify --restore-test``. Writes ``drill.json`` beside the backup, publishes
the drill gauges and notifies on failure (agent/drill). Exit 0 passed, 1 failed, 2 bad input.
"""

from __future__ import annotations

import argparse
from typing import Any

from agent.commands.options import add_command
from shared.config import ConfigValues
from shared.errors import EXIT_OK, BadInputError


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers, "drill", run=run,
        summary="restore a backup into an empty server, check it, and record drill.json beside it",
        description="Verify a backup, restore it into an empty MariaDB server (DRILL_SERVER, or a throwaway "
                    "mariadbd started here), check it against its manifest, and record the verdict and the "
                    "measured restore time in drill.json beside the backup. Exit 0 passed, 1 failed, 2 bad input.",
        json_help="print the drill record as JSON on stdout")
    parser.add_argument("backup_id", nargs="?", metavar="ID", help="backup id (default: the newest complete backup)")
    parser.add_argument("--latest", action="store_true", help="the newest complete backup (the default)")
    parser.add_argument("--point", action="store_true",
                        help="drill the newest archived second instead: the backup restore --until would pick, "
                             "then the binlog archive replayed to its end [DRILL_POINT=1]")


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.drill import drill_and_report, drill_summary

    if args.backup_id and args.latest:
        raise BadInputError("give either an ID or --latest, not both")
    point = args.point or config.get("DRILL_POINT", "").strip().lower() in ("1", "true", "yes")
    outcome = drill_and_report(config, backup_id=args.backup_id, point=point)
    if outcome.record is not None:
        print(outcome.record.to_json().rstrip() if args.json else drill_summary(outcome.record, outcome.record_key))
    if outcome.error is not None:
        raise outcome.error
    return EXIT_OK

