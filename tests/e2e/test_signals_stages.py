"""SIGTERM/SIGINT at each stage after the dump (the dump stage is in test_backup_failures.py).

The agent writes to moto through the HTTP fault proxy, which holds one chosen request for a while so
the signal lands exactly in that stage:

- ``upload``: a tar.gz part upload is in flight (the dump and the multipart upload both running);
- ``commit``: CompleteMultipartUpload is in flight (every part stored, the object not yet created);
- ``stream``: sql.zst, dump -> compressor thread -> multipart upload all running at once.

Each must exit 128+N, remove the temp dir, abort the multipart upload and store nothing.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.support.agent_runs import wait_for
from tests.support.cli import start_cli
from tests.support.faults import Fault, Request, commit_call
from tests.support.mariadb_server import TestServer, start_test_server
from tests.support.storage_servers import unique_bucket_name

pytestmark = pytest.mark.slow
# 40k rows of 1 KiB random bytes: ~40 MiB compressed, more than two 16 MiB S3 parts, so every
# format goes multipart and has a separate commit call.
_ROWS = 40_000
_HOLD_S = 4.0


@pytest.fixture(scope="module")
def big_server() -> Iterator[TestServer]:
    server = start_test_server()
    try:
        server.execute(
            "CREATE DATABASE bulk; CREATE TABLE bulk.blobs (id INT PRIMARY KEY, payload VARBINARY(1024)) "
            f"ENGINE=InnoDB; USE bulk; INSERT INTO blobs SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_{_ROWS};"
        )
        yield server
    finally:
        server.stop()


def part_upload(request: Request) -> bool:
    return request.method == "PUT" and "partNumber" in request.query


STAGES = {
    "upload": ("tar.gz", part_upload),
    "commit": ("tar.gz", commit_call),
    "stream": ("sql.zst", part_upload),
}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("stage", sorted(STAGES))
def test_signal_at_stage_aborts_and_cleans_up(big_server, s3_server, http_fault_proxy, tmp_path, stage, signum):
    fmt, held_request = STAGES[stage]
    bucket = unique_bucket_name()
    s3_server.create_bucket(bucket)
    proxy = http_fault_proxy(s3_server.port)
    proxy.add(Fault(held_request, "slow", delay=_HOLD_S, times=None, name=f"hold {stage}"))
    env = {
        **big_server.agent_env(), **s3_server.env_for(proxy.endpoint),
        "BACKUP_URL": f"s3://{bucket}/team/db", "BACKUP_FORMAT": fmt, "BACKUP_TMPDIR": str(tmp_path),
    }

    agent = start_cli(["backup"], env)
    try:
        wait_for(lambda: bool(proxy.injected) or agent.poll() is not None, timeout=60)
    finally:
        if agent.poll() is not None:
            pytest.fail(f"the agent ended before the {stage} stage: {agent.communicate()}")
    agent.send_signal(signum)
    _, stderr = agent.communicate(timeout=60)

    assert agent.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []
    proxy.clear()
    wait_for(lambda: proxy.in_flight == 0, timeout=_HOLD_S + 5)  # let the held request reach moto
    client = s3_server.client()
    assert client.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []

