"""``archive-binlogs --follow`` rides out a storage outage longer than its retry budget.

Real server, real CLI, moto behind the HTTP fault proxy: once the follower has archived the first
writes, every request to S3 is reset for ~20 s (the retry budget is ~5 s) while writes go on. The
follower is still running afterwards, catches up by itself within a few upload intervals of
recovery, and the archive holds every transaction, in order, with no gap.
"""

from __future__ import annotations

import itertools
import signal
import time

from shared.binlogs.gtid import contains, parse_state
from shared.binlogs.index import iter_history
from shared.binlogs.records import GapRecord, SegmentRecord
from shared.storage import open_storage
from tests.support.cli import start_cli
from tests.support.faults import Fault, any_call
from tests.support.storage_servers import unique_bucket_name

PREFIX = "pitr/outage"
UPLOAD_SECONDS = 4


def archived_state(storage) -> str:
    records = list(iter_history(storage, PREFIX))
    return records[-1].gtid_state_after if records and isinstance(records[-1], SegmentRecord) else ""


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def test_the_follower_rides_out_a_storage_outage(s3_server, http_fault_proxy, binlog_server, tmp_path, monkeypatch):
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    bucket = unique_bucket_name()
    s3_server.create_bucket(bucket)
    direct = open_storage(f"s3://{bucket}")
    proxy = http_fault_proxy(s3_server.port)
    env = {**s3_server.env_for(proxy.endpoint), **binlog_server.agent_env(), "BACKUP_URL": f"s3://{bucket}",
           "BACKUP_PREFIX": PREFIX, "BACKUP_TMPDIR": str(tmp_path), "BINLOG_UPLOAD_SECONDS": str(UPLOAD_SECONDS),
           "BACKUP_RETRY_ATTEMPTS": "2", "BACKUP_RETRY_SECONDS": "3"}
    binlog_server.execute("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY)")
    follower = start_cli(["archive-binlogs", "--follow"], env)
    try:
        first = binlog_server.execute("SELECT @@gtid_binlog_pos").strip()
        assert wait_until(lambda: contains(parse_state(archived_state(direct)), parse_state(first).popitem()[1]), 60)

        proxy.add(Fault(when=any_call, action="reset", times=None, name="outage"))
        for i in range(20):  # ~20 s of outage, writes going on
            binlog_server.execute(f"INSERT INTO shop.t VALUES ({i})")
            time.sleep(1)
        still_running = follower.poll() is None
        proxy.clear()
        binlog_server.execute("INSERT INTO shop.t VALUES (1000)")
        last = parse_state(binlog_server.execute("SELECT @@gtid_binlog_pos").strip())
        recovered = time.monotonic()
        caught_up = wait_until(lambda: all(contains(parse_state(archived_state(direct)), g) for g in last.values()),
                               6 * UPLOAD_SECONDS)
        catch_up_seconds = time.monotonic() - recovered
        running_after = follower.poll() is None
    finally:
        follower.send_signal(signal.SIGTERM)
        _out, err = follower.communicate(timeout=60)

    assert [i for i in proxy.injected if i.startswith("outage")], "the outage never happened"
    assert still_running and running_after, err[-2000:]
    assert caught_up, err[-2000:]
    assert catch_up_seconds < 6 * UPLOAD_SECONDS
    records = list(iter_history(direct, PREFIX))
    assert not [r for r in records if isinstance(r, GapRecord)]
    segments = [r for r in records if isinstance(r, SegmentRecord)]
    for before, after in itertools.pairwise(segments):
        assert after.gtid_state_before == before.gtid_state_after  # contiguous: nothing lost
    assert sum(r.transactions for r in segments) >= 22  # CREATE DATABASE, CREATE TABLE and the 21 inserts
    assert "storage unavailable" in err
