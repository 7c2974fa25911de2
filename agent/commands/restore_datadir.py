"""``restore --datadir DIR [ID | --latest | --at TIME | --until TIME]``: a physical backup (and its chain) made
into a data directory, with ``--until`` the archived binlog replayed on it. The options that only mean
something for a SQL load are refused here, with one line."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime

from shared.config import ConfigValues
from shared.errors import EXIT_OK, BadInputError

# Logical-only options of `restore`, as the user typed them: (attribute, flag, its default).
_LOGICAL_ONLY = (("database", "--database", None), ("parallel", "--parallel", None))


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


def run_datadir(args: argparse.Namespace, config: ConfigValues, *, at: datetime | None) -> int:
    from agent.restore import restore_datadir_configured

    _refuse_logical_options(args)
    result = restore_datadir_configured(config, backup_id=args.backup_id, latest=args.latest, at=at,
                                        datadir=args.datadir, owner=args.owner)
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(f"restored backup {result.backup_id} into data directory {result.datadir} in {result.seconds} s\n"
              f"  chain {' -> '.join(result.chain)}: {result.stored_bytes:,} bytes downloaded, every SHA1 checked; "
              "prepared\n  start it: mariadbd --datadir=" + result.datadir
              + "".join(f"\n  note: {n}" for n in result.notes))
    return EXIT_OK


def run_until_datadir(args: argparse.Namespace, config: ConfigValues) -> int:
    """``--until TIME --datadir DIR``: the newest physical base that reaches TIME, prepared, then replayed."""
    from agent.drill import ThrowawayServer
    from agent.pitr import point_summary, restore_datadir_until
    from shared.times import parse_time

    _refuse_logical_options(args)
    result = restore_datadir_until(config, until=parse_time(args.until, what="--until"), datadir=args.datadir,
                                   owner=args.owner, start_server=lambda datadir: ThrowawayServer(datadir=datadir))
    print(json.dumps(asdict(result)) if args.json else point_summary(result, target=f"data directory {args.datadir}"))
    return EXIT_OK
