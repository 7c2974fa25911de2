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
import threading
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from agent.commands.options import add_config_flags
from shared.config import ConfigValues

if TYPE_CHECKING:
    from agent.archiving.archiver import ArchiveResult

EXIT_GAP = 4


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "archive-binlogs", help="archive the binary log into the bucket (point-in-time recovery)",
        description="Stream the server's binary log as a replication client into immutable segments in the bucket.")
    parser.add_argument("--follow", action="store_true",
                        help="keep streaming; every commit is in the bucket within BINLOG_UPLOAD_SECONDS")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    add_config_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, config: ConfigValues) -> int:
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from agent.archiving.archiver import Archiver, Credentials
    from agent.archiving.metrics import JOB as METRICS_JOB
    from agent.archiving.metrics import MetricsPublisher
    from agent.bucket import open_bucket
    from agent.credentials import resolve_password
    from agent.run_dir import private_run_dir
    from agent.signals import signals_set
    from shared.config import load_destination, load_retry, load_source, load_tmp_dir
    from shared.config.binlog import load_archive_settings
    from shared.encryption import load_encryption_settings
    from shared.logs import register_secret
    from shared.reporting.metrics import metrics_settings_from

    destination, source, retry = load_destination(config), load_source(config), load_retry(config)
    archive = load_archive_settings(config, host=source.host, port=source.port, prefix=destination.prefix)
    metrics_settings = metrics_settings_from(config, job=METRICS_JOB)
    encryption = load_encryption_settings(config)  # segments are encrypted like the backups' artifacts
    bucket = open_bucket(destination, retry)
    next(iter(bucket.storage.list(bucket.prefix + "/")), None)  # a missing bucket: exit 2 before anything
    password = resolve_password(source)
    register_secret(password)
    metrics = MetricsPublisher(metrics_settings)
    stop = threading.Event()
    try:
        with signals_set(stop), private_run_dir(load_tmp_dir(config)) as run_dir:
            archiver = Archiver(bucket.storage, prefix=bucket.prefix, settings=archive,
                                credentials=Credentials(user=source.user, password=password), run_dir=run_dir,
                                retry_seconds=retry.max_seconds, stop=stop, on_segment=metrics.segment,
                                on_gap=metrics.gap, on_lag=metrics.lag,
                                encryption=encryption)
            result = archiver.run(follow=args.follow)
    finally:
        metrics.close()
    print(json.dumps(asdict(result), default=str) if args.json else _summary(result))
    return EXIT_GAP if result.gaps and not args.follow else 0


def _summary(result: ArchiveResult) -> str:
    lines = [f"archived {result.transactions} transactions in {result.segments} segments; "
             f"archive at GTID {result.state or '(empty)'}"]
    lines += [f"  GAP seq {g.seq}: {g.from_gtid_state or '(start)'} -> {g.to_gtid_state}: {g.reason}"
              for g in result.gaps]
    return "\n".join(lines)
