"""``archive-binlogs`` against a real mariadbd writing binlogs: what lands in the bucket is exactly the
server's transactions, once each, whatever happens to the archiver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from shared.binlogs.history import read_history
from shared.binlogs.index import gap_free_windows
from shared.binlogs.records import GapRecord, SegmentRecord
from shared.storage.local import LocalStorage
from tests.support.agent_runs import env_for, wait_for
from tests.support.binlog_archive import archived_gtids, history, segment_objects, server_gtids
from tests.support.cli import run_cli, start_cli
from tests.support.mariadb_server import TestServer
from tests.support.monitoring import Pushgateway, backup_series

PREFIX = "pitr/demo"
SCHEMA = "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB;"


def write_batch(server: TestServer, start: int, *, rows: int = 300, width: int = 2000) -> None:
    """One transaction of ``rows`` rows (~rows*width bytes of binlog): a few make the 1 MiB file rotate."""
    server.execute(f"INSERT INTO shop.items SELECT seq, REPEAT('x', {width}) FROM seq_{start}_to_{start + rows - 1}",
                   database="shop")


def small_writes(server: TestServer, start: int, count: int) -> None:
    server.execute("".join(f"INSERT INTO shop.items VALUES ({start + i}, 'row {i}');" for i in range(count)))


def purge_to_current(server: TestServer) -> None:
    """PURGE until only the current file is left: a file stays until InnoDB's binlog checkpoint has moved
    past it (a moment after the rotation), and PURGE skips it quietly until then."""
    current = server.execute("SHOW MASTER STATUS").split("\t")[0]

    def purged() -> bool:
        server.execute(f"PURGE BINARY LOGS TO '{current}'")
        return [line.split("\t")[0] for line in server.execute("SHOW BINARY LOGS").splitlines()] == [current]

    wait_for(purged, timeout=30)


def data_dir(server: TestServer) -> Path:
    assert server.dir is not None
    return server.dir / "data"


def archive_env(server: TestServer, bucket: Path, tmp: Path, **extra: str) -> dict[str, str]:
    return env_for(server, bucket, tmp, BACKUP_PREFIX=PREFIX, **extra)


def test_one_shot_archives_every_transaction_once_across_rotations(binlog_server: TestServer, tmp_path: Path) -> None:
    bucket, env = tmp_path / "bucket", archive_env(binlog_server, tmp_path / "bucket", tmp_path)
    bucket.mkdir()
    binlog_server.execute(SCHEMA)
    for n in range(4):
        write_batch(binlog_server, 1 + n * 1000)
    small_writes(binlog_server, 10_000, 5)
    assert len(list(data_dir(binlog_server).glob("bin.[0-9]*"))) >= 3  # rotations inside the range
    done = run_cli(["archive-binlogs", "--json"], env, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = server_gtids(data_dir(binlog_server))
    assert archived_gtids(bucket, PREFIX) == expected
    summary = json.loads(done.stdout)
    assert summary["state"] == binlog_server.execute("SELECT @@gtid_binlog_pos").strip() and summary["gaps"] == []
    windows = gap_free_windows(history(bucket, PREFIX))
    assert len(windows) == 1 and windows[0].end_state == summary["state"]
    assert list(tmp_path.glob("mariadb-ha-backup-*")) == []  # the private run dir (local binlog copies) is gone
    # Nothing new: a second run adds nothing.
    again = run_cli(["archive-binlogs"], env, timeout=60)
    assert again.returncode == 0, again.stderr
    assert archived_gtids(bucket, PREFIX) == expected


def test_follow_uploads_within_the_budget_and_sigterm_uploads_the_rest(
        binlog_server: TestServer, tmp_path: Path, pushgateway: Pushgateway) -> None:
    bucket, env = tmp_path / "bucket", archive_env(binlog_server, tmp_path / "bucket", tmp_path,
                                                   BINLOG_UPLOAD_SECONDS="2", BACKUP_METRICS_PUSHGATEWAY=pushgateway.url)
    bucket.mkdir()
    binlog_server.execute(SCHEMA)
    follower = start_cli(["archive-binlogs", "--follow"], env)
    try:
        wait_for(lambda: len(archived_gtids(bucket, PREFIX)) >= 2, timeout=30)
        lags = []
        for i in range(3):
            small_writes(binlog_server, 100 + i, 1)
            committed, gtid = time.monotonic(), binlog_server.execute("SELECT @@gtid_binlog_pos").strip()
            wait_for(lambda gtid=gtid: gtid in archived_gtids(bucket, PREFIX), timeout=10)
            lags.append(time.monotonic() - committed)
        assert max(lags) <= 2.0, lags
        small_writes(binlog_server, 200, 3)
        time.sleep(0.5)  # received by the archiver, but its segment is not due yet
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(timeout=30) == 0, follower.stderr.read() if follower.stderr else ""
    finally:
        if follower.poll() is None:
            follower.kill()
    assert archived_gtids(bucket, PREFIX) == server_gtids(data_dir(binlog_server))
    # The gauges describe the newest segment, in the archiver's own Pushgateway group.
    newest = [r for r in history(bucket, PREFIX) if isinstance(r, SegmentRecord)][-1]
    gauges = backup_series(pushgateway.scrape(), prefix="mariadb_ha_backup_binlog_")
    labels, last_event = gauges["mariadb_ha_backup_binlog_last_event_timestamp_seconds"]
    assert labels["job"] == "mariadb-ha-binlog-archiver"
    assert last_event == newest.last_time.timestamp()
    assert 0 <= gauges["mariadb_ha_backup_binlog_segment_lag_seconds"][1] <= 3  # whole-second commit times
    assert gauges["mariadb_ha_backup_binlog_lag_seconds"][1] == 0  # everything received was stored
    assert gauges["mariadb_ha_backup_binlog_gaps"][1] == 0


def test_kill_9_then_a_one_shot_run_leaves_no_duplicate_and_no_gap(binlog_server: TestServer,
                                                                   tmp_path: Path) -> None:
    # Rollups of 2 records: the kill likely lands between records and the rollup that would hold them.
    bucket, env = tmp_path / "bucket", archive_env(binlog_server, tmp_path / "bucket", tmp_path,
                                                   BINLOG_UPLOAD_SECONDS="2", BINLOG_ROLLUP_RECORDS="2")
    bucket.mkdir()
    binlog_server.execute(SCHEMA)
    follower = start_cli(["archive-binlogs", "--follow"], env)
    try:
        for n in range(3):
            write_batch(binlog_server, 1 + n * 1000)
        small_writes(binlog_server, 5000, 20)
        wait_for(lambda: len(segment_objects(bucket, PREFIX)) >= 2, timeout=30)
        small_writes(binlog_server, 6000, 10)  # likely received but not yet uploaded when killed
        reader = binlog_children(follower.pid)
    finally:
        follower.kill()  # SIGKILL: no cleanup at all
        follower.wait()
    # Its replication client does not stream on, orphaned (setpriv --pdeathsig).
    wait_for(lambda: not Path(f"/proc/{reader[0]}").exists(), timeout=10)
    write_batch(binlog_server, 7000)
    small_writes(binlog_server, 9000, 10)
    done = run_cli(["archive-binlogs"], env, timeout=120)
    assert done.returncode == 0, done.stderr
    archived = archived_gtids(bucket, PREFIX)
    assert len(archived) == len(set(archived))
    assert archived == server_gtids(data_dir(binlog_server))
    assert len(gap_free_windows(history(bucket, PREFIX))) == 1
    # The run after the kill rolled up what had closed; read through the rollups, the archive is the same.
    through_rollups = read_history(LocalStorage(bucket), PREFIX)
    assert through_rollups.chain and through_rollups.notes == []
    assert through_rollups.windows == gap_free_windows(history(bucket, PREFIX))
    assert list(through_rollups.records(0)) == history(bucket, PREFIX)


def test_binlogs_purged_before_archiving_make_a_recorded_gap(binlog_server: TestServer, tmp_path: Path) -> None:
    bucket, env = tmp_path / "bucket", archive_env(binlog_server, tmp_path / "bucket", tmp_path)
    bucket.mkdir()
    binlog_server.execute(SCHEMA)
    small_writes(binlog_server, 1, 3)
    assert run_cli(["archive-binlogs"], env, timeout=60).returncode == 0
    archived_before = archived_gtids(bucket, PREFIX)
    small_writes(binlog_server, 100, 3)  # these are lost: purged before the archiver saw them
    lost_until = binlog_server.execute("SELECT @@gtid_binlog_pos").strip()
    binlog_server.execute("FLUSH BINARY LOGS")
    purge_to_current(binlog_server)
    small_writes(binlog_server, 200, 2)
    done = run_cli(["archive-binlogs"], env, timeout=60)
    assert done.returncode == 4, done.stderr
    assert '"level": "error"' in done.stderr and "GAP" in done.stderr
    gaps = [r for r in history(bucket, PREFIX) if isinstance(r, GapRecord)]
    assert len(gaps) == 1
    assert gaps[0].from_gtid_state == archived_before[-1] and gaps[0].to_gtid_state == lost_until
    after = archived_gtids(bucket, PREFIX)[len(archived_before):]
    assert after == server_gtids(data_dir(binlog_server))  # what the server still has, all of it
    windows = gap_free_windows(history(bucket, PREFIX))
    assert [(w.start_state, w.end_state) for w in windows] == [
        ("", archived_before[-1]), (lost_until, binlog_server.execute("SELECT @@gtid_binlog_pos").strip())]


def test_a_server_without_binlogs_is_refused_with_one_line(mariadb_server: TestServer, tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    done = run_cli(["archive-binlogs"], archive_env(mariadb_server, bucket, tmp_path), timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "log_bin is OFF" in done.stderr and "Traceback" not in done.stderr
    assert list(bucket.rglob("*")) == []


def test_statement_format_is_refused(mariadb_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = mariadb_factory(extra_args=("--log-bin=bin", "--server-id=1", "--binlog-format=STATEMENT"))
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    done = run_cli(["archive-binlogs", "--follow"], archive_env(server, bucket, tmp_path), timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "binlog_format is STATEMENT, PITR needs ROW" in done.stderr
    assert list(bucket.rglob("*")) == []


@pytest.mark.slow
def test_a_stalled_stream_is_noticed_and_replaced(binlog_server: TestServer, tmp_path: Path) -> None:
    """The mariadb-binlog child is frozen (SIGSTOP): connected, silent, like a reader behind a dead
    network path. The watchdog sees the server move on without it and restarts the stream."""
    # Rollups of 2 records: the kill likely lands between records and the rollup that would hold them.
    bucket, env = tmp_path / "bucket", archive_env(binlog_server, tmp_path / "bucket", tmp_path,
                                                   BINLOG_UPLOAD_SECONDS="2", BINLOG_ROLLUP_RECORDS="2")
    bucket.mkdir()
    binlog_server.execute(SCHEMA)
    follower = start_cli(["archive-binlogs", "--follow"], env)
    try:
        wait_for(lambda: len(archived_gtids(bucket, PREFIX)) >= 2, timeout=30)
        reader = binlog_children(follower.pid)
        assert len(reader) == 1
        # The replication client gets the password from its 0600 defaults file only.
        for part in ("cmdline", "environ"):
            assert binlog_server.password.encode() not in Path(f"/proc/{reader[0]}/{part}").read_bytes()
        os.kill(reader[0], signal.SIGSTOP)
        small_writes(binlog_server, 100, 5)
        wait_for(lambda: archived_gtids(bucket, PREFIX) == server_gtids(data_dir(binlog_server)), timeout=45)
        assert binlog_children(follower.pid) != reader  # a new reader took over
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(timeout=30) == 0
    finally:
        if follower.poll() is None:
            follower.kill()
    log = follower.stderr.read() if follower.stderr else ""
    assert "stalled" in log and binlog_server.password not in log


def binlog_children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid), "-f", "mariadb-binlog"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]
