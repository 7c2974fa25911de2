"""``mariadb-ha-backup list``: complete backups, newest first; ``--all`` adds leftovers, marked."""

from __future__ import annotations

import argparse
from typing import Any

from agent.commands.options import add_command
from shared.config import ConfigValues
from shared.errors import EXIT_OK


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "list", run=run, summary="list backups, newest first",
                         description="List complete backups (those with a manifest), newest first.",
                         json_help="print one JSON array on stdout")
    parser.add_argument("--all", action="store_true", help="also show incomplete or damaged backup folders")


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.status import list_backups

    listing = list_backups(config, include_all=args.all)
    print(listing.as_json() if args.json else listing.as_text())
    return EXIT_OK
