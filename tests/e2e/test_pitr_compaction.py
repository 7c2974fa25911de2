"""Compaction (``BINLOG_COMPACT=on``) on a real binlog-writing mariadbd: a restore to the second through
compacted segments equals the source at that second; a compaction cut at each of its steps, and a
``kill -9`` of the archiver while it compacts, leave an archive that restores and that the next run
finishes; a compacted segment never spans a gap, and a restore across the gap is still refused."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from shared.binlogs import layout
from shared.binlogs.compaction import CompactedSegments, CompactionRecord, compact_rollup
from shared.binlogs.history import read_history
from shared.binlogs.index import iter_history
from shared.binlogs.records import GapRecord, SegmentRecord
from shared.binlogs.rolling import RollupWriter
from shared.storage import open_storage
from shared.storage.local import LocalStorage
from tests.support import pitr
from tests.support.agent_runs import env_for, wait_for
from tests.support.archive_from_files import archive_binlog_files, server_binlog_files
from tests.support.cli import run_cli, start_cli
from tests.support.mariadb_server import table_checksums
from tests.support.pitr import PREFIX, SETUP, backup, local_bucket, markers


@pytest.fixture
def bucket(tmp_path: Path) -> Path:
    return local_bucket(tmp_path)


def compactions(bucket: Path) -> list[CompactionRecord]:
    folder = bucket / layout.folder_prefix(PREFIX, layout.COMPACTIONS)
    return [CompactionRecord.from_json(p.read_bytes()) for p in sorted(folder.glob("*.json"))]


def records(bucket: Path) -> list[SegmentRecord | GapRecord]:
    return list(iter_history(open_storage(f"file://{bucket}"), PREFIX))  # type: ignore[arg-type]


def small_segments_gone(bucket: Path) -> None:
    """Every compacted range's small segments are deleted, its compacted segment is a binlog on its own."""
    by_seq = {r.seq: r for r in records(bucket) if isinstance(r, SegmentRecord)}
    for done in compactions(bucket):
        assert all(not (bucket / by_seq[seq].segment).exists() for seq in range(done.first_seq, done.last_seq + 1))
    compacted_segments_decode(bucket)


def compacted_segments_decode(bucket: Path) -> None:
    assert compactions(bucket)
    for done in compactions(bucket):
        decoded = subprocess.run(["mariadb-binlog", str(bucket / done.segment)], capture_output=True, text=True)
        assert decoded.returncode == 0 and done.last_gtid.rsplit("-", 1)[1] in decoded.stdout, decoded.stderr


def archive_and_compact(server, bucket: Path, *, per_rollup: int | None = None) -> list[CompactionRecord]:  # type: ignore[no-untyped-def]
    """Archive every file, a segment per transaction, roll the records up (all but the last in one rollup,
    or ``per_rollup`` each) and compact each rollup, as the archiver with BINLOG_COMPACT=on does."""
    storage = LocalStorage(bucket)
    archive_binlog_files(storage, prefix=PREFIX, files=server_binlog_files(server.dir / "data"), per_segment=1)
    count = per_rollup or len(records(bucket)) - 1
    rolled = RollupWriter.resume(read_history(storage, PREFIX), max_records=count).roll()
    return [c for rollup in rolled for c in compact_rollup(storage, PREFIX, rollup.records, retain=lambda key: None)]


def test_restore_until_a_second_inside_a_compacted_segment_equals_the_source(binlog_server, mariadb_factory, bucket,
                                                                             tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    binlog_server.execute(SETUP)
    manifest = backup(env)
    binlog_server.execute(pitr.AFTER_BACKUP)
    target_second, expected, gtid_at_target = pitr.target_between_writes(binlog_server)

    archive_and_compact(binlog_server, bucket)

    small_segments_gone(bucket)
    at_target = next(r for r in records(bucket) if isinstance(r, SegmentRecord) and r.last_gtid == gtid_at_target)
    assert any(c.first_seq < at_target.seq < c.last_seq for c in compactions(bucket))  # TIME is mid-segment
    stderr = pitr.restore_equals_the_second(env, mariadb_factory(), target_second, expected=expected,
                                            backup_id=manifest.id, gtid=gtid_at_target)
    assert "compaction" not in stderr


class Killed(BaseException):
    """The process is gone: nothing after this point runs (not an error the code could handle)."""


class CutStorage(LocalStorage):
    """Dies at the first ``call`` (put or delete) of a key under ``folder``."""

    def __init__(self, root: Path, *, call: str, folder: str) -> None:
        super().__init__(root)
        self.call, self.folder = call, folder

    def put(self, key, stream, *, if_absent=False):  # type: ignore[no-untyped-def]
        if self.call == "put" and self.folder in key:
            raise Killed(key)
        return super().put(key, stream, if_absent=if_absent)

    def delete(self, key: str) -> None:
        if self.call == "delete" and self.folder in key:
            raise Killed(key)
        super().delete(key)


@pytest.mark.parametrize("cut", [("put", "/compactions/"), ("delete", "/segments/")],
                         ids=["before-its-record", "before-the-deletes"])
def test_a_compaction_cut_at_any_step_restores_and_the_next_run_finishes_it(cut, binlog_server, mariadb_factory,
                                                                            bucket, tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    binlog_server.execute(SETUP)
    backup(env)
    binlog_server.execute(pitr.AFTER_BACKUP)
    binlog_server.execute(pitr.AFTER_TARGET)
    storage = LocalStorage(bucket)
    archive_binlog_files(storage, prefix=PREFIX, files=server_binlog_files(binlog_server.dir / "data"), per_segment=1)
    rollup = RollupWriter.resume(read_history(storage, PREFIX), max_records=len(records(bucket)) - 1).roll()[0]
    before = sorted(p.relative_to(bucket).as_posix() for p in bucket.rglob("*.binlog"))

    with pytest.raises(Killed):
        compact_rollup(CutStorage(bucket, call=cut[0], folder=cut[1]), PREFIX, rollup.records, retain=lambda key: None)

    left = sorted(p.relative_to(bucket).as_posix() for p in bucket.rglob("*.binlog"))
    if cut[0] == "put":  # the compacted segment is there, uncommitted: the small ones are the archive
        assert compactions(bucket) == [] and set(before) < set(left)
    else:  # committed, the small segments not yet deleted
        assert len(compactions(bucket)) == 1 and set(before) < set(left)
    assert CompactedSegments(storage, PREFIX).ranges == [(c.first_seq, c.last_seq) for c in compactions(bucket)]
    until = [r for r in records(bucket) if isinstance(r, SegmentRecord)][-1].last_event_time
    first = mariadb_factory()
    done = run_cli(["restore", "--until", until, "--json"], {**env, **first.agent_env()})
    assert done.returncode == 0, done.stderr
    assert table_checksums(first) == table_checksums(binlog_server)

    compact_rollup(storage, PREFIX, rollup.records, retain=lambda key: None)  # the next run, on the newest rollup

    small_segments_gone(bucket)
    second = mariadb_factory()
    done = run_cli(["restore", "--until", until, "--json"], {**env, **second.agent_env()})
    assert done.returncode == 0, done.stderr
    assert table_checksums(second) == table_checksums(binlog_server)


def test_kill_9_of_the_archiver_while_it_compacts_then_a_one_shot_run_restores(binlog_server, mariadb_factory,
                                                                               bucket, tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX, BINLOG_COMPACT="on",
                  BINLOG_ROLLUP_RECORDS="3", BINLOG_UPLOAD_SECONDS="2")
    binlog_server.execute(SETUP)
    backup(env)
    follower = start_cli(["archive-binlogs", "--follow"], env)
    try:
        for n in range(12):  # a segment every second or so, most of them in one binlog file
            binlog_server.execute(f"INSERT INTO shop.orders (id, item) VALUES ({100 + n}, 'x')")
            time.sleep(0.7)
        wait_for(lambda: bool(compactions(bucket)), timeout=30)
        binlog_server.execute("INSERT INTO shop.orders (id, item) VALUES (200, 'likely not yet stored')")
    finally:
        follower.kill()  # SIGKILL: no cleanup at all, wherever the compaction thread was
        follower.wait()
    binlog_server.execute("INSERT INTO shop.markers VALUES ('after the kill')")
    done = run_cli(["archive-binlogs"], env, timeout=120)
    assert done.returncode == 0, done.stderr

    # The newest rollup's compaction was finished by the one-shot run; an older one the kill cut short
    # may keep small segments beside its compacted one (read through the compacted one, pruned with it).
    compacted_segments_decode(bucket)
    history = read_history(LocalStorage(bucket), PREFIX)
    assert history.notes == [] and len(history.windows) == 1
    until = [r for r in records(bucket) if isinstance(r, SegmentRecord)][-1].last_event_time
    target = mariadb_factory()
    restored = run_cli(["restore", "--until", until, "--json"], {**env, **target.agent_env()})
    assert restored.returncode == 0, restored.stderr
    assert table_checksums(target) == table_checksums(binlog_server) and "after the kill" in markers(target)


def test_a_compacted_segment_never_spans_a_gap_and_a_restore_across_it_is_refused(binlog_server, mariadb_factory,
                                                                                  bucket, tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    binlog_server.execute(SETUP)
    backup(env)
    storage = LocalStorage(bucket)
    archive_binlog_files(storage, prefix=PREFIX, files=server_binlog_files(binlog_server.dir / "data"), per_segment=1)
    binlog_server.execute("INSERT INTO shop.orders (id, item) VALUES (50, 'lost'); FLUSH BINARY LOGS;")
    current = binlog_server.execute("SHOW MASTER STATUS").split("\t")[0]
    wait_for(lambda: binlog_server.execute(f"PURGE BINARY LOGS TO '{current}'") is not None and len(
        binlog_server.execute("SHOW BINARY LOGS").splitlines()) == 1, timeout=30)
    time.sleep(1.1)  # the writes after the gap come a second later than the window's end: TIME lies past it
    binlog_server.execute("INSERT INTO shop.orders (id, item) VALUES (51, 'a'); INSERT INTO shop.orders (id, item) "
                          "VALUES (52, 'b'); INSERT INTO shop.markers VALUES ('after the gap');")

    done = archive_and_compact(binlog_server, bucket)

    gap = next(r for r in records(bucket) if isinstance(r, GapRecord))
    assert done and all(not c.first_seq <= gap.seq <= c.last_seq for c in done)
    assert any(c.first_seq > gap.seq for c in done)  # after the gap too
    small_segments_gone(bucket)
    until = [r for r in records(bucket) if isinstance(r, SegmentRecord)][-1].last_event_time
    target = mariadb_factory()
    refused = run_cli(["restore", "--until", until], {**env, **target.agent_env()})
    assert refused.returncode == 2 and "gap" in refused.stderr


def test_prune_deletes_a_compacted_segment_with_its_rollup_and_the_kept_backup_still_restores(
        binlog_server, mariadb_factory, bucket, tmp_path):
    env = env_for(binlog_server, bucket, tmp_path / "spool", BACKUP_PREFIX=PREFIX)
    binlog_server.execute(SETUP)
    backup(env)
    binlog_server.execute("".join(f"INSERT INTO shop.orders (id, item) VALUES ({100 + n}, 'x');" for n in range(8)))
    time.sleep(1.1)  # backup ids are whole seconds
    backup(env)
    binlog_server.execute("".join(f"INSERT INTO shop.orders (id, item) VALUES ({200 + n}, 'y');" for n in range(4)))
    binlog_server.execute("INSERT INTO shop.markers VALUES ('after the newer backup')")
    compacted = archive_and_compact(binlog_server, bucket, per_rollup=4)
    assert len(compacted) >= 3

    pruned = run_cli(["prune", "--keep-last", "1", "--json"], env)

    assert pruned.returncode == 0, pruned.stderr
    keys = {r["backup_id"]: r["keys"] for r in json.loads(pruned.stdout)}["binlogs"]
    gone = [c for c in compacted if layout.compaction_key(PREFIX, c.first_seq, c.last_seq) in keys]
    assert gone and set(compactions(bucket)) == set(compacted) - set(gone)
    for c in gone:  # its record right after its rollup, before the compacted segment and the records
        record_at = keys.index(layout.compaction_key(PREFIX, c.first_seq, c.last_seq))
        assert "/rollups/" in keys[record_at - 1] or "/compactions/" not in keys[record_at - 1]
        assert keys[record_at + 1] == c.segment and not (bucket / c.segment).exists()
    history = read_history(LocalStorage(bucket), PREFIX)
    assert history.notes == [] and len(history.windows) == 1
    target = mariadb_factory()
    until = [r for r in records(bucket) if isinstance(r, SegmentRecord)][-1].last_event_time
    done = run_cli(["restore", "--until", until, "--json"], {**env, **target.agent_env()})
    assert done.returncode == 0, done.stderr
    assert table_checksums(target) == table_checksums(binlog_server)
