"""``mariadb-ha-backup dispatch`` run as a user runs it: a subprocess with KUBECONFIG pointing at the
Kubernetes API emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.kube import KubeApi
from tests.unit.test_k8s_job_spec import ENV, EXPECTED_JOB

CLI = str(Path(sys.executable).parent / "mariadb-ha-backup")
TARGET = {"CELL_DEFAULT_NAMESPACE": "cell-a", "MARIADB_HA_SERVICE_NAME": "mariadb-ha",
          "MARIADB_HA_SECRET_NAME": "mariadb-root"}


def run_cli(kube_api: KubeApi, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISPATCH_", "KUBERNETES_", "K8S_"))}
    env.update({**ENV, **TARGET, "KUBECONFIG": str(kube_api.kubeconfig), **extra_env})
    return subprocess.run([CLI, "dispatch", *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_dispatch_creates_the_job_then_reports_it_exists(kube_api: KubeApi) -> None:
    first = run_cli(kube_api, "--scheduled-time", "2025-01-31T02:00:37Z")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"jobs": [{"name": "mariadb-ha-backup-mariadb-ha-202501310200",
                                                  "namespace": "cell-a", "status": "created"}]}
    assert kube_api.created_jobs() == [EXPECTED_JOB]
    again = run_cli(kube_api, "--scheduled-time", "2025-01-31T02:00:00Z")
    assert again.returncode == 0 and json.loads(again.stdout)["jobs"][0]["status"] == "exists"


def test_dry_run_prints_jobs_only(kube_api: KubeApi) -> None:
    result = run_cli(kube_api, "--dry-run", "--scheduled-time", "2025-01-31T02:00:37Z")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["jobs"][0]["job"] == EXPECTED_JOB
    assert list(kube_api.emulator) == []


def test_failed_target_exits_1_after_the_others(kube_api: KubeApi) -> None:
    kube_api.refuse(namespace="cell-locked", status=403, user="tester")
    fleet = [{"namespace": "cell-locked", "service": "mariadb", "secret": "root"},
             {"namespace": "cell-a", "service": "mariadb-ha", "secret": "mariadb-root"}]
    result = run_cli(kube_api, DISPATCH_TARGETS=json.dumps(fleet))
    assert result.returncode == 1
    assert [job["status"] for job in json.loads(result.stdout)["jobs"]] == ["failed", "created"]
    assert "1 of 2 backup Job(s) failed: cell-locked/" in result.stderr
    assert "kubeconfig user 'tester'" in result.stderr


def test_bad_input_is_one_line_and_exit_2(kube_api: KubeApi) -> None:
    result = run_cli(kube_api, DISPATCH_TARGETS="[{broken")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == ("mariadb-ha-backup: error: DISPATCH_TARGETS is not valid JSON "
                             "(Expecting property name enclosed in double quotes at position 2)\n")
    bad_time = run_cli(kube_api, "--scheduled-time", "yesterday")
    assert bad_time.returncode == 2
    assert bad_time.stderr.count("\n") == 1 and "--scheduled-time 'yesterday' is not a time: use" in bad_time.stderr
    assert list(kube_api.emulator) == []
