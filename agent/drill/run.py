"""One recorded drill: verify a backup, restore it into an empty server, check it, keep the verdict.

``run_recorded_drill`` is what the ``drill`` command (and so the drill Job) runs: the checks of
``verify --restore-test`` (``agent.verify`` then ``agent.drill.backup_drill.drill_into``), timed, then
``drill.json`` beside the backup (``agent.common.drill_record``), the gauges and, on failure, the webhook
(``agent.drill.reporting``).

A verdict about the backup (it did not verify, did not load, or lacks what its manifest lists) is
recorded in ``drill.json`` as failed, with the reason. A failure that says nothing about the backup
(the drill's server never came up, the bucket was unreachable, bad configuration, SIGTERM) writes no
record, but is still reported (status 0 and a notification): the drill did not prove anything.

Drills per backup method: ``DRILLS_BY_METHOD`` maps a manifest's method to the function that
restores and checks such a backup (``DrillFunction``). A logical dump is loaded into the drill server
(given, or started here); a physical backup's chain is prepared here and a server started on the copy
(``agent.drill.physical_drill``), so in the drill Job, whose server is a container of its own, physical
backups are passed over until that server can start on a prepared copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import shared  # shared.__version__ is read when used: looking it up costs ~16 ms
from agent.common.catalog import BackupEntry
from agent.common.chains import chain_of, complete_by_id
from agent.common.drill_record import BACKUP, POINT, DrillRecord, rate, store_record
from agent.drill.backup_drill import DrillFailedError, DrillReport, drill_into
from agent.drill.given_server import DrillServerError
from agent.drill.physical_drill import run_physical_drill
from agent.drill.point_drill import drill_plan
from agent.drill.servers import describe, drill_server
from agent.drill.throwaway_server import ServerStartError
from agent.pitr import current_range, read_archive
from agent.pitr.planning import plan_point_in_time
from agent.restore.restoring import RestoreResult
from agent.verify import verify_backup
from shared.config import Endpoint
from shared.errors import BackupFailedError, ToolError
from shared.logs import redact
from shared.manifest import LOGICAL, PHYSICAL, Manifest
from shared.mariadb_client import ClientConnectionError
from shared.storage import Storage
from shared.storage.base import StorageError
from shared.times import format_time

log = logging.getLogger("mariadb_ha_backup.drill")


@dataclass(frozen=True)
class Drilled:
    """A drill that passed: what it checked and measured, and the drill server's version."""

    report: DrillReport
    server_version: str


class DrillFunction(Protocol):
    """Restore and check one backup of a method on a drill server (``address``; None: start one here);
    ``backups`` are the complete backups beside it (a physical incremental needs its chain). Raises
    ``DrillFailedError`` (or another ``BackupFailedError``) when the backup does not restore."""

    def __call__(self, storage: Storage, entry: BackupEntry, *, backups: list[BackupEntry],
                 address: Endpoint | None, run_dir: Path, identities: Sequence[Any]) -> Drilled: ...


def drill_logical(storage: Storage, entry: BackupEntry, *, backups: list[BackupEntry],
                  address: Endpoint | None, run_dir: Path, identities: Sequence[Any]) -> Drilled:
    """A dump: its bytes verified against the sidecar and manifest, then loaded and checked."""
    assert entry.manifest is not None  # only complete backups are drilled
    verified = verify_backup(storage, entry.manifest, identities=identities)
    if not verified.ok:
        raise BackupVerifyFailedError(f"backup {entry.backup_id} failed verification: " + "; ".join(verified.problems))
    with drill_server(address, run_dir=run_dir) as server:
        version = server.version()
        report = drill_into(storage, entry.manifest, defaults_file=server.defaults_file, run_dir=run_dir,
                            identities=identities)
    return Drilled(report=report, server_version=version)


def drill_physical(storage: Storage, entry: BackupEntry, *, backups: list[BackupEntry],
                   address: Endpoint | None, run_dir: Path, identities: Sequence[Any]) -> Drilled:
    """A mariadb-backup copy: its chain prepared here and a server started on it (``run_physical_drill``,
    every SHA1 checked on the way). Its restore time is the whole drill's: prepare, start and checks."""
    assert entry.manifest is not None
    if address is not None:
        raise UnsupportedDrillError(f"backup {entry.backup_id} is physical: its drill starts a server on the "
                                    "prepared copy here, which the drill Job's server container cannot take yet")
    by_id = complete_by_id(e.manifest for e in backups if e.complete and e.manifest is not None)
    report = run_physical_drill(storage, chain_of(entry.manifest, by_id), run_dir=run_dir, identities=identities)
    return Drilled(report=replace(report, restore_seconds=report.seconds), server_version="")


DRILLS_BY_METHOD: dict[str, DrillFunction] = {LOGICAL: drill_logical, PHYSICAL: drill_physical}


class UnsupportedDrillError(BackupFailedError):
    """A backup whose method has no drill yet."""


def drill_for(entry: BackupEntry) -> DrillFunction:
    method = _method(entry)
    if method not in DRILLS_BY_METHOD:
        raise UnsupportedDrillError(f"backup {entry.backup_id} is a {method} backup: no drill for it yet")
    return DRILLS_BY_METHOD[method]


def newest_drillable(entries: list[BackupEntry], *, address: Endpoint | None = None) -> BackupEntry:
    """The newest complete backup this drill can restore (``entries`` newest first): a newer backup it
    cannot (a physical one, into a given server) is passed over, not failed on, so the weekly drill keeps
    proving something."""
    found = next((e for e in entries if e.complete and _drillable(e, address)), None)
    if found is None:
        raise NothingToDrillError("there is no complete backup a drill can restore under this prefix "
                                  f"(drills exist for: {', '.join(sorted(DRILLS_BY_METHOD))} backups)")
    return found


def _method(entry: BackupEntry) -> str:
    return entry.manifest.method if entry.manifest is not None else LOGICAL


def _drillable(entry: BackupEntry, address: Endpoint | None) -> bool:
    # A physical drill starts its own server on the prepared copy: only where no server is given.
    return _method(entry) in DRILLS_BY_METHOD and (_method(entry) != PHYSICAL or address is None)


@dataclass(frozen=True)
class DrillOutcome:
    record: DrillRecord | None  # None: no verdict about the backup (see the module docstring)
    record_key: str | None
    error: BaseException | None


def run_recorded_drill(storage: Storage, *, prefix: str, entry: BackupEntry, address: Endpoint | None,
                       run_dir: Path, identities: Sequence[Any] = (),
                       backups: list[BackupEntry] | None = None) -> DrillOutcome:
    """Drill ``entry``; store the verdict. Never raises for a failed drill: the outcome carries the error."""
    assert entry.manifest is not None

    def attempt(started: datetime) -> DrillRecord:
        drilled = drill_for(entry)(storage, entry, backups=backups or [entry], address=address, run_dir=run_dir,
                                   identities=identities)
        return _passed(entry.backup_id, drilled.report, started=started, server=describe(address),
                       version=drilled.server_version)

    return _recorded(storage, prefix=prefix, manifest=entry.manifest, address=address, attempt=attempt, kind=BACKUP)


def run_recorded_point_drill(storage: Storage, *, prefix: str, backups: list[BackupEntry],
                             address: Endpoint | None, run_dir: Path,
                             identities: Sequence[Any] = ()) -> DrillOutcome:
    """Drill the newest archived second: the backup ``restore --until`` would pick, plus the replay of
    every archived transaction after it, recorded beside that backup (kind ``point``)."""
    current = current_range(read_archive(storage, prefix), backups)
    if current is None:
        raise NothingToDrillError("no complete backup lies inside the binlog archive's newest gap-free window: "
                                  "no point near the archive's end can be restored (take a backup)")
    plan = plan_point_in_time(storage, prefix=prefix, backups=backups, until=current.end, work_dir=run_dir,
                              identities=identities)
    until = format_time(current.end)

    def attempt(started: datetime) -> DrillRecord:
        report = drill_plan(storage, plan, run_dir=run_dir, identities=identities, address=address)
        result = report.result
        base = result.restore
        loaded = (base.loaded_bytes if isinstance(base, RestoreResult) else base.raw_bytes) + result.replay_bytes
        return DrillRecord(backup_id=plan.backup.id, kind=POINT, started_at=_stamp(started), finished_at=_stamp(None),
                           passed=True, reason=None, restore_seconds=report.restore_seconds, restored_bytes=loaded,
                           bytes_per_second=rate(loaded, report.restore_seconds), server=describe(address),
                           server_version=report.server_version, until=until,
                           checked={"transactions replayed": result.transactions, "tables": report.tables},
                           not_checked=list(POINT_NOT_CHECKED), tool_version=shared.__version__)

    return _recorded(storage, prefix=prefix, manifest=plan.backup, address=address, attempt=attempt, kind=POINT,
                     until=until)


# A point drill proves the load and the replay to the end state run without an error; what the server
# then holds has no recorded expectation to compare with.
POINT_NOT_CHECKED = (
    "the inventory and row counts after the replay (the archive records no evidence for a point in time)",
    "column values",
)


class NothingToDrillError(BackupFailedError):
    """No backup (or no restorable point) to drill: nothing was proven, and nothing about a backup is recorded."""


def _recorded(storage: Storage, *, prefix: str, manifest: Manifest, address: Endpoint | None,
              attempt: Callable[[datetime], DrillRecord], kind: str, until: str | None = None) -> DrillOutcome:
    started = datetime.now(UTC)
    log.info("restore drill (%s) of %s into the %s", kind, manifest.id, describe(address),
             extra={"event": "drill-start", "backup_id": manifest.id, "kind": kind})
    error: BaseException | None = None
    try:
        record = attempt(started)
    except BaseException as exc:
        if not _about_the_backup(exc):
            return DrillOutcome(record=None, record_key=None, error=exc)
        error, record = exc, _failed(manifest.id, exc, started=started, server=describe(address), kind=kind,
                                     until=until)
    key = store_record(storage, prefix=prefix, manifest=manifest, record=record)
    log.info("restore drill of %s %s; recorded in %s", manifest.id, "passed" if record.passed else "FAILED", key,
             extra={"event": "drill-recorded", "backup_id": manifest.id, "passed": record.passed})
    return DrillOutcome(record=record, record_key=key, error=error)


class BackupVerifyFailedError(BackupFailedError):
    """The stored bytes do not match their checksums: the drill stops before restoring."""


# Failures of the drill's surroundings; bad input (exit 2), signals and bugs are not BackupFailedError at all.
_NOT_ABOUT_THE_BACKUP = (DrillServerError, ServerStartError, StorageError, ClientConnectionError, UnsupportedDrillError,
                         NothingToDrillError)


def _about_the_backup(exc: BaseException) -> bool:
    """True when the failure is a verdict on the backup, not on the drill's surroundings."""
    # A lost connection to the drill server (it crashed, the node went away) is about the server.
    return not isinstance(exc, _NOT_ABOUT_THE_BACKUP) and isinstance(exc, BackupFailedError)


def _passed(backup_id: str, report: DrillReport, *, started: datetime, server: str, version: str) -> DrillRecord:
    return DrillRecord(backup_id=backup_id, kind=BACKUP, started_at=_stamp(started), finished_at=_stamp(None),
                       passed=True, reason=None, restore_seconds=report.restore_seconds,
                       restored_bytes=report.loaded_bytes,
                       bytes_per_second=rate(report.loaded_bytes, report.restore_seconds),
                       server=server, server_version=version, checked=report.checked,
                       not_checked=report.not_checked, tool_version=shared.__version__)


def _failed(backup_id: str, exc: BaseException, *, started: datetime, server: str, kind: str,
            until: str | None) -> DrillRecord:
    seconds = exc.restore_seconds if isinstance(exc, DrillFailedError) else None
    loaded = exc.loaded_bytes if isinstance(exc, DrillFailedError) else None
    reason = redact(str(exc)) if isinstance(exc, ToolError) else redact(f"{type(exc).__name__}: {exc}")
    return DrillRecord(backup_id=backup_id, kind=kind, started_at=_stamp(started), finished_at=_stamp(None),
                       passed=False, reason=reason, restore_seconds=seconds, restored_bytes=loaded,
                       bytes_per_second=rate(loaded, seconds), server=server, until=until,
                       tool_version=shared.__version__)


def _stamp(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).isoformat(timespec="seconds")
