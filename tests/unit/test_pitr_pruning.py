"""Pruning the binlog archive on local storage: what the oldest kept backup needs stays, older goes,
records before segments, never the newest record, nothing without a kept backup inside the archive."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from agent.common.catalog import COMPLETE, BackupEntry
from agent.retention.binlogs import binlog_keys_to_prune
from shared.binlogs import layout
from shared.binlogs.index import write_record
from shared.binlogs.records import SegmentRecord, SourceNode
from shared.layout import BackupKeys
from shared.manifest import BinlogPosition
from shared.storage.local import LocalStorage
from tests.support.backups import make_manifest

PREFIX = "db/pitr"
STATES = ["", "0-1-10", "0-1-20", "0-1-30", "0-1-40"]  # segment n goes from STATES[n] to STATES[n + 1]


def archive(tmp_path: Path) -> LocalStorage:
    storage = LocalStorage(tmp_path)
    for seq in range(4):
        key = layout.segment_key(PREFIX, seq)
        storage.put(key, io.BytesIO(b"segment"))
        write_record(storage, PREFIX, SegmentRecord(
            seq=seq, segment=key, sha1="0" * 40, size=7, transactions=10, first_gtid=STATES[seq + 1],
            last_gtid=STATES[seq + 1], gtid_state_before=STATES[seq], gtid_state_after=STATES[seq + 1],
            first_event_time=f"2026-01-01T00:0{seq}:00Z", last_event_time=f"2026-01-01T00:0{seq}:30Z",
            source=SourceNode(host="db", node="db-0", server_id=1), source_file="bin.000001", start_offset=4,
            end_offset=100, archived_at="2026-01-01T01:00:00Z"))
    return storage


def kept(gtid_state: str | None) -> BackupEntry:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    keys = BackupKeys(prefix=PREFIX, backup_id="20260101T000000Z", format="tar.gz")
    manifest = make_manifest(keys, sha1="0" * 40, stored=1, raw=1, started=started)
    if gtid_state is not None:
        manifest = replace(manifest, binlog=BinlogPosition(gtid_state=gtid_state, file="bin.000001", position=4,
                                                           node="db-0"))
    return BackupEntry(backup_id=keys.backup_id, started=started, state=COMPLETE, objects=(), manifest=manifest)


def test_keeps_what_the_oldest_kept_backup_reads_and_the_segment_before(tmp_path: Path) -> None:
    storage = archive(tmp_path)
    storage.put(layout.segment_key(PREFIX, 7), io.BytesIO(b"an orphan above the cut-off"))

    cutoff, keys = binlog_keys_to_prune(storage, prefix=PREFIX, kept=[kept("0-1-25"), kept("0-1-35")])

    # The 0-1-25 snapshot first needs segment 2 (0-1-20 -> 0-1-30); segment 1 stays for the planner's check.
    assert cutoff == 1
    assert keys == [layout.index_key(PREFIX, 0), layout.segment_key(PREFIX, 0)]


def test_never_the_newest_record_even_when_the_backup_holds_everything(tmp_path: Path) -> None:
    _, keys = binlog_keys_to_prune(archive(tmp_path), prefix=PREFIX, kept=[kept("0-1-40")])

    assert keys == [k for seq in range(3) for k in (layout.index_key(PREFIX, seq), layout.segment_key(PREFIX, seq))]


def test_nothing_without_a_kept_backup_inside_the_archive(tmp_path: Path) -> None:
    storage = archive(tmp_path)

    assert binlog_keys_to_prune(storage, prefix=PREFIX, kept=[kept(None)]) == (0, [])
    assert binlog_keys_to_prune(storage, prefix=PREFIX, kept=[kept("0-1-99")]) == (0, [])  # beyond the archive
    assert binlog_keys_to_prune(storage, prefix=PREFIX, kept=[]) == (0, [])


class RetainingStorage(LocalStorage):
    """A local bucket with object lock: ``retained`` says which keys are retained until when."""

    def __init__(self, root: Path, retained: dict[str, datetime]) -> None:
        super().__init__(root)
        self.retained = retained

    def check_object_lock(self) -> None:
        pass

    def set_retention(self, key: str, *, until: datetime, mode: str) -> None:
        self.retained[key] = until

    def retained_until(self, key: str) -> datetime | None:
        return self.retained.get(key)


def test_an_archive_without_rollups_is_pruned_up_to_its_first_retained_record(tmp_path: Path) -> None:
    archive(tmp_path)
    now = datetime(2026, 2, 1, tzinfo=UTC)
    expired = {layout.index_key(PREFIX, 0): datetime(2026, 1, 2, tzinfo=UTC)}
    storage = RetainingStorage(tmp_path, {**expired, layout.index_key(PREFIX, 1): datetime(2026, 3, 1, tzinfo=UTC),
                                          layout.index_key(PREFIX, 2): datetime(2026, 3, 1, tzinfo=UTC)})

    cutoff, keys = binlog_keys_to_prune(storage, prefix=PREFIX, kept=[kept("0-1-40")], now=now)

    # Without the lock seqs 0-2 would go (the test above); seq 1's record is retained: only seq 0 goes.
    assert (cutoff, keys) == (1, [layout.index_key(PREFIX, 0), layout.segment_key(PREFIX, 0)])
