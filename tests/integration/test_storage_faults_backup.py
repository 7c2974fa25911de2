"""A whole backup run (the real CLI) through the HTTP fault proxy, on each cloud emulator.

Transient faults on the uploads → the run succeeds and ``verify`` passes on what was stored;
a storage that keeps failing → exit 1 within the retry budget, no manifest, nothing stored, no temp files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shared.storage import open_storage
from tests.support.agent_runs import env_for
from tests.support.cli import run_cli
from tests.support.faults import Fault, Request, upload_call
from tests.support.storage_servers import EmulatorServer, unique_bucket_name

pytestmark = pytest.mark.slow
_SERVERS = {"s3": "s3_server", "gcs": "gcs_server", "azure": "azurite_server"}


@pytest.fixture(params=sorted(_SERVERS))
def emulator(request: pytest.FixtureRequest) -> EmulatorServer:
    return request.getfixturevalue(_SERVERS[request.param])


def backup_upload(request: Request) -> bool:
    return upload_call(request) and not request.path.endswith(".in-progress")


def objects(server: EmulatorServer, bucket: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)
    return sorted(o.key for o in open_storage(f"{server.scheme}://{bucket}").list(""))


def run_env(server: EmulatorServer, endpoint: str, bucket: str, sample_server, tmp: Path) -> dict[str, str]:
    env = env_for(sample_server, tmp, tmp, BACKUP_RETRY_ATTEMPTS="3", BACKUP_RETRY_SECONDS="20")
    env.pop("CLOUD_PROVIDER")
    env.pop("LOCAL_BACKUP_DIR")
    return {**env, **server.env_for(endpoint), "BACKUP_URL": f"{server.scheme}://{bucket}/team/db"}


def test_backup_survives_flaky_storage_and_verifies(emulator, sample_server, http_fault_proxy, tmp_path, monkeypatch):
    bucket = unique_bucket_name()
    emulator.create_bucket(bucket)
    proxy = http_fault_proxy(emulator.port)
    # On the backup's own objects (archive, .sha1, manifest), after the id is claimed.
    proxy.add(Fault(backup_upload, "status", status=503, times=2, name="503"))
    proxy.add(Fault(backup_upload, "reset", times=1, name="reset"))
    env = run_env(emulator, proxy.endpoint, bucket, sample_server, tmp_path)

    done = run_cli(["backup", "--json"], env)

    assert proxy.injected, "no fault was injected"
    assert done.returncode == 0, done.stderr
    backup_id = json.loads(done.stdout)["backup_id"]
    verified = run_cli(["verify", backup_id, "--json"], {**env, **emulator.env})
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["ok"] is True
    assert list(tmp_path.iterdir()) == []


def test_storage_down_for_good_fails_within_budget_leaving_nothing(
    emulator, sample_server, http_fault_proxy, tmp_path, monkeypatch
):
    bucket = unique_bucket_name()
    emulator.create_bucket(bucket)
    proxy = http_fault_proxy(emulator.port)
    proxy.add(Fault(upload_call, "status", status=503, times=None, name="503 forever"))
    env = {**run_env(emulator, proxy.endpoint, bucket, sample_server, tmp_path), "BACKUP_RETRY_SECONDS": "10"}

    started = time.monotonic()
    done = run_cli(["backup"], env)
    elapsed = time.monotonic() - started

    assert proxy.injected, "no fault was injected"
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mariadb-ha-backup: error:") and "Traceback" not in done.stderr
    assert sample_server.password not in done.stderr
    assert objects(emulator, bucket, monkeypatch) == []
    assert list(tmp_path.iterdir()) == []
    # 10 s of whole-upload retries, plus the SDKs' own per-request retries and interpreter start-up.
    assert elapsed < 60, elapsed
