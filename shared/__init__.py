"""Code shared by the backup agent and the cloud functions.

Nothing in here imports ``agent`` or ``functions``; cloud SDKs are imported only inside their own
storage adapter or auth module, and the Kubernetes client only inside ``shared.k8s``.
"""

from functools import cache


@cache
def _installed_version() -> str:
    # importlib.metadata costs ~16 ms at import; only drill reports and notifications read the version.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mariadb-ha-backup")
    except PackageNotFoundError:  # running from a source tree that was never installed (function zips)
        return "0.0.0+source"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
