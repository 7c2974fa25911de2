"""``mariadb-ha-backup drill [ID | --latest]``: restore a backup into an empty server, check it, record it.

What the drill Job runs (``DRILL_SERVER`` names its second container); by hand it starts a throwaway
``mariadbd`` here, like ``verify --restore-test``. Writes ``drill.json`` beside the backup, publishes
the drill gauges and notifies on failure (agent/drill). Exit 0 passed, 1 failed, 2 bad input.
"""

from __future__ import annotations

import argparse
from typing import Any

from agent.commands.options import add_config_flags
from shared.config import ConfigValues, load_destination, load_retry, load_tmp_dir
from shared.encryption import load_decryption_settings
from shared.errors import EXIT_OK, BadInputError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "drill", help="restore a backup into an empty server, check it, and record drill.json beside it",
        description="Verify a backup, restore it into an empty MariaDB server (DRILL_SERVER, or a throwaway "
                    "mariadbd started here), check it against its manifest, and record the verdict and the "
                    "measured restore time in drill.json beside the backup. Exit 0 passed, 1 failed, 2 bad input.")
    parser.add_argument("backup_id", nargs="?", metavar="ID", help="backup id (default: the newest complete backup)")
    parser.add_argument("--latest", action="store_true", help="the newest complete backup (the default)")
    parser.add_argument("--json", action="store_true", help="print the drill record as JSON on stdout")
    add_config_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.drill.reporting import drill_reporting_from, report_drill

    if args.backup_id and args.latest:
        raise BadInputError("give either an ID or --latest, not both")
    reporting, target = drill_reporting_from(config)
    try:
        outcome = _drill(args, config)
    except BaseException as exc:  # reported like a failed drill, then exit code as usual
        report_drill(None, reporting, target=target, error=exc, record_key=None)
        raise
    report_drill(outcome.record, reporting, target=target, error=outcome.error, record_key=outcome.record_key)
    if outcome.record is not None:
        print(outcome.record.to_json().rstrip() if args.json else _summary(outcome.record, outcome.record_key))
    if outcome.error is not None:
        raise outcome.error
    return EXIT_OK


def _drill(args: argparse.Namespace, config: ConfigValues) -> Any:
    from agent.bucket import open_bucket
    from agent.catalog import scan_backups, select_backup
    from agent.decryption import identities_for
    from agent.drill.given_server import parse_address
    from agent.drill.run import run_recorded_drill
    from agent.run_dir import private_run_dir
    from agent.signals import signals_raise_terminated

    address = parse_address(config["DRILL_SERVER"]) if config.get("DRILL_SERVER") else None
    decryption = load_decryption_settings(config)
    bucket = open_bucket(load_destination(config), load_retry(config))
    entry = select_backup(scan_backups(bucket.storage, prefix=bucket.prefix), backup_id=args.backup_id, latest=True)
    assert entry.manifest is not None  # select_backup returns complete backups only
    identities = identities_for(entry.manifest, decryption, required=True)
    with signals_raise_terminated(), private_run_dir(load_tmp_dir(config)) as run_dir:
        return run_recorded_drill(bucket.storage, prefix=bucket.prefix, entry=entry, address=address,
                                  run_dir=run_dir, identities=identities)


def _summary(record: Any, key: str | None) -> str:
    if not record.passed:
        return f"restore drill of backup {record.backup_id} FAILED: {record.reason}\n  recorded in {key}"
    checked = ", ".join(f"{n} {kind}" for kind, n in record.checked.items())
    lines = [f"restore drill of backup {record.backup_id} passed: restored in {record.restore_seconds} s "
             f"({record.restored_bytes:,} bytes of SQL, {_rate(record.bytes_per_second)}) into the {record.server} "
             f"(MariaDB {record.server_version})",
             f"  checked     {checked}",
             *(f"  not checked {item}" for item in record.not_checked),
             f"  recorded in {key}"]
    return "\n".join(lines)


def _rate(bytes_per_second: float | None) -> str:
    return f"{(bytes_per_second or 0) / 2**20:.1f} MiB/s"
