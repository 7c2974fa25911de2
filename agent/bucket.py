"""The bucket and prefix a read-side command works on, from the same env/flags as ``backup``.

``list``, ``verify`` and ``prune`` touch only the bucket, so unlike ``shared.config.load_settings``
they must not demand a database host or a password source: they resolve just the destination
(``BACKUP_URL`` or ``CLOUD_PROVIDER`` + bucket, ``BACKUP_PREFIX`` or the namespace/service default).
Every storage call goes through ``RetryingStorage``, so a transient 5xx or reset is retried.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from agent.commands.options import flag_values
from shared.config import OPTIONS, Destination, resolve_destination, validate_prefix
from shared.storage import Storage, open_storage
from shared.storage.retrying import RetryingStorage

# Read-side calls are cheap to repeat; the same budget as the backup's default retry policy.
RETRY_ATTEMPTS = 5
RETRY_SECONDS = 600.0


@dataclass(frozen=True)
class Bucket:
    storage: Storage
    prefix: str


def config_values(args: argparse.Namespace) -> dict[str, str]:
    """Env values of the shared options, overridden by the flags given."""
    values = {o.env: v for o in OPTIONS if (v := os.environ.get(o.env))}
    values.update({env: v for env, v in flag_values(args).items() if v})
    return values


def destination_from_args(args: argparse.Namespace) -> Destination:
    raw = config_values(args)
    destination = resolve_destination(raw, namespace=raw.get("CELL_DEFAULT_NAMESPACE"),
                                      service=raw.get("MARIADB_HA_SERVICE_NAME"))
    # The default prefix is built from namespace and service: check it like a user-given one.
    validate_prefix(destination.prefix, name="backup prefix")
    return destination


def open_bucket(destination: Destination) -> Bucket:
    storage = RetryingStorage(open_storage(destination.storage_url), attempts=RETRY_ATTEMPTS,
                              max_seconds=RETRY_SECONDS)
    return Bucket(storage=storage, prefix=destination.prefix)


def bucket_from_args(args: argparse.Namespace) -> Bucket:
    return open_bucket(destination_from_args(args))
