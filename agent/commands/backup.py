"""``mariadb-ha-backup backup``: one backup run, then a summary (``--json``: one JSON object on stdout)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from agent.commands.options import add_command
from shared.config import ConfigValues, load_backup_settings
from shared.encryption import load_encryption_settings
from shared.errors import EXIT_OK, BadInputError
from shared.storage.object_lock import load_lock_settings


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "backup", run=run, summary="run one backup now",
                         description="Dump the cluster, compress, hash and upload one backup.",
                         json_help="print the summary as one JSON object on stdout")
    parser.add_argument("--incremental", action="store_true",
                        help="physical: an incremental on the newest physical backup, whatever BACKUP_FULL_EVERY says")


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.backup import backup_summary, reported_run, reporting_settings_from, run_backup, run_physical_backup
    from agent.common import byte_progress, signals_raise_terminated
    from agent.retention import retain_after_backup

    # Reporting settings first, so even a bad configuration of the backup itself is reported.
    with reported_run(reporting_settings_from(config)) as outcome:
        settings = load_backup_settings(config)
        if args.incremental and not settings.method.physical:
            raise BadInputError("--incremental needs BACKUP_METHOD=physical (--method physical)")
        lock, encryption = load_lock_settings(config), load_encryption_settings(config)
        with signals_raise_terminated(), byte_progress("dump") as progress:
            if settings.method.physical:
                result = outcome.result = run_physical_backup(settings, progress=progress, lock=lock,
                                                              encryption=encryption, incremental=args.incremental)
            else:
                result = outcome.result = run_backup(settings, progress=progress, lock=lock, encryption=encryption)
        retention = retain_after_backup(settings)
    print(json.dumps({**asdict(result), "pruned": retention}) if args.json else backup_summary(result))
    return EXIT_OK
