"""Claiming a backup id: the start second, made exclusive by a create-only marker in its folder.

The per-second id alone cannot tell two agents that start in the same second apart. A second is
taken if its folder holds anything (an earlier backup) or if creating its claim marker fails because
another agent created it first: the create-only put is decided by the storage service, so two agents
cannot both win. The loser moves on to the next second instead of touching the other run's keys.
The marker is deleted when the run ends, committed or not.

The second is read from ``CLOCK``, which also does the waiting for the next one. It is the real clock;
tests that run the CLI inside the test process put in one that skips a taken second instead
of sleeping through it (tests/support/id_clock.py), so back-to-back backups cost no wall time there.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from shared.errors import AlreadyRunningError, BackupFailedError
from shared.layout import BackupKeys, backup_id_at
from shared.storage import ObjectExistsError, Storage, StorageConfigError, StorageError

log = logging.getLogger("mariadb_ha_backup.backup")

CLAIM_NAME = ".in-progress"
# How many consecutive seconds to try for a free backup id before concluding another run is active.
_ID_ATTEMPTS = 5


class IdClock:
    """The wall clock a backup id is read from, and the wait for its next second."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait_for_next_second(self) -> None:
        time.sleep(1.0 - time.time() % 1.0)


CLOCK = IdClock()


@contextmanager
def claimed_backup_id(storage: Storage, *, prefix: str, format_name: str,
                      layers: tuple[str, ...] = ()) -> Iterator[BackupKeys]:
    """A backup id this run owns until the block ends; the claim marker is removed however it ends."""
    keys = claim_backup_id(storage, prefix=prefix, format_name=format_name, layers=layers)
    try:
        yield keys
    finally:
        # Best effort: a leftover marker (e.g. after SIGKILL, or kept by a bucket-wide retention policy
        # that refuses the delete) only marks a folder and is ignored by list, restore and prune.
        with contextlib.suppress(StorageError, StorageConfigError, BackupFailedError, OSError):
            storage.delete(claim_key(keys))


def claim_key(keys: BackupKeys) -> str:
    return keys.folder + CLAIM_NAME


def claim_backup_id(storage: Storage, *, prefix: str, format_name: str, layers: tuple[str, ...] = (),
                    clock: IdClock | None = None) -> BackupKeys:
    """Fail before dumping if the bucket is missing/refused, and pick an id no other run uses."""
    clock = clock or CLOCK  # read at call time: a replaced CLOCK applies to every run after it
    next(iter(storage.list(prefix + "/")), None)  # raises StorageConfigError for a missing bucket
    for _ in range(_ID_ATTEMPTS):
        keys = BackupKeys(prefix=prefix, backup_id=backup_id_at(clock.now()), format=format_name, layers=layers)
        if next(iter(storage.list(keys.folder)), None) is None and _create_claim(storage, keys):
            return keys
        clock.wait_for_next_second()
    raise AlreadyRunningError(f"backups under {prefix}/ keep appearing each second: another backup is running")


def _create_claim(storage: Storage, keys: BackupKeys) -> bool:
    """Create this id's claim marker, create-only; False if another run holds it."""
    marker = json.dumps({"backup_id": keys.backup_id, "host": socket.gethostname(), "pid": os.getpid(),
                         "token": uuid.uuid4().hex}).encode()
    try:
        storage.put(claim_key(keys), io.BytesIO(marker), if_absent=True)
        return True
    except ObjectExistsError:
        # Ours after all if a retried create found the marker its lost first attempt had stored.
        with contextlib.suppress(StorageError, OSError), storage.open_read(claim_key(keys)) as stream:
            if stream.read() == marker:
                return True
    log.info("backup id %s was just claimed by another run", keys.backup_id, extra={"event": "id-taken"})
    return False
