"""Cold start: importing a cloud function's module loads its platform's SDK and the dispatch code, and
nothing heavy that only a call needs.

What a cold start pays is what the module imports. The ``kubernetes`` client (~0.3 s), the cloud SDKs the
token providers use (boto3, google-auth, azure-identity), the storage adapters and the agent are imported
inside the functions that need them (shared/k8s/__init__.py says why), so the check is on the set of modules
a fresh interpreter holds after importing the function's module the way its platform does (its folder on
sys.path): deterministic, unlike a timing on a shared CI machine. ``python -X importtime``'s cumulative
figure for the module is recorded beside the test (``import_microseconds``), for reading, not judged.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import json, sys; sys.path.insert(0, sys.argv[1]); before = set(sys.modules); __import__(sys.argv[2]); "
         "print(json.dumps(sorted(set(sys.modules) - before)))")

# Loaded only by a call that needs them: the Kubernetes client (and its urllib3), the token providers' SDKs,
# the storage adapters, YAML, and the agent, which a function never runs.
HEAVY = ("kubernetes", "urllib3", "yaml", "boto3", "google.auth", "google.cloud.storage", "azure.identity",
         "azure.core", "azure.storage", "shared.storage", "shared.k8s.eks_auth", "shared.k8s.gke_auth",
         "shared.k8s.aks_auth", "shared.k8s.drill_spec", "agent")
# Each function's platform SDK, which the other functions must not load.
PLATFORM_SDKS = {"aws": ("aws_lambda_powertools", "botocore"), "gcp": ("functions_framework", "flask", "google"),
                 "azure": ("azure",)}
FUNCTIONS = [("aws", "handler"), ("gcp", "main"), ("azure", "function_app")]


def imported_by(folder: Path, module: str) -> tuple[set[str], int | None]:
    """The modules a fresh interpreter loads to import ``module`` from ``folder``, and the import's cumulative
    microseconds by ``-X importtime``."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", PROBE, str(folder), module], cwd=ROOT,
                            capture_output=True, text=True, check=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "AGENT_IMAGE": "unused"})
    cumulative = re.search(rf"^import time:\s+\d+ \|\s+(\d+) \|\s*{re.escape(module)}$", result.stderr, re.MULTILINE)
    return set(json.loads(result.stdout)), int(cumulative.group(1)) if cumulative else None


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The packages of ``names`` (a package or any module inside it) that ``modules`` holds."""
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


@pytest.mark.parametrize(("cloud", "module"), FUNCTIONS)
def test_function_module_loads_its_platform_and_nothing_heavy(cloud: str, module: str, record_property) -> None:
    modules, microseconds = imported_by(ROOT / "functions" / cloud, module)
    record_property("import_microseconds", microseconds)
    others = tuple(sdk for other, sdks in PLATFORM_SDKS.items() if other != cloud for sdk in sdks)
    assert "shared.k8s.invocation" in modules  # it did import what it runs
    assert loaded(modules, PLATFORM_SDKS[cloud]) == sorted(PLATFORM_SDKS[cloud])
    assert loaded(modules, HEAVY) == []
    assert loaded(modules, others) == []


def test_the_check_sees_a_heavy_top_level_import(tmp_path: Path) -> None:
    """The probe is not blind: a function module that imports the Kubernetes client at the top is caught."""
    (tmp_path / "careless.py").write_text("import shared.k8s.invocation\nfrom kubernetes import client\n")
    modules, _ = imported_by(tmp_path, "careless")
    assert {"kubernetes", "urllib3"} <= set(loaded(modules, HEAVY))
