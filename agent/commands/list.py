"""``mariadb-ha-backup list``: complete backups, newest first; ``--all`` adds leftovers, marked."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from agent.commands.options import add_config_flags
from shared.config import ConfigValues, load_destination, load_retry
from shared.errors import EXIT_OK

if TYPE_CHECKING:
    from agent.common import BackupEntry


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("list", help="list backups, newest first",
                                   description="List complete backups (those with a manifest), newest first.")
    parser.add_argument("--all", action="store_true", help="also show incomplete or damaged backup folders")
    parser.add_argument("--json", action="store_true", help="print one JSON array on stdout")
    add_config_flags(parser, "list")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.common import open_bucket, scan_backups
    from agent.pitr import pitr_json, read_archive, windows_text

    bucket = open_bucket(load_destination(config), load_retry(config))
    entries = [e for e in scan_backups(bucket.storage, prefix=bucket.prefix) if args.all or e.complete]
    archive = read_archive(bucket.storage, bucket.prefix)
    if args.json:
        print(json.dumps([{**as_json(e), **pitr_json(e, archive)} for e in entries], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not entries:
        print(f"no backups under {bucket.storage.url} {bucket.prefix}/")
    else:
        print(f"{'ID':<17} {'STATE':<10} {'FORMAT':<7} {'DUMP':>10} {'STORED':>10}  {'SHA1':<40}  SOURCE")
        print("\n".join(_line(e) for e in entries))
    if archive.history:
        print("\n" + windows_text(archive, entries))
    return EXIT_OK


def as_json(entry: BackupEntry) -> dict[str, Any]:
    base: dict[str, Any] = {"id": entry.backup_id, "state": entry.state, "complete": entry.complete,
                            "started_at": entry.started.isoformat(), "stored_bytes": entry.stored_bytes}
    if entry.manifest is None:
        return {**base, "problem": entry.problem, "keys": [o.key for o in entry.objects],
                "last_modified": entry.last_modified.isoformat()}
    m = entry.manifest
    return {**base, "finished_at": m.finished_at, "format": m.format, "artifact_key": m.artifact.key,
            "sha1": m.artifact.sha1, "raw_bytes": m.artifact.raw_bytes, "compressed_bytes": m.artifact.compressed_bytes,
            "layers": m.artifact.layers,
            "encryption": asdict(m.encryption) if m.encryption else None,
            "retention": asdict(m.retention) if m.retention else None,
            "source": {"host": m.source.host, "port": m.source.port, "server_version": m.source.server_version,
                       "namespace": m.source.namespace, "service": m.source.service,
                       "server_hostname": m.source.server_hostname, "gtid_binlog_pos": m.source.gtid_binlog_pos}}


def _line(entry: BackupEntry) -> str:
    m = entry.manifest
    if m is None:
        state = entry.state.upper()
        return f"{entry.backup_id:<17} {state:<10} {'-':<7} {'-':>10} {_size(entry.stored_bytes):>10}  " \
               f"{'-':<40}  {entry.problem or f'{len(entry.objects)} object(s), no manifest'}"
    source = f"{m.source.host}:{m.source.port} ({m.source.server_hostname or '?'}, {m.source.server_version})"
    return (f"{entry.backup_id:<17} {entry.state:<10} {m.format:<7} {_size(m.artifact.raw_bytes):>10} "
            f"{_size(m.artifact.compressed_bytes):>10}  {m.artifact.sha1:<40}  {source}")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
