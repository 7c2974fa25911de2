"""Static checks over infra/: checkov finds nothing, and the agent image's Dockerfile says what the
Job relies on (numeric non-root user, spool path, entry point) and its install step works."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from shared.k8s.job_settings import SPOOL_MOUNT_PATH, JobSettings

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
DOCKERFILE = ROOT / "infra" / "docker" / "Dockerfile"
FRAMEWORKS = {"terraform", "kubernetes", "dockerfile"}


@pytest.fixture(scope="module")
def checkov_reports() -> dict[str, dict]:
    assert CHECKOV.exists(), "checkov is missing: scripts/bootstrap installs it into .venv-checkov"
    # --skip-download: no call to the vendor's API (unreachable here, and not needed for the checks).
    result = subprocess.run([str(CHECKOV), "--directory", str(ROOT / "infra"), "--skip-download", "--output", "json"],
                            capture_output=True, text=True, timeout=300, check=False)
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return {report["check_type"]: report for report in reports}


def test_checkov_scans_every_kind_of_file_and_finds_no_failure(checkov_reports) -> None:
    assert checkov_reports.keys() >= FRAMEWORKS
    summary = {kind: checkov_reports[kind]["summary"] for kind in FRAMEWORKS}
    assert {kind: (s["failed"], s["parsing_errors"]) for kind, s in summary.items()} == dict.fromkeys(FRAMEWORKS, (0, 0))
    assert all(s["passed"] > 0 for s in summary.values())


def test_every_checkov_skip_gives_its_reason(checkov_reports) -> None:
    skipped = [check for kind in FRAMEWORKS for check in checkov_reports[kind]["results"].get("skipped_checks", [])]
    assert skipped  # the skips are inline, so they must show up here
    unexplained = [c["check_id"] for c in skipped if len(c["check_result"].get("suppress_comment") or "") < 20]
    assert unexplained == []


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_runs_as_the_uid_the_job_expects_with_the_agent_entrypoint() -> None:
    instructions = dockerfile_instructions()
    final_stage = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM"):]
    users = [arg for op, arg in final_stage if op == "USER"]
    uid = JobSettings(image="x").run_as_user
    assert users == [f"{uid}:{uid}"]  # numeric, so the kubelet can verify runAsNonRoot
    assert ("ENTRYPOINT", '["mariadb-ha-backup"]') in final_stage
    env = " ".join(arg for op, arg in final_stage if op == "ENV")
    assert f"BACKUP_TMPDIR={SPOOL_MOUNT_PATH}" in env
    runs = " ".join(arg for op, arg in final_stage if op == "RUN")
    assert "mariadb-client" in runs and "--no-install-recommends" in runs
    assert all(arg.startswith("python:3.11-slim") for op, arg in instructions if op == "FROM")
    assert "ADD" not in {op for op, _ in instructions}


IMAGE_VENV = "/opt/mariadb-ha-backup"
# A cache changes where the wheels come from, not what gets installed: the test keeps its runner's.
_CACHE_SWITCHES = {"PIP_NO_CACHE_DIR", "UV_NO_CACHE"}


def build_stage() -> tuple[dict[str, str], list[str]]:
    """The build stage's ENV settings and RUN commands, as written."""
    instructions = dockerfile_instructions()
    runtime_from = [i for i, (op, _) in enumerate(instructions) if op == "FROM"][1]
    stage = instructions[:runtime_from]
    env = dict(pair.split("=", 1) for op, arg in stage if op == "ENV" for pair in arg.split())
    return env, [arg for op, arg in stage if op == "RUN"]


def test_dockerfile_build_stage_runs_from_the_build_context_alone(tmp_path: Path) -> None:
    """The build stage's own RUN lines, in order, in a copy of only what .dockerignore lets into the
    context; a virtualenv stands in for the base image's Python and the image's venv moves under tmp."""
    context = tmp_path / "context"
    allowed = [line[1:] for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    for pattern in allowed:
        for path in ROOT.glob(pattern.rstrip("/")):
            if path.is_dir():
                shutil.copytree(path, context / path.name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                context.mkdir(exist_ok=True)
                shutil.copy2(path, context / path.name)
    assert {"pyproject.toml", "constraints.txt", "shared", "agent"} <= {p.name for p in context.iterdir()}
    base = tmp_path / "base-python"
    venv.EnvBuilder(with_pip=True).create(base)
    home = tmp_path / "opt"
    stage_env, runs = build_stage()
    assert len(runs) == 2 and all(IMAGE_VENV in run for run in runs)
    env = {**os.environ, **{k: v for k, v in stage_env.items() if k not in _CACHE_SWITCHES},
           "PATH": f"{base / 'bin'}:{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    for run in runs:
        subprocess.run(["bash", "-euo", "pipefail", "-c", run.replace(IMAGE_VENV, str(home))], cwd=context, env=env,
                       check=True, timeout=600)
    shutil.rmtree(context)  # the image has no source tree either
    assert not (home / "bin" / "pip").exists()  # nothing to install with at run time
    result = subprocess.run([str(home / "bin" / "mariadb-ha-backup"), "--help"], cwd=tmp_path,
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "backup" in result.stdout
    compiled = list((home / "lib").glob("python3.*/site-packages/agent/__pycache__/*.pyc"))
    assert compiled  # byte code from the build: the image's root filesystem is read-only
