"""Choosing the base backup on a real server's archived binlog: a backup that started at or before TIME
but whose snapshot already holds a transaction committed after TIME is passed over for an older one, and
refused (exit 2) when it is the only one."""

from __future__ import annotations

import io
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from agent.common.catalog import scan_backups
from agent.pitr.planning import PointInTimeRefusedError, plan_point_in_time
from shared.manifest import BinlogPosition, Manifest
from shared.storage import open_storage
from shared.storage.base import Storage
from tests.support.backups import store_backup
from tests.support.mariadb_server import TestServer
from tests.support.pitr import PREFIX, SETUP, archive, writes_in_one_second


def backup_with_state(storage: Storage, *, started: datetime, gtid_state: str, tmp: Path) -> str:
    """A stored backup whose manifest says its snapshot is at ``gtid_state`` (its dump is not loaded here)."""
    keys = store_backup(storage, prefix=PREFIX, started=started, tmp=tmp)
    with storage.open_read(keys.manifest) as stream:
        manifest = Manifest.from_json(stream.read())
    position = BinlogPosition(gtid_state=gtid_state, file="bin.000001", position=4, node="db-0", server_id=1)
    storage.put(keys.manifest, io.BytesIO(replace(manifest, binlog=position).to_json()))
    return keys.backup_id


def test_a_snapshot_holding_a_later_commit_is_passed_over(binlog_server: TestServer, tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    storage = open_storage(f"file://{bucket}")
    binlog_server.execute(SETUP)
    before = binlog_server.execute("SELECT @@gtid_binlog_pos").strip()
    target_second, _, at_target = writes_in_one_second(binlog_server, "INSERT INTO shop.markers VALUES ('at');")
    time.sleep(1.1)
    binlog_server.execute("INSERT INTO shop.markers VALUES ('later');")
    later = binlog_server.execute("SELECT @@gtid_binlog_pos").strip()
    binlog_server.execute("INSERT INTO shop.markers VALUES ('last');")  # the snapshot ends mid-segment
    archive(binlog_server, bucket)
    # Started in the target second, but its snapshot was taken after the 'later' commit.
    too_new = backup_with_state(storage, started=target_second, gtid_state=later, tmp=tmp_path)

    with pytest.raises(PointInTimeRefusedError, match="snapshot holds transactions committed after"):
        plan_point_in_time(storage, prefix=PREFIX, backups=scan_backups(storage, prefix=PREFIX), until=target_second,
                           work_dir=tmp_path)

    older = backup_with_state(storage, started=target_second - timedelta(seconds=5), gtid_state=before, tmp=tmp_path)
    plan = plan_point_in_time(storage, prefix=PREFIX, backups=scan_backups(storage, prefix=PREFIX),
                              until=target_second, work_dir=tmp_path)

    assert too_new != older and plan.backup.id == older
    assert (plan.start_state, plan.last_gtid, plan.transactions) == (before, at_target, 1)
    assert plan.last_time == target_second
