"""``mariadb-ha-backup verify [ID | --latest] [--restore-test]``: is a stored backup intact, and does it restore?"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from agent.commands.options import add_command
from shared.config import ConfigValues
from shared.errors import EXIT_OK, BadInputError
from shared.manifest import PHYSICAL


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
    from agent.drill import select_for_verify, verify_configured
    from agent.verify import raise_if_failed

    if args.backup_id and args.latest:
        raise BadInputError("give either an ID or --latest, not both")
    if args.until:
        return _drill_until(args, config)
    selected = select_for_verify(config, backup_id=args.backup_id)
    if selected.manifest.method == PHYSICAL:
        from agent.commands.verify_physical import verify_physical

        return verify_physical(args, config, selected.manifest, entries=selected.entries, storage=selected.storage)
    outcome = verify_configured(config, selected, restore_test=args.restore_test)
    result: dict[str, Any] = {**asdict(outcome.report), "ok": outcome.report.ok}
    if outcome.drill is not None:
        result["restore_test"] = asdict(outcome.drill)
    print(json.dumps(result) if args.json else summary(result))
    raise_if_failed(outcome.report)
    return EXIT_OK


def _drill_until(args: argparse.Namespace, config: ConfigValues) -> int:
    from agent.drill import drill_point_in_time
    from agent.pitr import point_summary
    from shared.times import parse_time

    if not args.restore_test or args.backup_id or args.latest:
        raise BadInputError("--until drills a point in time: use it with --restore-test and without ID/--latest")
    drill = drill_point_in_time(config, until=parse_time(args.until, what="--until"))
    if args.json:
        print(json.dumps({**asdict(drill), "ok": True}))
    else:
        restored = point_summary(drill.result, target="a throwaway server")
        print(f"point-in-time restore test passed in {drill.seconds} s: {restored}\n"
              f"  the drilled server holds {drill.tables} user table(s)")
    return EXIT_OK


def summary(result: dict[str, Any]) -> str:
    if not result["ok"]:
        problems = "\n".join(f"  - {p}" for p in result["problems"])
        return f"backup {result['backup_id']} FAILED verification:\n{problems}"
    lines = [f"backup {result['backup_id']} OK: SHA1 {result['sha1']} matches the .sha1 sidecar and the manifest"]
    if result["content_checked"]:
        lines.append(f"  {result['stored_bytes']:,} bytes stored, {result['raw_bytes']:,} bytes of dump, "
                     "archive read to the end")
    else:
        lines.append(f"  {result['stored_bytes']:,} bytes stored; content NOT checked: the backup is encrypted and "
                     "no identity was given (BACKUP_DECRYPT_IDENTITY_FILE or BACKUP_DECRYPT_IDENTITY_SECRET)")
    drill = result.get("restore_test")
    if drill:
        checked = ", ".join(f"{n} {kind}" for kind, n in drill["checked"].items())
        lines.append(f"  restore test passed in {drill['seconds']} s: restored into a throwaway server and found "
                     f"every object the manifest lists, with its rows ({checked})")
        lines += [f"  not checked: {item}" for item in drill.get("not_checked", [])]
    return "\n".join(lines)
