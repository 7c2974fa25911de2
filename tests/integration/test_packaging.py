"""`scripts/package-functions`: one zip per cloud function, importable by its platform, reproducible.

The packages are built twice, at the same time, each from its own copy of the inputs at a different
path (so the bytes cannot depend on where the checkout lives, and edits to the working tree during
the run cannot leak in). uv's download cache is shared, so both builds install every dependency
from the same wheels. Each zip is
unpacked and its entry point imported by a fresh virtualenv with no site-packages, the way the
platform's runtime would see it: only the zip's contents are importable.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "scripts" / "package-functions"
CLOUDS = ("aws", "gcp", "azure")
# (entry module, object the platform calls, extra import root inside the zip)
ENTRY_POINTS = {
    "aws": ("handler", "handler", None),
    "gcp": ("main", "dispatch", None),
    "azure": ("function_app", "app", ".python_packages/lib/site-packages"),
}


INPUTS = ("scripts/package-functions", "constraints.txt", "functions", "shared")


def snapshot(source: Path, checkout: Path) -> None:
    for name in INPUTS:
        if (source / name).is_dir():
            shutil.copytree(source / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, checkout / name)


def start_build(checkout: Path) -> subprocess.Popen[bytes]:
    out = checkout / "dist" / "functions"
    return subprocess.Popen([sys.executable, str(checkout / "scripts" / "package-functions"), "--out", str(out)],
                            stdout=subprocess.DEVNULL)


def built_zips(checkout: Path, build: subprocess.Popen[bytes]) -> dict[str, Path]:
    assert build.wait(timeout=600) == 0
    out = checkout / "dist" / "functions"
    return {cloud: out / f"{cloud}.zip" for cloud in CLOUDS}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], dict[str, Path]]:
    first = tmp_path_factory.mktemp("first-checkout")
    snapshot(ROOT, first)
    second = tmp_path_factory.mktemp("second") / "elsewhere" / "checkout"
    snapshot(first, second)  # from the first copy: both builds see the very same inputs
    # Both at once: each mostly waits on its installs, and neither can see the other's output directory.
    running = [(checkout, start_build(checkout)) for checkout in (first, second)]
    try:
        first_zips, second_zips = (built_zips(checkout, build) for checkout, build in running)
    finally:
        for _, build in running:
            if build.poll() is None:
                build.kill()
                build.wait()
    return first_zips, second_zips


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv without pip and without access to this project's or the system's packages."""
    home = tmp_path_factory.mktemp("clean-venv")
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(home)
    return home / "bin" / "python"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_two_builds_give_identical_bytes(builds, cloud: str) -> None:
    first, second = builds
    digest = [hashlib.sha256(b[cloud].read_bytes()).hexdigest() for b in (first, second)]
    assert digest[0] == digest[1]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_zip_layout_is_what_the_platform_loads(builds, cloud: str) -> None:
    module, _, deps = ENTRY_POINTS[cloud]
    with zipfile.ZipFile(builds[0][cloud]) as archive:
        infos = archive.infolist()
        requirements = archive.read("requirements.txt").decode().splitlines()
    names = [i.filename for i in infos]
    pins = [line for line in requirements if not line.startswith("#")]
    assert pins and all("==" in pin for pin in pins)  # exact versions, what the zip vendors
    constraints = (ROOT / "constraints.txt").read_text().splitlines()
    assert next(p for p in pins if p.startswith("kubernetes==")) in constraints
    assert names == sorted(names)
    assert f"{module}.py" in names and "requirements.txt" in names and "shared/k8s/job_spec.py" in names
    kubernetes_init = f"{deps}/kubernetes/__init__.py" if deps else "kubernetes/__init__.py"
    assert kubernetes_init in names
    if cloud == "azure":
        assert "host.json" in names
    assert not [n for n in names if n.endswith((".pyc", "/.lock")) or n == ".lock" or "__pycache__" in n
                or n.startswith(("bin/", "tests/"))]  # .lock: the installer's, of the build host
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


@pytest.mark.parametrize("cloud", CLOUDS)
def test_entry_point_imports_in_a_clean_venv_from_the_unpacked_zip(builds, clean_python, tmp_path, cloud) -> None:
    module, attribute, deps = ENTRY_POINTS[cloud]
    with zipfile.ZipFile(builds[0][cloud]) as archive:
        archive.extractall(tmp_path)
    roots = [str(tmp_path / deps)] if deps else []
    roots.append(str(tmp_path))
    probe = (
        "import sys; sys.path[:0] = sys.argv[1:]\n"
        f"import {module}\n"
        f"entry = getattr({module}, {attribute!r})\n"
        "import shared, kubernetes\n"
        "inside = lambda m: any(m.__file__.startswith(r) for r in sys.argv[1:])\n"
        f"assert inside({module}) and inside(shared) and inside(kubernetes), 'imported from outside the zip'\n"
        "print(type(entry).__name__)\n"
    )
    result = subprocess.run([str(clean_python), "-c", probe, *roots], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"}, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = {"aws": "function", "gcp": "function", "azure": "FunctionApp"}[cloud]
    assert result.stdout.strip() == expected
    if cloud == "azure":  # the timer and the HTTP trigger are registered
        listing = subprocess.run(
            [str(clean_python), "-c", "import sys; sys.path[:0] = sys.argv[1:]; import function_app; "
             "print(sorted(f.get_function_name() for f in function_app.app.get_functions()))", *roots],
            cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=120, check=True)
        assert listing.stdout.strip() == "['manual_dispatch', 'scheduled_dispatch']"


def test_unknown_cloud_is_refused_with_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(PACKAGE), "--out", str(tmp_path), "oracle"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "unknown cloud oracle" in result.stderr
    assert list(tmp_path.iterdir()) == []
