"""Helpers for point-in-time-recovery tests: a workload, writes confined to one second with the state
captured right then, a backup through the CLI, the archive filled from the server's files."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from shared.binlogs.index import iter_history
from shared.binlogs.records import SegmentRecord
from shared.manifest import Manifest
from shared.storage import open_storage
from tests.support.archive_from_files import archive_binlog_files, server_binlog_files
from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer, table_checksums

PREFIX = "pitr-tests/db"
SETUP = """
CREATE DATABASE shop;
CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(40), placed TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE shop.markers (name VARCHAR(40) PRIMARY KEY);
INSERT INTO shop.orders (id, item) VALUES (1, 'in the backup'), (2, 'in the backup');
"""
AFTER_BACKUP = """
INSERT INTO shop.orders (id, item) VALUES (3, 'after the backup');
FLUSH BINARY LOGS;
ALTER TABLE shop.orders ADD COLUMN note VARCHAR(40) DEFAULT 'added by DDL';
UPDATE shop.orders SET item = 'updated after the DDL' WHERE id = 1;
CREATE TEMPORARY TABLE shop.staging (id INT);
INSERT INTO shop.staging VALUES (4), (5);
INSERT INTO shop.orders (id, item) SELECT id, 'via a temporary table' FROM shop.staging;
"""
AFTER_TARGET = """
INSERT INTO shop.markers VALUES ('after');
DELETE FROM shop.orders WHERE id = 2;
ALTER TABLE shop.orders DROP COLUMN note;
FLUSH BINARY LOGS;
INSERT INTO shop.orders (id, item) VALUES (9, 'too late');
"""
# The writes of the second a test restores to: a marker row and an order only that second holds.
AT_TARGET = "INSERT INTO shop.markers VALUES ('at'); INSERT INTO shop.orders (id, item) VALUES (6, 'at T');"


class History(NamedTuple):
    """What a workload around a target second left: its backup, and the target second with the tables'
    checksums and the GTID position the source had then."""

    manifest: Manifest
    second: datetime
    checksums: dict[str, str]
    gtid: str


def server_second(server: TestServer) -> int:
    return int(server.execute("SELECT UNIX_TIMESTAMP()").strip())


def writes_in_one_second(server: TestServer, sql: str) -> tuple[datetime, dict[str, str], str]:
    """Run ``sql`` and capture the checksums and GTID position within one wall-clock second: the state at
    that second (nothing else writes)."""
    for _ in range(10):
        time.sleep(1.02 - time.time() % 1.0)  # just after a second starts: room for the writes
        second = server_second(server)
        server.execute(sql)
        checksums = table_checksums(server)
        gtid = server.execute("SELECT @@gtid_binlog_pos").strip()
        if server_second(server) == second:
            return datetime.fromtimestamp(second, UTC), checksums, gtid
        server.execute("DELETE FROM shop.markers WHERE name = 'at'")  # spilled over: try the next second
    raise AssertionError("could not fit the marker writes into one second")


def target_between_writes(server: TestServer, sql: str = AT_TARGET) -> tuple[datetime, dict[str, str], str]:
    """``writes_in_one_second(sql)``, then ``AFTER_TARGET`` in a later second: a target with writes after it."""
    captured = writes_in_one_second(server, sql)
    time.sleep(1.1)  # AFTER_TARGET commits in a later second than the target's
    server.execute(AFTER_TARGET)
    return captured


def history_around_a_second(source: TestServer, env: dict[str, str], bucket: Path, *,
                            rollup_records: int | None = None) -> History:
    """``SETUP``, a backup (``env``), ``AFTER_BACKUP``, the target second, ``AFTER_TARGET``; then the source's
    binlogs archived into ``bucket`` (under ``env``'s prefix)."""
    source.execute(SETUP)
    manifest = backup(env)
    source.execute(AFTER_BACKUP)
    second, checksums, gtid = target_between_writes(source)
    archive(source, bucket, prefix=env.get("BACKUP_PREFIX", PREFIX), rollup_records=rollup_records)
    return History(manifest=manifest, second=second, checksums=checksums, gtid=gtid)


def backup(env: dict[str, str]) -> Manifest:
    done = run_cli(["backup", "--json"], env)
    assert done.returncode == 0, done.stderr
    manifest_path = Path(env["LOCAL_BACKUP_DIR"]) / json.loads(done.stdout)["manifest_key"]
    return Manifest.from_json(manifest_path.read_bytes())


def archive(source: TestServer, bucket: Path, *, prefix: str = PREFIX, rollup_records: int | None = None) -> None:
    assert source.dir is not None
    archive_binlog_files(open_storage(f"file://{bucket}"), prefix=prefix, files=server_binlog_files(source.dir / "data"),
                         rollup_records=rollup_records)


def last_archived_second(bucket: Path, *, prefix: str = PREFIX) -> str:
    """The end of the gap-free window, as ``list`` shows it to a user ('' for an empty archive)."""
    history = list(iter_history(open_storage(f"file://{bucket}"), prefix))
    segments = [r for r in history if isinstance(r, SegmentRecord)]
    return segments[-1].last_event_time if segments else ""


def markers(server: TestServer) -> list[str]:
    return server.execute("SELECT name FROM shop.markers ORDER BY name").splitlines()


def local_bucket(tmp_path: Path) -> Path:
    """A local bucket directory and the spool beside it (``tmp_path / "spool"``)."""
    for name in ("bucket", "spool"):
        (tmp_path / name).mkdir()
    return tmp_path / "bucket"


def restore_equals_the_second(env: dict[str, str], target: TestServer, second: datetime, *,
                              expected: dict[str, str], backup_id: str, gtid: str) -> str:
    """``restore --until second`` into ``target`` equals the source at that second (from ``backup_id``,
    ending at ``gtid``, the 'at' marker only); returns the restore's stderr."""
    done = run_cli(["restore", "--until", second.isoformat(), "--json"], {**env, **target.agent_env()})
    assert done.returncode == 0, done.stderr
    assert table_checksums(target) == expected and markers(target) == ["at"]
    result = json.loads(done.stdout)
    assert result["backup_id"] == backup_id and result["end_state"] == gtid
    return done.stderr
