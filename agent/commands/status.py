"""``mariadb-ha-backup status``: the newest complete backup, the point-in-time window, and a verdict.

Exit 0 when the newest complete backup is younger than ``--max-age`` (``BACKUP_MAX_AGE``, default
26h), 1 when it is older or there is none, 2 on bad input: a check a CronJob, CI job or monitoring
probe can run as is.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from agent.bucket import Bucket, open_bucket
from agent.catalog import scan_backups
from agent.commands.list import as_json
from agent.commands.options import add_config_flags
from agent.freshness import DEFAULT_MAX_AGE, OK, Freshness, assess, human_duration, is_encrypted, parse_duration
from agent.pitr_window import PitrWindow, read_pitr_window
from shared.config import ConfigValues, load_destination, load_retry
from shared.errors import EXIT_FAILED, EXIT_OK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="is the newest complete backup recent enough? (exit 1 if not)",
        description="Show the newest complete backup and the point-in-time recovery window; exit 0 when "
                    "the newest complete backup is younger than --max-age, 1 when older or none, 2 on bad input.")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    add_config_flags(parser)  # includes --max-age DURATION [BACKUP_MAX_AGE]
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    max_age = parse_duration(config.get("BACKUP_MAX_AGE", DEFAULT_MAX_AGE), name="--max-age")
    bucket = open_bucket(load_destination(config), load_retry(config))
    entries = scan_backups(bucket.storage, prefix=bucket.prefix)
    freshness = assess(entries, now=datetime.now(UTC), max_age=max_age)
    pitr = read_pitr_window(bucket.storage, prefix=bucket.prefix, backups=entries)
    if args.json:
        print(json.dumps({**status_json(freshness, bucket), "pitr": pitr_json(pitr, freshness)}, indent=2))
    else:
        print(status_text(freshness, bucket) + "\n" + pitr_text(pitr, freshness))
    return EXIT_OK if freshness.verdict == OK else EXIT_FAILED


def status_json(freshness: Freshness, bucket: Bucket) -> dict[str, Any]:
    newest = freshness.newest
    body: dict[str, Any] = {
        "verdict": freshness.verdict,
        "checked_at": freshness.checked_at.isoformat(timespec="seconds"),
        "max_age_seconds": int(freshness.max_age.total_seconds()),
        "storage_url": bucket.storage.url,
        "prefix": bucket.prefix,
        "newest": None,
        "failed_since": [e.backup_id for e in freshness.failed_since],
    }
    if newest is not None and freshness.age is not None:
        body["newest"] = {**as_json(newest), "age_seconds": int(freshness.age.total_seconds()),
                          "encrypted": is_encrypted(newest)}
    return body


def status_text(freshness: Freshness, bucket: Bucket) -> str:
    newest, age = freshness.newest, freshness.age
    limit = human_duration(freshness.max_age)
    if newest is None or newest.manifest is None or age is None:
        lines = [f"NONE: no complete backup under {bucket.storage.url} {bucket.prefix}/"]
    else:
        m = newest.manifest
        verdict = "OK" if freshness.verdict == OK else "STALE"
        lines = [
            f"{verdict}: newest complete backup {newest.backup_id} is {human_duration(age)} old (max age {limit})",
            f"  format      {m.format}, {'encrypted' if is_encrypted(newest) else 'not encrypted'}",
            f"  size        {m.artifact.raw_bytes:,} bytes dumped -> {m.artifact.compressed_bytes:,} bytes stored",
            f"  storage     {bucket.storage.url} {bucket.prefix}/",
        ]
    if freshness.failed_since:
        ids = ", ".join(e.backup_id for e in freshness.failed_since[:3])
        lines.append(f"  newer incomplete or damaged backups: {len(freshness.failed_since)} ({ids})")
    return "\n".join(lines)


def pitr_json(pitr: PitrWindow | None, freshness: Freshness) -> dict[str, Any] | None:
    if pitr is None:
        return None
    def stamp(moment: datetime | None) -> str | None:
        return moment.isoformat(timespec="seconds") if moment else None
    lag = (freshness.checked_at - pitr.archived_to).total_seconds() if pitr.archived_to else None
    return {"recoverable": pitr.recoverable, "recoverable_from": stamp(pitr.recoverable_from),
            "recoverable_to": stamp(pitr.archived_to) if pitr.recoverable else None,
            "archived_from": stamp(pitr.archived_from), "archived_to": stamp(pitr.archived_to),
            "last_archived_age_seconds": int(lag) if lag is not None else None, "gaps": pitr.gaps}


def pitr_text(pitr: PitrWindow | None, freshness: Freshness) -> str:
    if pitr is None:
        return "  pitr        no binlogs archived (point-in-time recovery is off)"
    if pitr.archived_to is None:
        return f"  pitr        no segment archived since the last gap ({pitr.gaps} gap(s) recorded)"
    age = human_duration(freshness.checked_at - pitr.archived_to)
    to = pitr.archived_to.strftime(_TIME)
    if pitr.recoverable_from is None:
        return (f"  pitr        NOT recoverable: binlogs archived to {to} (last event {age} ago), but no complete "
                "backup since the archive's last gap: take a backup")
    return (f"  pitr        recoverable {pitr.recoverable_from.strftime(_TIME)} .. {to} "
            f"(last archived event {age} ago; {pitr.gaps} gap(s) recorded)")


_TIME = "%Y-%m-%dT%H:%M:%SZ"
