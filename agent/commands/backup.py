"""``mariadb-ha-backup backup``: one backup run, then a summary (``--json``: one JSON object on stdout)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from agent.commands.options import add_config_flags
from shared.config import ConfigValues, Settings, load_backup_settings
from shared.encryption import load_encryption_settings
from shared.errors import EXIT_OK
from shared.storage.object_lock import load_lock_settings

if TYPE_CHECKING:
    from agent.backup import BackupResult


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backup", help="run one backup now", description="Dump the cluster, compress, hash and upload one backup."
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    add_config_flags(parser, "backup")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.backup import reported_run, reporting_settings_from, run_backup
    from agent.common import byte_progress, signals_raise_terminated

    # Reporting settings first, so even a bad configuration of the backup itself is reported.
    with reported_run(reporting_settings_from(config)) as outcome:
        settings = load_backup_settings(config)
        lock, encryption = load_lock_settings(config), load_encryption_settings(config)
        with signals_raise_terminated(), byte_progress("dump") as progress:
            result = outcome.result = run_backup(settings, progress=progress, lock=lock, encryption=encryption)
        retention = _apply_retention(settings)
    print(json.dumps({**asdict(result), "pruned": retention}) if args.json else _summary(result))
    return EXIT_OK


def _apply_retention(settings: Settings) -> list[str]:
    """Retention runs only after a successful backup, and only when configured; its storage calls are
    retried like the ``prune`` command's."""
    if not settings.keep.configured:
        return []
    from agent.common import open_bucket
    from agent.retention import apply_retention

    deleted: list[str] = apply_retention(
        open_bucket(settings.destination, settings.retry).storage,
        prefix=settings.destination.prefix,
        keep_last=settings.keep.keep_last,
        max_age_days=settings.keep.max_age_days,
    )
    return deleted


def _summary(r: BackupResult) -> str:
    rate = r.raw_bytes / r.duration_seconds / 1e6 if r.duration_seconds else 0.0
    ratio = r.raw_bytes / r.compressed_bytes if r.compressed_bytes else 0.0
    return "\n".join(
        [
            f"backup {r.backup_id} complete in {r.duration_seconds:.1f} s ({rate:.0f} MB/s of dump)",
            f"  storage     {r.storage_url}",
            f"  archive     {r.artifact_key}",
            f"  sha1        {r.sha1}  ({r.sha1_key})",
            f"  manifest    {r.manifest_key}",
            f"  size        {r.raw_bytes:,} bytes dumped -> {r.compressed_bytes:,} bytes stored ({ratio:.1f}x)",
            # What will not come back exactly as it was (agent/backup/checks.py), also in the manifest.
            *(f"  warning     {w}" for w in r.warnings),
        ]
    )
