"""``mariadb-ha-backup archive-binlogs [--follow]``: the binary log, streamed into the bucket.

Same configuration as ``backup`` (destination, host, password from the Secret, a file or the
environment) plus the ``BINLOG_*`` settings. Exit codes: 0 archived (or stopped by SIGTERM after
uploading what had arrived); 1 failed after retries; 2 bad configuration or a server that cannot be
archived correctly (log_bin off, binlog_format not ROW, Galera without log_slave_updates or
wsrep_gtid_mode); 4 a one-shot run had to record a gap (the server purged binlogs the archive never
got; the archive goes on after it, and restores cannot cross it).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from agent.commands.options import add_command
from shared.config import ConfigValues
from shared.errors import EXIT_GAP, EXIT_OK


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers, "archive-binlogs", run=run,
        summary="archive the binary log into the bucket (point-in-time recovery)",
        description="Stream the server's binary log as a replication client into immutable segments in the bucket.",
        json_help="print the summary as one JSON object on stdout")
    parser.add_argument("--follow", action="store_true",
                        help="keep streaming; every commit is in the bucket within BINLOG_UPLOAD_SECONDS")


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    from agent.pitr import archive_binlogs, archive_summary

    result = archive_binlogs(config, follow=args.follow)
    print(json.dumps(asdict(result), default=str) if args.json else archive_summary(result))
    return EXIT_GAP if result.gaps and not args.follow else EXIT_OK

