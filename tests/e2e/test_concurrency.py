"""Two backups of the same target at once, and two dispatches of the same schedule slot at once.

Two agents that start in the same second used to get the same backup id (ids are per second and the
claim only listed the folder) and overwrite each other's objects; the claim is now a create-only
marker decided by the storage service, checked here on every backend.

What must hold: never two runs reporting the same backup, every manifest describes the bytes next to
it, and the dispatcher creates one Job per target and slot however many invocations race.
"""

from __future__ import annotations

import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from agent.backup.id_claims import claim_backup_id
from shared.config import load_settings
from shared.layout import backup_id_at
from shared.storage import ObjectExistsError, open_storage
from tests.integration.test_dispatch_kmock import JOB_NAME, invoke
from tests.support.agent_runs import dump_children, env_for, hold_table_lock, wait_for
from tests.support.cli import run_cli, start_cli
from tests.support.faults import Fault
from tests.support.id_clock import SkippingIdClock
from tests.support.kube import KubeApi
from tests.support.storage_servers import StorageBackend, unique_bucket_name


def test_two_agents_overlapping_write_two_consistent_backups(sample_server, tmp_path):
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    env = env_for(sample_server, bucket, tmp)
    holder = hold_table_lock(sample_server, "shop.products")  # both dumps run at the same time
    try:
        first = start_cli(["backup", "--json"], env)
        wait_for(lambda: dump_children(first.pid))
        time.sleep(1.1)  # the second agent starts one id-second later, while the first is still dumping
        second = start_cli(["backup", "--json"], env)
        wait_for(lambda: dump_children(second.pid))
    finally:
        holder.kill()
        holder.wait()
    results = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], results
    ids = [json.loads(out)["backup_id"] for out, _ in results]
    assert len(set(ids)) == 2
    for backup_id in ids:
        verified = run_cli(["verify", backup_id, "--json"], env)
        assert verified.returncode == 0, verified.stderr
        assert json.loads(verified.stdout)["ok"] is True
    assert len(list(bucket.rglob("manifest.json"))) == 2


def test_two_claims_in_the_same_second_get_different_ids(tmp_path):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    settings = load_settings(
        env={"CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(bucket), "MARIADB_HOST": "127.0.0.1",
             "MARIADB_PASSWORD": "unused"}
    )
    storage = open_storage(settings.destination.storage_url)
    # Both claims read one second, as two racing agents would; the loser moves on to the next second.
    clock = SkippingIdClock(at=datetime.now(UTC))
    with ThreadPoolExecutor(2) as pool:
        barrier = threading.Barrier(2)

        def claim() -> str:
            barrier.wait()
            return claim_backup_id(storage, prefix=settings.destination.prefix,
                                   format_name=settings.format.name, clock=clock).backup_id

        ids = list(pool.map(lambda _: claim(), range(2)))
    assert sorted(ids) == [backup_id_at(clock.at), backup_id_at(clock.at + timedelta(seconds=1))]
    assert clock.skipped == 1
    # Each run holds a claim marker in its own folder until it ends; nobody else can take that id.
    assert sorted(p.name for p in bucket.rglob(".in-progress")) == [".in-progress", ".in-progress"]


def test_create_only_put_refuses_an_existing_key(storage_backend: StorageBackend) -> None:
    storage = storage_backend.storage
    assert storage.put("p/20240101T000000Z/.in-progress", io.BytesIO(b"first"), if_absent=True) == 5
    with pytest.raises(ObjectExistsError):
        storage.put("p/20240101T000000Z/.in-progress", io.BytesIO(b"second"), if_absent=True)
    with storage.open_read("p/20240101T000000Z/.in-progress") as stream:
        assert stream.read() == b"first"


def test_racing_dispatches_of_one_slot_create_one_job(kube_api: KubeApi) -> None:
    barrier = threading.Barrier(4)

    def dispatch() -> str:
        barrier.wait()
        status: str = invoke(kube_api)["jobs"][0]["status"]
        return status

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(lambda _: dispatch(), range(4)))
    # One invocation creates the Job; the others see it (409 -> exists, or listed active -> skipped).
    assert statuses.count("created") == 1
    assert set(statuses) <= {"created", "exists", "skipped-active"}
    assert [job["metadata"]["name"] for job in kube_api.stored_jobs("cell-a")] == [JOB_NAME]




def test_claim_whose_response_was_lost_is_still_ours(sample_server, s3_server, http_fault_proxy, tmp_path):
    # The claim reaches S3 but its answer is lost: the SDK's retry then meets its own marker (412).
    bucket = unique_bucket_name()
    s3_server.create_bucket(bucket)
    proxy = http_fault_proxy(s3_server.port)
    proxy.add(Fault(lambda r: r.method == "PUT" and r.path.endswith("/.in-progress"), "lose-response", times=1))
    env = {**env_for(sample_server, tmp_path, tmp_path), **s3_server.env_for(proxy.endpoint),
           "BACKUP_URL": f"s3://{bucket}/team/db"}
    del env["CLOUD_PROVIDER"], env["LOCAL_BACKUP_DIR"]

    done = run_cli(["backup", "--json"], env)

    assert proxy.injected, "the fault was never injected"
    assert done.returncode == 0, done.stderr
    backup_id = json.loads(done.stdout)["backup_id"]
    keys = sorted(o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", []))
    assert keys == [f"team/db/{backup_id}/{name}" for name in ("accounts.sql", "manifest.json",
                                                                 "mariadb-ha-backup.tar.gz",
                                                                 "mariadb-ha-backup.tar.gz.sha1")]
