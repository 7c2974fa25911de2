"""``restore --until TIME``, part two: load the base backup, then replay the planned binlog in ONE session.

    replay files → mariadb-binlog → (drop the GTID session settings) → one ``mariadb`` client → target

One client session for the whole range: a temporary table created in one segment and used in a later
one (statement-format events) needs the same session, and per-file sessions would each reset state.

The source's GTIDs are not re-imposed on the target. ``mariadb-binlog`` prefixes every transaction
with ``SET @@session.gtid_domain_id/server_id/gtid_seq_no``; replayed after the dump load (which the
target has already logged under its own GTIDs in domain 0), those would be out of order in the target's
binlog and fail under ``gtid_strict_mode``, and on a Galera target they would fight
``wsrep_gtid_mode``. Dropping those three lines makes each replayed transaction a new one of the
target, exactly like the rows of the dump. Which transactions to replay was decided by GTID already
(``agent.pitr.planning``), so the client never needs them.

The event scheduler is paused from before the load until after the replay (when it was ON): events
restored by the dump must not write to the target before the replay, which carries what those events
wrote on the source.
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.pitr.planning import ReplayPlan
from agent.restore.physical import DatadirRestoreResult
from agent.restore.restoring import Progress, RestoreRequest, RestoreResult, restore_backup, restore_client
from shared.errors import BackupFailedError
from shared.mariadb_client import child_env, run_client_query
from shared.storage import Storage

log = logging.getLogger("mariadb_ha_backup.pitr")

# Decoding is local (no server connection), so no option file may change it; our own GTID rules
# (agent.pitr.planning) replace mariadb-binlog's --gtid-strict-mode checks, which would stop a replay
# that skips a duplicate.
BINLOG_FLAGS = ("--no-defaults", "--skip-gtid-strict-mode")
# Files per mariadb-binlog process: bounded argv, and still few processes for a long range.
FILES_PER_DECODER = 200
CHUNK = 1 << 20
_GTID_SETTING = re.compile(rb"^/\*M!100001 SET @@session\.(?:gtid_domain_id|server_id|gtid_seq_no)=\d+\*//\*!\*/;\n",
                           re.MULTILINE)


class ReplayFailedError(BackupFailedError):
    """Decoding or applying the binlog failed part-way; the target holds the backup plus part of the range."""


@dataclass(frozen=True)
class PointInTimeResult:
    restore: RestoreResult | DatadirRestoreResult  # the base loaded into a server, or made into a data directory
    backup_id: str
    until: str
    start_state: str
    end_state: str
    first_gtid: str | None
    last_gtid: str | None
    last_time: str | None
    transactions: int
    replay_bytes: int
    decoded_bytes: int
    segments: int


def restore_to_point(storage: Storage, plan: ReplayPlan, *, defaults_file: Path, request: RestoreRequest,
                     run_dir: Path, progress: Progress | None = None,
                     identities: Sequence[Any] = ()) -> PointInTimeResult:
    with scheduler_paused(defaults_file):
        loaded = restore_backup(storage, plan.backup, defaults_file=defaults_file, request=request, run_dir=run_dir,
                                progress=progress, identities=identities)
        log.info("replaying %d transaction(s) after backup %s up to %s", plan.transactions, plan.backup.id,
                 plan.until.isoformat(), extra={"event": "replay", "backup_id": plan.backup.id})
        decoded = replay(plan.files, defaults_file=defaults_file, run_dir=run_dir, progress=progress)
    return point_result(plan, restored=loaded, decoded_bytes=decoded)


def point_result(plan: ReplayPlan, *, restored: RestoreResult | DatadirRestoreResult,
                 decoded_bytes: int) -> PointInTimeResult:
    return PointInTimeResult(
        restore=restored, backup_id=plan.backup.id, until=plan.until.isoformat(), start_state=plan.start_state,
        end_state=plan.end_state, first_gtid=plan.first_gtid, last_gtid=plan.last_gtid,
        last_time=plan.last_time.isoformat() if plan.last_time else None, transactions=plan.transactions,
        replay_bytes=plan.replay_bytes, decoded_bytes=decoded_bytes, segments=len(plan.segments))


def replay(files: tuple[Path, ...], *, defaults_file: Path, run_dir: Path, progress: Progress | None = None) -> int:
    """Decode ``files`` and apply them through one client session; returns the SQL bytes applied."""
    if not files:
        return 0
    stripper = GtidSettingStripper()
    with restore_client(defaults_file, run_dir=run_dir) as client:
        client.feed(stripper.filter(decoded_chunks(files, run_dir=run_dir)), progress=progress)
        client.finish()
    return stripper.bytes_out


def decoded_chunks(files: tuple[Path, ...], *, run_dir: Path) -> Iterator[bytes]:
    """``mariadb-binlog``'s SQL for ``files``, in order; raises if a decoder fails."""
    for start in range(0, len(files), FILES_PER_DECODER):
        batch = [str(f) for f in files[start:start + FILES_PER_DECODER]]
        err_path = run_dir / "mariadb-binlog.err"
        with open(err_path, "wb") as err, subprocess.Popen(
                ["mariadb-binlog", *BINLOG_FLAGS, *batch], stdout=subprocess.PIPE, stderr=err,
                env=child_env()) as decoder:
            assert decoder.stdout is not None
            while chunk := decoder.stdout.read(CHUNK):
                yield chunk
            if decoder.wait() != 0:
                detail = " ".join(err_path.read_text(errors="replace").split())[-300:]
                raise ReplayFailedError(f"mariadb-binlog failed on the planned replay files: {detail}")


class GtidSettingStripper:
    """Drops mariadb-binlog's per-transaction GTID session settings (see module docstring), line by line
    across chunk boundaries."""

    def __init__(self) -> None:
        self._carry = b""
        self.bytes_out = 0

    def filter(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            data = self._carry + chunk
            cut = data.rfind(b"\n") + 1
            self._carry = data[cut:]
            if cut:
                yield self._count(_GTID_SETTING.sub(b"", data[:cut]))
        if self._carry:
            yield self._count(self._carry)

    def _count(self, data: bytes) -> bytes:
        self.bytes_out += len(data)
        return data


@contextmanager
def scheduler_paused(defaults_file: Path) -> Iterator[None]:
    """Event scheduler OFF for the block if it was ON, and back ON afterwards however the block ends."""
    (state,), *_ = run_client_query(defaults_file, "SELECT @@event_scheduler")
    if state.upper() != "ON":
        yield
        return
    run_client_query(defaults_file, "SET GLOBAL event_scheduler = OFF")
    try:
        yield
    finally:
        with contextlib.suppress(BackupFailedError):
            run_client_query(defaults_file, "SET GLOBAL event_scheduler = ON")
