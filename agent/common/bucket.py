"""The bucket and prefix a command works on, every call retried per the run's ``RetryPolicy``.

``list``, ``verify`` and ``prune`` touch only the bucket, so unlike ``backup`` they load just the
destination and retry sections: no database host or password source is demanded.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import Destination, RetryPolicy
from shared.storage import Storage, open_storage
from shared.storage.retrying import RetryingStorage


@dataclass(frozen=True)
class Bucket:
    storage: Storage
    prefix: str


def open_bucket(destination: Destination, policy: RetryPolicy) -> Bucket:
    storage = RetryingStorage(open_storage(destination.storage_url), policy=policy)
    return Bucket(storage=storage, prefix=destination.prefix)
