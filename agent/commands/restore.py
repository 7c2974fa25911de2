"""``mariadb-ha-backup restore [ID | --latest | --at TIME]``: load a backup into the target server.

The target is configured like the backup's source (``MARIADB_HOST``/``--host``, port, user, and the
password from ``MARIADB_PASSWORD``, ``MARIADB_PASSWORD_FILE`` or the Kubernetes Secret).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from agent.commands.options import add_config_flags
from shared.config import RESTORE_YES_ENV, ConfigValues, load_source
from shared.errors import EXIT_OK, BadInputError

if TYPE_CHECKING:
    from agent.restore import RestoreResult


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "restore", help="restore a backup into the target server",
        description="Stream a backup from the bucket, verify it, decompress it and load it with the mariadb "
                    "client into the target server (--host/MARIADB_HOST).")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("backup_id", nargs="?", metavar="ID", help="backup id (YYYYMMDDTHHMMSSZ)")
    which.add_argument("--latest", action="store_true", help="the newest complete backup")
    which.add_argument("--at", metavar="TIME", help="the newest complete backup at or before TIME (UTC unless an "
                                                    "offset is given): 2024-05-01T12:00:00Z, 2024-05-01, or an id")
    which.add_argument("--until", metavar="TIME",
                       help="point in time: the state at TIME (to the second, UTC unless an offset is given) from "
                            "the newest usable backup plus the archived binlog (docs/PITR.md)")
    parser.add_argument("--database", metavar="NAME", help="restore only this database out of the dump")
    parser.add_argument("--no-verify-first", dest="verify_first", action="store_false",
                        help="skip the verification pass (the SHA1 is still checked while loading)")
    parser.add_argument("--yes", action="store_true",
                        help=f"restore even though the target already has user databases [{RESTORE_YES_ENV}=1]")
    parser.add_argument("--parallel", metavar="N", type=_sessions, default=None,
                        help="load over N client sessions at once: one table's rows on all of them, DDL in dump "
                             "order (default: the CPU count, at least 2, at most 8); 1 = one plain mariadb "
                             "client, as `mariadb < dump.sql`")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")
    add_config_flags(parser, "restore")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.restore import restore_configured
    from shared.times import parse_time

    if args.until:
        return _run_until(args, config)
    if not (args.backup_id or args.latest or args.at):
        raise BadInputError("say which backup to restore: an ID, --latest, --at TIME or --until TIME")
    result = restore_configured(config, backup_id=args.backup_id, latest=args.latest,
                                at=parse_time(args.at, what="--at") if args.at else None, database=args.database,
                                verify_first=args.verify_first, confirmed=args.yes, sessions=args.parallel)
    print(json.dumps(asdict(result)) if args.json else _summary(result, target=load_source(config).address))
    return EXIT_OK


def _summary(r: RestoreResult, *, target: str) -> str:
    what = f"database {r.database}" if r.database else "all databases"
    verified = "verified first, " if r.verified_first else ""
    lines = [
        f"restored {what} from backup {r.backup_id} into {target}",
        f"  {verified}SHA1 {r.sha1} checked on the {r.stored_bytes:,} bytes downloaded; "
        f"{r.loaded_bytes:,} bytes of dump read",
    ]
    if r.accounts_created:
        lines.append(f"  accounts created: {', '.join(r.accounts_created)}")
    return "\n".join(lines + [f"  note: {note}" for note in r.notes])


def _run_until(args: argparse.Namespace, config: ConfigValues) -> int:
    from agent.pitr import point_summary, restore_until
    from shared.times import parse_time

    if args.database:
        raise BadInputError("--until restores every database: it cannot be combined with --database")
    until = parse_time(args.until, what="--until")
    result = restore_until(config, until=until, verify_first=args.verify_first, confirmed=args.yes)
    print(json.dumps(asdict(result)) if args.json else point_summary(result, target=load_source(config).address))
    return EXIT_OK


def _sessions(text: str) -> int:
    limit = 64  # a typo guard: every session is a client process and a server connection
    if not text.isdigit() or not 1 <= int(text) <= limit:
        raise argparse.ArgumentTypeError(f"expected a number of sessions from 1 to {limit}, got {text!r}")
    return int(text)
