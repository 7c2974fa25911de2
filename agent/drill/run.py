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
restores and checks such a backup on a drill server. Logical dumps are the only method today; a
physical backup's drill (prepare a datadir, start the server on it) plugs in with the same signature.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.common.bucket import open_bucket
from agent.common.catalog import BackupEntry, scan_backups, select_backup
from agent.common.decryption import identities_for
from agent.common.drill_record import BACKUP, DrillRecord, rate, store_record
from agent.common.run_dir import private_run_dir
from agent.common.signals import signals_raise_terminated
from agent.drill.backup_drill import DrillFailedError, DrillReport, drill_into
from agent.drill.given_server import DrillServerError, ServerAddress, parse_address
from agent.drill.reporting import drill_reporting_from, report_drill
from agent.drill.servers import describe, drill_server
from agent.drill.throwaway_server import ServerStartError
from agent.verify import verify_backup
from shared import __version__
from shared.config import ConfigValues, load_destination, load_retry, load_tmp_dir
from shared.encryption import load_decryption_settings
from shared.errors import BackupFailedError, ToolError
from shared.logs import redact
from shared.mariadb_client import DumpConnectionError
from shared.storage import Storage
from shared.storage.base import StorageError

log = logging.getLogger("mariadb_ha_backup.drill")


@dataclass(frozen=True)
class Drilled:
    """A drill that ran to a verdict: its report when it passed, and where it restored."""

    report: DrillReport
    server_version: str


DrillFunction = Callable[..., Drilled]  # (storage, entry, *, address, run_dir, identities) -> Drilled


def drill_logical(storage: Storage, entry: BackupEntry, *, address: ServerAddress | None, run_dir: Path,
                  identities: Sequence[Any]) -> Drilled:
    assert entry.manifest is not None  # only complete backups are drilled
    with drill_server(address, run_dir=run_dir) as server:
        version = server.version()
        report = drill_into(storage, entry.manifest, defaults_file=server.defaults_file, run_dir=run_dir,
                            identities=identities)
    return Drilled(report=report, server_version=version)


DRILLS_BY_METHOD: dict[str, DrillFunction] = {"logical": drill_logical}


class UnsupportedDrillError(BackupFailedError):
    """A backup whose method has no drill yet."""


def drill_for(entry: BackupEntry) -> DrillFunction:
    # Manifests written before backup methods existed are logical dumps.
    method = getattr(entry.manifest, "method", None) or "logical"
    if method not in DRILLS_BY_METHOD:
        raise UnsupportedDrillError(f"backup {entry.backup_id} is a {method} backup: no drill for it yet")
    return DRILLS_BY_METHOD[method]


@dataclass(frozen=True)
class DrillOutcome:
    record: DrillRecord | None  # None: no verdict about the backup (see the module docstring)
    record_key: str | None
    error: BaseException | None


def run_recorded_drill(storage: Storage, *, prefix: str, entry: BackupEntry, address: ServerAddress | None,
                       run_dir: Path, identities: Sequence[Any] = ()) -> DrillOutcome:
    """Drill ``entry``; store the verdict. Never raises for a failed drill: the outcome carries the error."""
    assert entry.manifest is not None
    started = datetime.now(UTC)
    log.info("restore drill of %s into the %s", entry.backup_id, describe(address),
             extra={"event": "drill-start", "backup_id": entry.backup_id})
    error: BaseException | None = None
    try:
        drilled = _verified_drill(storage, entry, address=address, run_dir=run_dir, identities=identities)
        record = _passed(entry, drilled, started=started, server=describe(address))
    except BaseException as exc:
        if not _about_the_backup(exc):
            return DrillOutcome(record=None, record_key=None, error=exc)
        error, record = exc, _failed(entry, exc, started=started, server=describe(address))
    key = store_record(storage, prefix=prefix, manifest=entry.manifest, record=record)
    log.info("restore drill of %s %s; recorded in %s", entry.backup_id, "passed" if record.passed else "FAILED", key,
             extra={"event": "drill-recorded", "backup_id": entry.backup_id, "passed": record.passed})
    return DrillOutcome(record=record, record_key=key, error=error)


def _verified_drill(storage: Storage, entry: BackupEntry, *, address: ServerAddress | None, run_dir: Path,
                    identities: Sequence[Any]) -> Drilled:
    assert entry.manifest is not None
    verified = verify_backup(storage, entry.manifest, identities=identities)
    if not verified.ok:
        raise BackupVerifyFailedError(f"backup {entry.backup_id} failed verification: " + "; ".join(verified.problems))
    return drill_for(entry)(storage, entry, address=address, run_dir=run_dir, identities=identities)


class BackupVerifyFailedError(BackupFailedError):
    """The stored bytes do not match their checksums: the drill stops before restoring."""


# Failures of the drill's surroundings; bad input (exit 2), signals and bugs are not BackupFailedError at all.
_NOT_ABOUT_THE_BACKUP = (DrillServerError, ServerStartError, StorageError, DumpConnectionError, UnsupportedDrillError)


def _about_the_backup(exc: BaseException) -> bool:
    """True when the failure is a verdict on the backup, not on the drill's surroundings."""
    # A lost connection to the drill server (it crashed, the node went away) is about the server.
    return not isinstance(exc, _NOT_ABOUT_THE_BACKUP) and isinstance(exc, BackupFailedError)


def _passed(entry: BackupEntry, drilled: Drilled, *, started: datetime, server: str) -> DrillRecord:
    report = drilled.report
    return DrillRecord(backup_id=entry.backup_id, kind=BACKUP, started_at=_stamp(started), finished_at=_stamp(None),
                       passed=True, reason=None, restore_seconds=report.restore_seconds,
                       restored_bytes=report.loaded_bytes,
                       bytes_per_second=rate(report.loaded_bytes, report.restore_seconds),
                       server=server, server_version=drilled.server_version, checked=report.checked,
                       not_checked=report.not_checked, tool_version=__version__)


def _failed(entry: BackupEntry, exc: BaseException, *, started: datetime, server: str) -> DrillRecord:
    seconds = exc.restore_seconds if isinstance(exc, DrillFailedError) else None
    loaded = exc.loaded_bytes if isinstance(exc, DrillFailedError) else None
    reason = redact(str(exc)) if isinstance(exc, ToolError) else redact(f"{type(exc).__name__}: {exc}")
    return DrillRecord(backup_id=entry.backup_id, kind=BACKUP, started_at=_stamp(started), finished_at=_stamp(None),
                       passed=False, reason=reason, restore_seconds=seconds, restored_bytes=loaded,
                       bytes_per_second=rate(loaded, seconds), server=server, tool_version=__version__)


def _stamp(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).isoformat(timespec="seconds")


def drill_and_report(config: ConfigValues, *, backup_id: str | None) -> DrillOutcome:
    """The ``drill`` command's flow: pick the backup, drill it, report however it ended (gauges, and the
    webhook on failure). Bad configuration raises before anything is reported, as it does for backups."""
    reporting, target = drill_reporting_from(config)
    try:
        outcome = _drill_selected(config, backup_id=backup_id)
    except BaseException as exc:  # no backup, bad input, SIGTERM: the drill proved nothing
        report_drill(None, reporting, target=target, error=exc, record_key=None)
        raise
    report_drill(outcome.record, reporting, target=target, error=outcome.error, record_key=outcome.record_key)
    return outcome


def _drill_selected(config: ConfigValues, *, backup_id: str | None) -> DrillOutcome:
    address = parse_address(config["DRILL_SERVER"]) if config.get("DRILL_SERVER") else None
    decryption = load_decryption_settings(config)
    bucket = open_bucket(load_destination(config), load_retry(config))
    entry = select_backup(scan_backups(bucket.storage, prefix=bucket.prefix), backup_id=backup_id, latest=True)
    assert entry.manifest is not None  # select_backup returns complete backups only
    identities = identities_for(entry.manifest, decryption, required=True)
    with signals_raise_terminated(), private_run_dir(load_tmp_dir(config)) as run_dir:
        return run_recorded_drill(bucket.storage, prefix=bucket.prefix, entry=entry, address=address,
                                  run_dir=run_dir, identities=identities)
