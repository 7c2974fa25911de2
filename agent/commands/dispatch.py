"""``mariadb-ha-backup dispatch``: create the backup Job(s) from a shell, with the functions' code.

Cluster access comes from ``KUBECONFIG`` (or in-cluster config inside a pod); targets and Job
settings from the same environment variables the functions use. The response JSON (with the
manifests on ``--dry-run``) goes to stdout; exit 1 if any target failed, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from agent.commands.options import add_command
from shared.config import ConfigValues
from shared.errors import EXIT_OK


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers, "dispatch", run=run, summary="create the backup Job(s) in Kubernetes (what the cloud functions do)",
        description="Create one backup Job per target (DISPATCH_TARGETS, or CELL_DEFAULT_NAMESPACE/"
                    "MARIADB_HA_SERVICE_NAME/MARIADB_HA_SECRET_NAME) using KUBECONFIG or in-cluster config.")
    parser.add_argument("--dry-run", action="store_true", help="print the Job bodies; touch nothing")
    parser.add_argument("--drill", action="store_const", const="drill", dest="kind",
                        help="create restore-drill Jobs instead (DRILL_SERVER_IMAGE: your MariaDB server image); "
                             "the default is DISPATCH_KIND, else backup")
    parser.add_argument("--scheduled-time", metavar="TIME",
                        help="the schedule slot this run stands for (names the Job); default now, UTC")


def run(args: argparse.Namespace, config: ConfigValues) -> int:  # Job settings: shared.k8s
    # Flow modules load only when this command runs: the CLI imports every command to register it.
    from shared.k8s.invocation import DispatchRequest, run_invocation
    from shared.times import parse_time

    scheduled = parse_time(args.scheduled_time, what="--scheduled-time") if args.scheduled_time else None
    result = run_invocation(request=DispatchRequest(dry_run=args.dry_run, scheduled_time=scheduled, kind=args.kind),
                            platform="kubeconfig")
    sys.stdout.write(json.dumps(result.response(), indent=2) + "\n")
    result.raise_if_failed()
    return EXIT_OK
