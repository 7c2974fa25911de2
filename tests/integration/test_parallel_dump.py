"""The parallel dump against real servers: byte-identical to one mariadb-dump, consistent under writes,
clean failure when a worker dies."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.backup import parallel_dump
from agent.backup.evidence import RowCounter
from agent.backup.parallel_dump import ParallelDump, ParallelPlan, PartHeldTooLongError
from agent.common.dumpfile import read_units
from agent.restore.parallel_loading import ParallelLoader
from agent.restore.restoring import CLIENT_FLAGS
from shared.binlogs.snapshot import POSITION_FLAGS
from shared.dump import dump_argv
from shared.mariadb_client import client_argv, write_defaults_file
from tests.support.agent_runs import env_for, hold_table_lock, wait_for
from tests.support.cli import run_cli, start_cli
from tests.support.fingerprint import fingerprint
from tests.support.hostile import load_hostile
from tests.support.mariadb_server import BINLOG_SERVER_ARGS, TestServer, table_checksums

_COMPLETED = re.compile(rb"^-- Dump completed on .*$", re.MULTILINE)


def _defaults(server: TestServer, tmp: Path) -> Path:
    return write_defaults_file(tmp, host=server.host, port=server.port, user="root", password=server.password)


def _parallel_bytes(plan: ParallelPlan, run_dir: Path) -> tuple[bytes, ParallelDump]:
    with ParallelDump(plan, run_dir) as dump:
        data = dump.stdout.read()
        dump.finish()
    return data, dump


@pytest.mark.parametrize("threads", [2, 3])
def test_the_stitched_dump_is_byte_for_byte_one_mariadb_dump(mariadb_factory, tmp_path, threads):
    server = mariadb_factory(extra_args=BINLOG_SERVER_ARGS)
    load_hostile(server)
    defaults = _defaults(server, tmp_path)
    single = subprocess.run([*dump_argv(defaults), *POSITION_FLAGS], capture_output=True, check=True).stdout
    plan = ParallelPlan(argv=dump_argv, defaults_file=defaults, threads=threads, extra_flags=POSITION_FLAGS)
    stitched, dump = _parallel_bytes(plan, tmp_path)

    assert _COMPLETED.sub(b"", stitched) == _COMPLETED.sub(b"", single)
    counter = RowCounter()
    counter.feed(single)
    assert dump.rows == counter.finish()
    assert dump.block_seconds is not None and dump.block_seconds < 5
    assert list((tmp_path / "parallel").iterdir()) == []  # parts, logs and worker option files are gone
    assert dump.split_tables == 0  # these tables are small: each goes whole to one session


def _restored(mariadb_factory, dump: bytes, *, hostile: bool = False) -> TestServer:
    """``mariadb < file``; for the hostile fixture with the restore's client flags and its definer account (a
    row its CHECK constraint forbids, views of a definer: mariadb-dump's own file needs both)."""
    target = mariadb_factory()
    if hostile:
        target.execute("CREATE USER 'definer'@'localhost'; GRANT ALL ON *.* TO 'definer'@'localhost';")
    argv = target.client_argv(*CLIENT_FLAGS) if hostile else target.client_argv()
    done = subprocess.run(argv, input=dump, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return target


def test_tables_split_among_sessions_restore_to_what_one_mariadb_dump_restores(mariadb_factory, tmp_path):
    server = mariadb_factory(extra_args=BINLOG_SERVER_ARGS)
    load_hostile(server)
    # Keys that cross many blocks, negative ones, a BIGINT UNSIGNED key near its top, two key names.
    server.execute("CREATE DATABASE split; USE split;"
                   "CREATE TABLE signed (id INT PRIMARY KEY, v VARCHAR(40));"
                   "INSERT INTO signed SELECT CAST(seq AS SIGNED) - 6000, MD5(seq) FROM seq_1_to_12000;"
                   "CREATE TABLE huge (k BIGINT UNSIGNED PRIMARY KEY, b BLOB);"
                   "INSERT INTO huge SELECT 18446744073709551615 - seq * 7, RANDOM_BYTES(64) FROM seq_0_to_5000;"
                   "CREATE TABLE empty_one (id INT PRIMARY KEY);")
    defaults = _defaults(server, tmp_path)
    single = subprocess.run([*dump_argv(defaults), *POSITION_FLAGS], capture_output=True, check=True).stdout
    plan = ParallelPlan(argv=dump_argv, defaults_file=defaults, threads=2, extra_flags=POSITION_FLAGS,
                        split_bytes=0)  # every table with an integer key is split
    stitched, dump = _parallel_bytes(plan, tmp_path)

    assert dump.split_tables >= 5
    assert b"-- WHERE:" not in stitched
    assert _COMPLETED.sub(b"", stitched) != _COMPLETED.sub(b"", single)  # split rows: other statements, order
    counter = RowCounter()
    counter.feed(single)
    assert dump.rows == counter.finish()  # the drill's row evidence is the same
    restored = [fingerprint(_restored(mariadb_factory, dump, hostile=True)) for dump in (stitched, single)]
    assert restored[0] == restored[1]
    # The parallel restore reads the stitched file (its parser cuts the split tables' INSERT batches too).
    target = mariadb_factory()
    target.execute("CREATE USER 'definer'@'localhost'; GRANT ALL ON *.* TO 'definer'@'localhost';")
    loader_dir = tmp_path / "loader"
    loader_dir.mkdir()
    target_defaults = write_defaults_file(loader_dir, host=target.host, port=target.port, user="root",
                                          password=target.password)
    ParallelLoader(client_argv(target_defaults, *CLIENT_FLAGS), sessions=3, run_dir=loader_dir).load(
        read_units(io.BytesIO(stitched), batch_bytes=64 << 10))
    assert fingerprint(target) == restored[1]
    assert any(key.startswith("checksum") and "split" in key for key in restored[0])
    assert list((tmp_path / "parallel").iterdir()) == []


# ---- sessions that wait on the stitcher longer than the server waits on a silent client ----

def _slow_server(mariadb_factory) -> TestServer:
    """A table split among the sessions, stitched first (~25 MB), then ten tables for the two table workers
    (~10 MB each, under the split size: ~50 MB per worker, more than its buffer, pipe and the loopback
    socket's buffers hold), and a server that drops a client it cannot write to for 2 s."""
    server = mariadb_factory()
    sql = ["CREATE DATABASE a_split; USE a_split; CREATE TABLE a_split.big (id INT PRIMARY KEY, pad VARCHAR(250));",
           "INSERT INTO a_split.big SELECT seq, REPEAT('s', 250) FROM seq_1_to_100000;", "CREATE DATABASE b_whole;"]
    for t in range(10):
        sql.append(f"CREATE TABLE b_whole.t{t} (id INT PRIMARY KEY, pad VARCHAR(250));")
        sql.append(f"INSERT INTO b_whole.t{t} SELECT seq, REPEAT('w', 250) FROM seq_1_to_40000;")
    sql.append("ANALYZE TABLE a_split.big, " + ", ".join(f"b_whole.t{t}" for t in range(10)) + ";")
    sql.append("SET GLOBAL net_write_timeout = 2;")
    server.execute("\n".join(sql))
    return server


def _read_slowly(plan: ParallelPlan, run_dir: Path) -> tuple[bytes, ParallelDump]:
    """The dump at ~5 MB/s (an upload slower than the dump): the table workers wait ~5 s behind the split."""
    chunks = []
    with ParallelDump(plan, run_dir) as dump:
        while chunk := dump.stdout.read(256 << 10):
            chunks.append(chunk)
            time.sleep(0.05)
        dump.finish()
    return b"".join(chunks), dump


def _slow_plan(server: TestServer, tmp_path: Path) -> ParallelPlan:
    return ParallelPlan(argv=dump_argv, defaults_file=_defaults(server, tmp_path), threads=2,
                        split_bytes=16 << 20, parts_memory_bytes=2 << 20)


def test_table_workers_outwait_net_write_timeout_behind_a_split_table(mariadb_factory, tmp_path):
    server = _slow_server(mariadb_factory)
    dump, parallel = _read_slowly(_slow_plan(server, tmp_path), tmp_path)
    assert parallel.split_tables == 1
    assert parallel.longest_hold_seconds > 3  # beyond the server's 2 s: it never waited on these sessions
    assert dump.endswith(b"\n") and b"-- Dump completed on" in dump[-200:]
    counts = {f"b_whole.t{t}": 40000 for t in range(10)} | {"a_split.big": 100000}
    assert parallel.rows is not None and {k: parallel.rows[k] for k in counts} == counts  # every row, once


def test_a_streaming_session_dropped_by_the_server_gives_way_to_the_single_dump(mariadb_factory, tmp_path,
                                                                                  monkeypatch):
    """Without --skip-quick (as for a worker with a large table that cannot be split) the server drops the
    waiting session; that is told apart from a lost server, and noticed at once, not at its turn."""
    server = _slow_server(mariadb_factory)
    streaming = parallel_dump.plan_sessions

    def no_buffering(*args, **kwargs):  # type: ignore[no-untyped-def]
        sessions, placement = streaming(*args, **kwargs)
        return [dataclasses.replace(s, buffered=False) for s in sessions], placement

    monkeypatch.setattr(parallel_dump, "plan_sessions", no_buffering)
    started = time.monotonic()
    with pytest.raises(PartHeldTooLongError, match=r"mariadb-dump \(worker \d\) failed after waiting"):
        _read_slowly(_slow_plan(server, tmp_path), tmp_path)
    assert time.monotonic() - started < 30
    assert list((tmp_path / "parallel").iterdir()) == []


# ---- consistency under a writer that moves money between tables in transactions ----

_TABLES = 4
_ACCOUNTS = 2000
_START_BALANCE = 1000


def _bank(server: TestServer) -> None:
    sql = ["CREATE DATABASE bank;", "USE bank;",
           "CREATE TABLE ledger (id BIGINT AUTO_INCREMENT PRIMARY KEY, amount INT, pad VARCHAR(200));"]
    for t in range(_TABLES):
        sql.append(f"CREATE TABLE acct_{t} (id INT PRIMARY KEY, balance BIGINT, moves INT, pad VARCHAR(200));")
        sql.append(f"INSERT INTO acct_{t} SELECT seq, {_START_BALANCE}, 0, REPEAT('x', 200) "
                   f"FROM seq_1_to_{_ACCOUNTS};")
    # Filler that makes the dump last long enough for many transactions to commit during it.
    sql.append("CREATE TABLE filler (id INT PRIMARY KEY, pad VARCHAR(250));")
    sql.append("INSERT INTO filler SELECT seq, REPEAT('y', 250) FROM seq_1_to_200000;")
    sql.append("ANALYZE TABLE filler;")  # its size estimate (~60 MB): split among the sessions of the backup
    # One transaction: money from an account in one table to one in another, and a ledger row.
    sql.append("""DELIMITER ;;
CREATE PROCEDURE move_money(n INT) BEGIN
  DECLARE i INT DEFAULT 0;
  DECLARE a, b, x, y INT;
  WHILE i < n DO
    SET a = FLOOR(RAND() * 4), b = (a + 1 + FLOOR(RAND() * 3)) % 4,
        x = 1 + FLOOR(RAND() * 2000), y = 1 + FLOOR(RAND() * 2000);
    START TRANSACTION;
    EXECUTE IMMEDIATE CONCAT('UPDATE acct_', a, ' SET balance = balance - 7, moves = moves + 1 WHERE id = ', x);
    EXECUTE IMMEDIATE CONCAT('UPDATE acct_', b, ' SET balance = balance + 7 WHERE id = ', y);
    INSERT INTO ledger (amount, pad) VALUES (7, REPEAT('z', 200));
    COMMIT;
    SET i = i + 1;
  END WHILE;
END;;
DELIMITER ;""")
    server.execute("\n".join(sql))


def _totals(server: TestServer) -> tuple[int, int, int]:
    union = " UNION ALL ".join(f"SELECT balance, moves FROM bank.acct_{t}" for t in range(_TABLES))
    out = server.execute(f"SELECT SUM(balance), SUM(moves), (SELECT COUNT(*) FROM bank.ledger) FROM ({union}) x")
    balance, moves, ledger = out.split()
    return int(balance), int(moves), int(ledger)


@contextlib.contextmanager
def _money_moving(source: TestServer) -> Iterator[None]:
    """A writer moving money between accounts (and into the ledger) the whole time, 50 moves in first."""
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            source.execute("CALL move_money(20)", database="bank")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        wait_for(lambda: _totals(source)[2] > 50)
        yield
    finally:
        stop.set()
        writer.join()


@pytest.mark.parametrize("threads", ["1", "3"])
def test_a_backup_taken_while_money_moves_holds_whole_transactions(mariadb_factory, tmp_path, threads):
    source = mariadb_factory(extra_args=BINLOG_SERVER_ARGS)
    _bank(source)
    (tmp_path / "bucket").mkdir()
    with _money_moving(source):
        done = run_cli(["backup", "--json", "--format", "sql.gz"],
                       env_for(source, tmp_path / "bucket", tmp_path, BACKUP_DUMP_THREADS=threads))
    assert done.returncode == 0, done.stderr
    if threads != "1":
        assert '"event": "commit_block"' in done.stderr
        assert re.search(r'"split_tables": [1-9]', done.stderr)  # the filler was split among the sessions
    dump = gzip.decompress(next((tmp_path / "bucket").rglob("*.sql.gz")).read_bytes())

    target = mariadb_factory()
    subprocess.run(target.client_argv(), input=dump, check=True, capture_output=True)  # `mariadb < file` loads it
    balance, moves, ledger = _totals(target)
    assert balance == _TABLES * _ACCOUNTS * _START_BALANCE
    assert moves == ledger > 50  # every transaction whole: no ledger row without its accounts, or the reverse
    manifest = json.loads(next((tmp_path / "bucket").rglob("manifest.json")).read_text())
    assert manifest["evidence"]["rows"]["bank.ledger"] == ledger
    # The snapshot's binlog position (for point-in-time restore) is recorded as before: file/offset and GTID agree.
    binlog = manifest["binlog"]
    at = source.execute(f"SELECT BINLOG_GTID_POS('{binlog['file']}', {binlog['position']})").strip()
    assert binlog["gtid_state"] == at != ""
    assert table_checksums(target)  # the restored server answers CHECKSUM TABLE for every table


def test_split_sessions_taken_while_money_moves_hold_whole_transactions(mariadb_factory, tmp_path):
    """The money tables themselves split among 3 sessions, each holding only a bounded buffer."""
    source = mariadb_factory(extra_args=BINLOG_SERVER_ARGS)
    _bank(source)
    with _money_moving(source):
        plan = ParallelPlan(argv=dump_argv, defaults_file=_defaults(source, tmp_path), threads=3,
                            extra_flags=POSITION_FLAGS, split_bytes=0, parts_memory_bytes=4 << 20)
        dump, parallel = _parallel_bytes(plan, tmp_path)
    assert parallel.split_tables == _TABLES + 2  # the accounts, the ledger and the filler
    assert parallel.part_limit == 1 << 20  # 4 MiB over 13 sessions: the floor
    assert parallel.peak_part_bytes <= 13 * (2 << 20)  # each session: its limit plus one read at most
    balance, moves, ledger = _totals(_restored(mariadb_factory, dump))
    assert balance == _TABLES * _ACCOUNTS * _START_BALANCE
    assert moves == ledger > 50
    assert parallel.rows is not None and parallel.rows["bank.ledger"] == ledger


def test_a_worker_that_dies_fails_the_backup_cleanly(mariadb_factory, tmp_path):
    source = mariadb_factory()
    source.execute("CREATE DATABASE big; USE big; CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(250)); "
                   "INSERT INTO t SELECT seq, REPEAT('y', 250) FROM seq_1_to_600000; "
                   "ANALYZE TABLE t;")  # the size estimate that makes it split (~170 MB), not the stale one
    (tmp_path / "bucket").mkdir()
    env = env_for(source, tmp_path / "bucket", tmp_path, BACKUP_DUMP_THREADS="2", BACKUP_RETRY_ATTEMPTS="1")
    agent = start_cli(["backup", "--format", "sql.gz"], env)

    def kill_a_running_worker() -> bool:
        # Found and killed in one step: a worker found on one poll may have finished by the next.
        out = subprocess.run(["pgrep", "-f", "--", "--no-create-info"], capture_output=True, text=True).stdout
        for pid in (int(p) for p in out.split()):
            if _is_descendant(pid, agent.pid) and _is_running(pid):
                os.kill(pid, signal.SIGKILL)
                return True
        return False

    wait_for(kill_a_running_worker, timeout=60)
    _, stderr = agent.communicate(timeout=120)
    assert agent.returncode == 1, stderr
    assert "mariadb-dump (split id " in stderr  # the big table is split: every worker is one of its sessions
    assert not list((tmp_path / "bucket").rglob("manifest.json"))
    assert not list((tmp_path / "bucket").rglob("*.sql.gz"))
    assert [p for p in tmp_path.iterdir() if p.name != "bucket"] == []  # the run's private dir is gone


def _is_running(pid: int) -> bool:
    """Alive and not yet exited: a zombie (state Z) has written all it will and ignores the kill."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _is_descendant(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def test_a_table_an_application_locked_makes_the_backup_one_session_not_a_stall(mariadb_factory, tmp_path):
    source = mariadb_factory(sample=True)
    (tmp_path / "bucket").mkdir()
    holder = hold_table_lock(source, "shop.products")  # BACKUP STAGE BLOCK_COMMIT waits behind LOCK TABLES
    try:
        agent = start_cli(["backup", "--json", "--format", "sql.gz"],
                          env_for(source, tmp_path / "bucket", tmp_path, BACKUP_DUMP_THREADS="2"))
        wait_for(lambda: bool(list((tmp_path / "bucket").rglob("*.partial-*"))), timeout=60)  # one session runs
    finally:
        holder.kill()
        holder.wait()
    out, stderr = agent.communicate(timeout=120)
    assert agent.returncode == 0, stderr
    assert '"event": "parallel_dump_skipped"' in stderr and "commits could not be blocked within 1 s" in stderr
    assert '"event": "commit_block"' not in stderr
    assert json.loads(out)["raw_bytes"] > 0


def test_an_account_without_reload_gets_the_single_dump_not_a_failure(mariadb_factory, tmp_path):
    source = mariadb_factory(sample=True)
    # What mariadb-dump with the seed's flags needs, without RELOAD (BACKUP STAGE and FTWRL need it).
    source.execute("CREATE USER 'dumper'@'%' IDENTIFIED BY 'dump-pw'; "
                   "GRANT SELECT, SHOW VIEW, EVENT, TRIGGER, LOCK TABLES ON *.* TO 'dumper'@'%';")
    (tmp_path / "bucket").mkdir()
    done = run_cli(["backup", "--json", "--format", "sql.gz"],
                   env_for(source, tmp_path / "bucket", tmp_path, BACKUP_DUMP_THREADS="2", MARIADB_USER="dumper",
                           MARIADB_PASSWORD="dump-pw"))
    assert done.returncode == 0, done.stderr
    assert '"event": "parallel_dump_skipped"' in done.stderr and "RELOAD" in done.stderr
    assert '"event": "commit_block"' not in done.stderr
    dump = gzip.decompress(next((tmp_path / "bucket").rglob("*.sql.gz")).read_bytes())
    assert table_checksums(_restored(mariadb_factory, dump)) == table_checksums(source)
