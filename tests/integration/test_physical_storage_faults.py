"""A physical backup through the HTTP fault proxy in front of S3 (moto): transient faults on its uploads are
retried and the stored chain verifies; a storage that keeps failing ends in exit 1 within the budget with
nothing stored, no manifest, no temp files, and mariadb-backup stopped."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_storage_faults_backup import backup_upload, objects, run_env
from tests.support.cli import run_cli
from tests.support.faults import Fault, upload_call
from tests.support.storage_servers import unique_bucket_name

pytestmark = pytest.mark.slow


def test_physical_backup_survives_flaky_storage_and_verifies(s3_server, sample_server, http_fault_proxy, tmp_path):
    bucket = unique_bucket_name()
    s3_server.create_bucket(bucket)
    proxy = http_fault_proxy(s3_server.port)
    proxy.add(Fault(backup_upload, "status", status=503, times=2, name="503"))
    proxy.add(Fault(backup_upload, "reset", times=1, name="reset"))
    env = {**run_env(s3_server, proxy.endpoint, bucket, sample_server, tmp_path), "BACKUP_METHOD": "physical"}

    done = run_cli(["backup", "--json"], env)

    assert proxy.injected, "no fault was injected"
    assert done.returncode == 0, done.stderr
    verified = run_cli(["verify", json.loads(done.stdout)["backup_id"], "--json"], {**env, **s3_server.env})
    assert verified.returncode == 0, verified.stderr
    assert list(tmp_path.iterdir()) == []


def test_physical_backup_to_a_storage_down_for_good_leaves_nothing(s3_server, sample_server, http_fault_proxy,
                                                                   tmp_path, monkeypatch):
    bucket = unique_bucket_name()
    s3_server.create_bucket(bucket)
    proxy = http_fault_proxy(s3_server.port)
    proxy.add(Fault(upload_call, "status", status=503, times=None, name="503 forever"))
    env = {**run_env(s3_server, proxy.endpoint, bucket, sample_server, tmp_path), "BACKUP_METHOD": "physical",
           "BACKUP_RETRY_SECONDS": "10"}

    done = run_cli(["backup"], env)

    assert proxy.injected, "no fault was injected"
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("mariadb-ha-backup: error:")
    assert sample_server.password not in done.stderr
    assert objects(s3_server, bucket, monkeypatch) == []
    assert list(tmp_path.iterdir()) == []
