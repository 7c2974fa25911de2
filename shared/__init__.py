"""Code shared by the backup agent and the cloud functions.

Nothing in here imports ``agent`` or ``functions``; cloud SDKs are imported only inside their own
storage adapter or auth module, and the Kubernetes client only inside ``shared.k8s``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mariadb-ha-backup")
except PackageNotFoundError:  # running from a source tree that was never installed (function zips)
    __version__ = "0.0.0+source"
