"""drill.json without a server: create-only naming, reading back the latest record past a damaged one,
the freshness verdict ``status --max-drill-age`` gives, and the gauges a failed drill publishes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from agent.common.catalog import scan_backups
from agent.common.drill_record import DrillRecord, latest_drills, store_record
from agent.drill.reporting import (
    DRILL_RESTORE_SECONDS,
    LAST_DRILL_STATUS,
    LAST_DRILL_SUCCESS,
    RECOVERY_TARGET_SECONDS,
    drill_gauges,
)
from agent.status.drill_freshness import assess_drills, drill_cell
from shared.manifest import Manifest
from shared.storage import open_storage
from tests.support.backups import store_backup

PREFIX = "drills/db"
STARTED = datetime(2026, 12, 1, 4, tzinfo=UTC)


def record(*, passed: bool = True, finished: datetime = STARTED + timedelta(hours=2)) -> DrillRecord:
    return DrillRecord(backup_id="20261201T040000Z", kind="backup", started_at=(finished - timedelta(seconds=9))
                       .isoformat(), finished_at=finished.isoformat(), passed=passed,
                       reason=None if passed else "tables missing after restore: shop.orders",
                       restore_seconds=4.0 if passed else None, restored_bytes=400 if passed else None,
                       bytes_per_second=100.0 if passed else None, server="here")


def stored(tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "bucket").mkdir()
    storage = open_storage(f"file://{tmp_path / 'bucket'}")
    keys = store_backup(storage, prefix=PREFIX, started=STARTED, tmp=tmp_path)
    with storage.open_read(keys.manifest) as stream:
        return storage, Manifest.from_json(stream.read(), key=keys.manifest)


def test_a_second_record_of_the_same_backup_gets_its_own_name_and_the_first_is_kept(tmp_path) -> None:
    storage, manifest = stored(tmp_path)
    first = record(passed=False)
    second = record(finished=STARTED + timedelta(days=7))

    keys = [store_record(storage, prefix=PREFIX, manifest=manifest, record=r) for r in (first, second)]

    assert keys == [f"{PREFIX}/20261201T040000Z/drill.json", f"{PREFIX}/20261201T040000Z/drill-20261208T035951Z.json"]
    with storage.open_read(keys[0]) as stream:
        assert DrillRecord.from_json(stream.read()) == first
    assert latest_drills(storage, scan_backups(storage, prefix=PREFIX)) == {"20261201T040000Z": second}


def test_a_damaged_record_is_skipped_not_trusted(tmp_path) -> None:
    storage, manifest = stored(tmp_path)
    store_record(storage, prefix=PREFIX, manifest=manifest, record=record())
    storage.put(f"{PREFIX}/20261201T040000Z/drill-20261209T000000Z.json", io.BytesIO(b"{not json"))

    assert latest_drills(storage, scan_backups(storage, prefix=PREFIX)) == {"20261201T040000Z": record()}


def test_max_drill_age_verdicts() -> None:
    now = STARTED + timedelta(days=3)
    passed, failed = record(), record(passed=False, finished=now - timedelta(hours=1))
    within = assess_drills({"a": passed}, now=now, max_age=timedelta(days=8))
    stale = assess_drills({"a": passed, "b": failed}, now=now, max_age=timedelta(days=2))
    never = assess_drills({"b": failed}, now=now, max_age=timedelta(days=8))
    unjudged = assess_drills({"b": failed}, now=now, max_age=None)

    assert (within.verdict, within.ok) == ("ok", True)
    assert (stale.verdict, stale.ok, stale.last) == ("stale", False, failed)
    assert (never.verdict, never.ok) == ("none", False)
    assert unjudged.ok
    assert drill_cell(passed, now=now) == "passed 2d ago" and drill_cell(failed, now=now) == "FAILED 1h ago"
    assert drill_cell(None, now=now) == "-"


def test_a_failed_drill_publishes_status_0_and_keeps_the_last_good_measurements() -> None:
    failed = {g.name: g.value for g in drill_gauges(record(passed=False), target=1800.0, finished=1.0)}
    passed = {g.name: g.value for g in drill_gauges(record(), target=None, finished=2.0)}
    nothing = {g.name: g.value for g in drill_gauges(None, target=None, finished=3.0)}

    assert failed[LAST_DRILL_STATUS] == 0.0 and failed[RECOVERY_TARGET_SECONDS] == 1800.0
    assert LAST_DRILL_SUCCESS not in failed and DRILL_RESTORE_SECONDS not in failed
    assert (passed[LAST_DRILL_STATUS], passed[LAST_DRILL_SUCCESS], passed[DRILL_RESTORE_SECONDS]) == (1.0, 2.0, 4.0)
    assert RECOVERY_TARGET_SECONDS not in passed
    assert nothing[LAST_DRILL_STATUS] == 0.0 and len(nothing) == 2


def test_records_survive_fields_added_later() -> None:
    text = record().to_json().replace('"tool_version"', '"a_field_from_the_future": 1, "tool_version"')
    assert DrillRecord.from_json(text) == record()
