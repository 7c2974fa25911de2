"""``mariadb-ha-backup restore [ID | --latest | --at TIME | --until TIME] [--datadir DIR]``: load a backup into the
target server, or with ``--datadir`` make a physical backup (and its chain) into a data directory.

The target is configured like the backup's source (``MARIADB_HOST``/``--host``, port, user, and the
password from ``MARIADB_PASSWORD``, ``MARIADB_PASSWORD_FILE`` or the Kubernetes Secret).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.commands.options import add_command
from shared.config import RESTORE_YES_ENV, ConfigValues, load_source
from shared.errors import EXIT_OK, BadInputError

# Logical-only options, as the user typed them: (attribute, flag, its default). A data directory (--datadir)
# is the whole server: these are refused with it, with one line.
_LOGICAL_ONLY = (("database", "--database", None), ("parallel", "--parallel", None))


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers, "restore", run=run, summary="restore a backup into the target server",
        description="Stream a backup from the bucket, verify it, decompress it and load it with the mariadb "
                    "client into the target server (--host/MARIADB_HOST).",
        json_help="print the result as one JSON object on stdout")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("backup_id", nargs="?", metavar="ID", help="backup id (YYYYMMDDTHHMMSSZ)")
    which.add_argument("--latest", action="store_true", help="the newest complete backup")
    which.add_argument("--at", metavar="TIME", help="the newest complete backup at or before TIME (UTC unless an "
                                                    "offset is given): 2024-05-01T12:00:00Z, 2024-05-01, or an id")
    which.add_argument("--until", metavar="TIME",
                       help="point in time: the state at TIME (to the second, UTC unless an offset is given) from "
                            "the newest usable backup plus the archived binlog; 'latest': as far as the archive "
                            "reaches (docs/PITR.md)")
    parser.add_argument("--database", metavar="NAME", help="restore only this database out of the dump")
    parser.add_argument("--no-verify-first", dest="verify_first", action="store_false",
                        help="skip the verification pass (the SHA1 is still checked while loading)")
    parser.add_argument("--yes", action="store_true",
                        help=f"restore even though the target already has user databases [{RESTORE_YES_ENV}=1]")
    parser.add_argument("--parallel", metavar="N", type=_sessions, default=None,
                        help="load over N client sessions at once: one table's rows on all of them, DDL in dump "
                             "order (default: the CPU count, at least 2, at most 8); 1 = one plain mariadb "
                             "client, as `mariadb < dump.sql`")
    parser.add_argument("--datadir", metavar="DIR", type=Path,
                        help="physical backups: make DIR (absent or empty) a prepared data directory that mariadbd "
                             "starts on, instead of loading into a server")
    parser.add_argument("--owner", metavar="USER[:GROUP]",
                        help="with --datadir: give the files to the server's user (e.g. mysql:mysql)")


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.restore import restore_configured, restore_summary
    from shared.times import parse_time

    if args.until:
        return _run_until(args, config)
    if not (args.backup_id or args.latest or args.at):
        raise BadInputError("say which backup to restore: an ID, --latest, --at TIME or --until TIME")
    at = parse_time(args.at, what="--at") if args.at else None
    if args.datadir is not None:
        return _run_datadir(args, config, at=at)
    result = restore_configured(config, backup_id=args.backup_id, latest=args.latest, at=at, database=args.database,
                                verify_first=args.verify_first, confirmed=args.yes, sessions=args.parallel)
    print(json.dumps(asdict(result)) if args.json else restore_summary(result, target=load_source(config).address))
    return EXIT_OK


def _run_until(args: argparse.Namespace, config: ConfigValues) -> int:
    from agent.pitr import point_summary, restore_until
    from shared.times import parse_time

    if args.datadir is not None:
        return _run_until_datadir(args, config)
    if args.database:
        raise BadInputError("--until restores every database: it cannot be combined with --database")
    until = None if args.until.strip().lower() == "latest" else parse_time(args.until, what="--until")
    result = restore_until(config, until=until, verify_first=args.verify_first, confirmed=args.yes)
    print(json.dumps(asdict(result)) if args.json else point_summary(result, target=load_source(config).address))
    return EXIT_OK


def _run_datadir(args: argparse.Namespace, config: ConfigValues, *, at: datetime | None) -> int:
    """``--datadir DIR [ID | --latest | --at TIME]``: a physical backup (and its chain) made into a data directory."""
    from agent.restore import datadir_summary, restore_datadir_configured

    _refuse_logical_options(args)
    result = restore_datadir_configured(config, backup_id=args.backup_id, latest=args.latest, at=at,
                                        datadir=args.datadir, owner=args.owner)
    print(json.dumps(asdict(result)) if args.json else datadir_summary(result))
    return EXIT_OK


def _run_until_datadir(args: argparse.Namespace, config: ConfigValues) -> int:
    """``--until TIME --datadir DIR``: the newest physical base that reaches TIME, prepared, then replayed."""
    from agent.drill import ThrowawayServer
    from agent.pitr import point_summary, restore_datadir_until
    from shared.times import parse_time

    _refuse_logical_options(args)
    result = restore_datadir_until(config, until=parse_time(args.until, what="--until"), datadir=args.datadir,
                                   owner=args.owner, start_server=lambda datadir: ThrowawayServer(datadir=datadir))
    print(json.dumps(asdict(result)) if args.json else point_summary(result, target=f"data directory {args.datadir}"))
    return EXIT_OK


def _refuse_logical_options(args: argparse.Namespace) -> None:
    """Exit 2, before anything is read, for options a data directory cannot honour, or a bad target."""
    from agent.restore import check_datadir_target, check_owner

    for attribute, flag, default in _LOGICAL_ONLY:
        if getattr(args, attribute) != default:
            raise BadInputError(f"{flag} applies to logical backups; a physical restore (--datadir) restores "
                                "the whole data directory")
    check_datadir_target(args.datadir)
    if args.owner:
        check_owner(args.owner)


def _sessions(text: str) -> int:
    limit = 64  # a typo guard: every session is a client process and a server connection
    if not text.isdigit() or not 1 <= int(text) <= limit:
        raise argparse.ArgumentTypeError(f"expected a number of sessions from 1 to {limit}, got {text!r}")
    return int(text)
