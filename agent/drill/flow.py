"""The ``drill`` command's flow, from its configuration: pick what to drill, drill it, report it.

``drill`` drills the newest complete backup (or the one named); ``drill --point`` (``DRILL_POINT=1`` in
the drill Job) drills the newest archived second instead: the backup ``restore --until`` would pick plus
the replay of the archive to its end. Either way the gauges are published and, on failure, the webhook
is told, however the drill ended (``agent.drill.reporting``).
"""

from __future__ import annotations

from agent.common.bucket import open_bucket
from agent.common.catalog import scan_backups, select_backup
from agent.common.decryption import configured_identities, identities_for
from agent.common.drill_record import DrillRecord
from agent.common.run_dir import private_run_dir
from agent.common.signals import signals_raise_terminated
from agent.drill.given_server import parse_address
from agent.drill.reporting import drill_reporting_from, report_drill
from agent.drill.run import DrillOutcome, newest_drillable, run_recorded_drill, run_recorded_point_drill
from shared.config import ConfigValues, load_destination, load_retry, load_tmp_dir
from shared.encryption import load_decryption_settings
from shared.errors import BadInputError


def drill_and_report(config: ConfigValues, *, backup_id: str | None, point: bool = False) -> DrillOutcome:
    """The ``drill`` command's flow: pick the backup, drill it, report however it ended (gauges, and the
    webhook on failure). Bad configuration raises before anything is reported, as it does for backups."""
    reporting, target = drill_reporting_from(config)
    try:
        outcome = _drill_selected(config, backup_id=backup_id, point=point)
    except BaseException as exc:  # no backup, bad input, SIGTERM: the drill proved nothing
        report_drill(None, reporting, target=target, error=exc, record_key=None)
        raise
    report_drill(outcome.record, reporting, target=target, error=outcome.error, record_key=outcome.record_key)
    return outcome


def _drill_selected(config: ConfigValues, *, backup_id: str | None, point: bool) -> DrillOutcome:
    if point and backup_id:
        raise BadInputError("--point drills the newest archived second: give no backup ID with it")
    address = parse_address(config["DRILL_SERVER"]) if config.get("DRILL_SERVER") else None
    decryption = load_decryption_settings(config)
    bucket = open_bucket(load_destination(config), load_retry(config))
    if point:
        backups = scan_backups(bucket.storage, prefix=bucket.prefix)
        identities = configured_identities(decryption, what="the backup and binlog segments")
        with signals_raise_terminated(), private_run_dir(load_tmp_dir(config)) as run_dir:
            return run_recorded_point_drill(bucket.storage, prefix=bucket.prefix, backups=backups, address=address,
                                            run_dir=run_dir, identities=identities)
    entries = scan_backups(bucket.storage, prefix=bucket.prefix)
    entry = select_backup(entries, backup_id=backup_id) if backup_id else newest_drillable(entries, address=address)
    assert entry.manifest is not None  # select_backup returns complete backups only
    identities = identities_for(entry.manifest, decryption, required=True)
    with signals_raise_terminated(), private_run_dir(load_tmp_dir(config)) as run_dir:
        return run_recorded_drill(bucket.storage, prefix=bucket.prefix, entry=entry, address=address,
                                  run_dir=run_dir, identities=identities, backups=entries)


def drill_summary(record: DrillRecord, key: str | None) -> str:
    """``drill``'s text for the record it stored at ``key``."""
    what = f"backup {record.backup_id}" if record.until is None else \
        f"point {record.until} (backup {record.backup_id} + binlog replay)"
    if not record.passed:
        return f"restore drill of {what} FAILED: {record.reason}\n  recorded in {key}"
    checked = ", ".join(f"{n} {kind}" for kind, n in record.checked.items())
    lines = [f"restore drill of {what} passed: restored in {record.restore_seconds} s "
             f"({record.restored_bytes:,} bytes of SQL, {_rate(record.bytes_per_second)}) into the {record.server} "
             f"(MariaDB {record.server_version})",
             f"  checked     {checked}",
             *(f"  not checked {item}" for item in record.not_checked),
             f"  recorded in {key}"]
    return "\n".join(lines)


def _rate(bytes_per_second: float | None) -> str:
    return f"{(bytes_per_second or 0) / 2**20:.1f} MiB/s"
