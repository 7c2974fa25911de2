"""Load: a large backup keeps memory flat, and its restore equals the source.

Always on: a ~500 MB dump (the time budget of CI on 2 cores). Opt-in: ``MARIADB_HA_LOAD_TEST=1``
makes it >= 5 GB (``MARIADB_HA_LOAD_BYTES`` sets any size). The rows are generated server-side
(``INSERT ... SELECT`` from ``seq_a_to_b``, no client round trip per row): prose-like text that
compresses like real text, plus an incompressible VARBINARY like the BLOBs real tables hold. The
agent's peak RSS is its kernel high-water mark (``VmHWM``), polled until it exits.

Figures are printed (run with ``-s`` to see them) for docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import run_cli, start_cli
from tests.support.faults import Fault, Request
from tests.support.mariadb_server import TestServer, table_checksums
from tests.support.storage_servers import MotoServer, unique_bucket_name

pytestmark = [pytest.mark.slow]

MB = 1_000_000
# The agent's memory target (bench/report.py draws it; shared/storage/*.py size their buffers for it):
# part buffers and the compressor are bounded, so RSS must not grow with the dump.
PEAK_RSS_BOUND_BYTES = 200 * MB
DEFAULT_BYTES = 500 * MB
OPT_IN_BYTES = 5_000 * MB
# A loading server wants a larger buffer pool and redo log than a test server, and no fsync per commit:
# generation and restore are then bounded by CPU, not by 2 cores waiting on the disk.
_LOAD_SERVER_ARGS = ("--innodb-buffer-pool-size=512M", "--innodb-log-file-size=512M",
                     "--innodb-flush-log-at-trx-commit=0", "--max-allowed-packet=256M")


def wanted_bytes() -> int:
    if "MARIADB_HA_LOAD_BYTES" in os.environ:
        return int(os.environ["MARIADB_HA_LOAD_BYTES"])
    return OPT_IN_BYTES if os.environ.get("MARIADB_HA_LOAD_TEST") == "1" else DEFAULT_BYTES


def load_server(password: str) -> TestServer:
    server = TestServer(extra_args=_LOAD_SERVER_ARGS)
    server.start()
    server.password = password
    server.set_root_password(password)
    return server


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[TestServer, float]]:
    server = load_server("load-test-Pw#1")
    try:
        started = time.monotonic()
        server.execute(dataset_sql(wanted_bytes()))
        yield server, time.monotonic() - started
    finally:
        server.stop()


# Measured: one generated row dumps to ~883 bytes (text, escaped random bytes, the rest); a little
# less here so the dump is never smaller than asked for.
_DUMP_BYTES_PER_ROW = 870
# Rows per INSERT ... SELECT: ~0.5 GB per statement keeps each transaction's undo log modest.
_ROWS_PER_STATEMENT = 500_000
_WORDS = ("backup restore galera cluster node donor joiner primary replica snapshot transaction commit "
          "rollback index table schema column tablespace buffer pool redo undo checkpoint flush") * 2


def dataset_sql(dump_bytes: int) -> str:
    rows = max(1, dump_bytes // _DUMP_BYTES_PER_ROW)
    statements = [
        "CREATE DATABASE loadtest;",
        "CREATE TABLE loadtest.events (id BIGINT PRIMARY KEY, ref CHAR(32) NOT NULL, body TEXT NOT NULL, "
        "payload VARBINARY(200) NOT NULL, at DATETIME NOT NULL) ENGINE=InnoDB;",
        "USE loadtest;",
    ]
    for start in range(1, rows + 1, _ROWS_PER_STATEMENT):
        end = min(rows, start + _ROWS_PER_STATEMENT - 1)
        statements.append(
            "INSERT INTO events SELECT seq, MD5(seq), "
            f"CONCAT_WS(' ', seq, SUBSTRING('{_WORDS}', 1 + seq % 97, 300), SHA2(seq, 256), "
            f"SUBSTRING('{_WORDS}', 1 + CRC32(seq) % 89, 240)), RANDOM_BYTES(200), "
            f"TIMESTAMP('2020-01-01') + INTERVAL seq SECOND FROM seq_{start}_to_{end};"
        )
    return "\n".join(statements)


def peak_rss_while_running(process: subprocess.Popen[str]) -> int:
    """The process's VmHWM (peak resident set), polled every 0.2 s until it exits."""
    peak = 0
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
        except OSError:
            break
        time.sleep(0.2)
    return peak


def run_backup(
    server: TestServer, s3_server: MotoServer, bucket: str, tmp: Path, fmt: str, *, endpoint: str | None = None
) -> tuple[dict[str, Any], int, float]:
    """One backup to S3 (moto): its JSON summary, the agent's peak RSS and the wall time."""
    # S3 rather than a local directory: the multipart upload's part buffers are the agent's largest
    # memory user, so this is the path the memory bound is about.
    env = {**s3_server.env_for(endpoint or s3_server.endpoint), "BACKUP_URL": f"s3://{bucket}/load",
           "BACKUP_TMPDIR": str(tmp), "BACKUP_FORMAT": fmt, **server.agent_env()}
    started = time.monotonic()
    agent = start_cli(["backup", "--json"], env)
    peak = peak_rss_while_running(agent)
    stdout, stderr = agent.communicate(timeout=60)
    assert agent.returncode == 0, stderr
    assert list(tmp.iterdir()) == []
    return json.loads(stdout), peak, time.monotonic() - started


@pytest.fixture
def bucket(s3_server: MotoServer) -> Iterator[str]:
    name = unique_bucket_name()
    s3_server.create_bucket(name)
    yield name
    s3_server.drop_bucket(name)


def test_large_backup_restores_equal_to_source(loaded, s3_server, bucket, tmp_path):
    server, generate_seconds = loaded
    result, peak, backup_seconds = run_backup(server, s3_server, bucket, tmp_path, "tar.gz")
    env = {**s3_server.env, "BACKUP_URL": f"s3://{bucket}/load", "BACKUP_TMPDIR": str(tmp_path)}

    target = load_server("load-target-Pw#2")
    try:
        started = time.monotonic()
        restored = run_cli(["restore", "--latest"], {**env, **target.agent_env()}, timeout=7200)
        restore_seconds = time.monotonic() - started
        assert restored.returncode == 0, restored.stderr
        started = time.monotonic()
        source_sums, target_sums = table_checksums(server), table_checksums(target)
        checksum_seconds = time.monotonic() - started
    finally:
        target.stop()

    print("\nLOAD FIGURES", json.dumps({
        "dump_bytes": result["raw_bytes"], "stored_bytes": result["compressed_bytes"],
        "generate_s": round(generate_seconds, 1), "backup_s": round(backup_seconds, 1),
        "backup_MB_per_s": round(result["raw_bytes"] / MB / backup_seconds, 1),
        "agent_peak_rss_MB": round(peak / MB, 1), "restore_s": round(restore_seconds, 1),
        "checksum_both_s": round(checksum_seconds, 1),
    }))
    assert result["raw_bytes"] >= wanted_bytes()
    assert 0 < peak < PEAK_RSS_BOUND_BYTES, f"peak RSS {peak / MB:.1f} MB"
    assert target_sums == source_sums


def part_upload(request: Request) -> bool:
    return request.method == "PUT" and "partNumber" in request.query


# Slow storage is the worst case for memory: the pipeline produces faster than the parts drain, so
# every bounded buffer fills up. 0.5 s per 16 MiB part is ~270 Mbit/s, a backup to another region.
_SLOW_PART_S = 0.5


@pytest.mark.parametrize("fmt", ["tar.gz", "sql.gz", "sql.zst"])
def test_agent_peak_rss_stays_within_bound_on_slow_storage(loaded, s3_server, bucket, http_fault_proxy, tmp_path,
                                                           fmt):
    server, _ = loaded
    proxy = http_fault_proxy(s3_server.port)
    proxy.add(Fault(part_upload, "slow", delay=_SLOW_PART_S, times=None, name="slow part"))
    result, peak, seconds = run_backup(server, s3_server, bucket, tmp_path, fmt, endpoint=proxy.endpoint)
    print(f"\nRSS FIGURES {fmt}", json.dumps({"dump_bytes": result["raw_bytes"], "stored_bytes":
                                               result["compressed_bytes"], "backup_s": round(seconds, 1),
                                               "agent_peak_rss_MB": round(peak / MB, 1)}))
    assert proxy.injected, "the storage was never slow"
    assert result["raw_bytes"] >= wanted_bytes()
    assert 0 < peak < PEAK_RSS_BOUND_BYTES, f"peak RSS {peak / MB:.1f} MB"
