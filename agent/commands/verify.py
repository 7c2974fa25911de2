"""``mariadb-ha-backup verify [ID | --latest] [--restore-test]``: is a stored backup intact, and does it restore?"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from agent.commands.options import add_command
from shared.config import ConfigValues
from shared.errors import EXIT_OK, BadInputError


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers, "verify", run=run,
        summary="check a backup's SHA1 and archive; --restore-test restores it into a throwaway server",
        description="Stream a backup from the bucket and check it against its .sha1 sidecar and manifest "
                    "(no temp disk). Without ID, the latest complete backup is checked.",
        json_help="print the result as one JSON object on stdout")
    parser.add_argument("backup_id", nargs="?", metavar="ID", help="backup id (YYYYMMDDTHHMMSSZ)")
    parser.add_argument("--latest", action="store_true", help="the newest complete backup (the default)")
    parser.add_argument("--restore-test", action="store_true",
                        help="also restore it into a throwaway local mariadbd and check the schema inventory")
    parser.add_argument("--until", metavar="TIME",
                        help="with --restore-test: drill a point in time (backup + binlog replay up to TIME)")


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.drill import verify_configured

    if args.backup_id and args.latest:
        raise BadInputError("give either an ID or --latest, not both")
    if args.until:
        return _drill_until(args, config)
    outcome = verify_configured(config, backup_id=args.backup_id, restore_test=args.restore_test)
    print(json.dumps(outcome.result) if args.json else outcome.as_text())
    outcome.raise_if_failed()
    return EXIT_OK


def _drill_until(args: argparse.Namespace, config: ConfigValues) -> int:
    from agent.drill import drill_point_in_time
    from shared.times import parse_time

    if not args.restore_test or args.backup_id or args.latest:
        raise BadInputError("--until drills a point in time: use it with --restore-test and without ID/--latest")
    drill = drill_point_in_time(config, until=parse_time(args.until, what="--until"))
    print(json.dumps({**asdict(drill), "ok": True}) if args.json else drill.as_text())
    return EXIT_OK
