"""Where a test can keep what it writes in RAM: /dev/shm (tmpfs), as mysql-test-run's ``--mem`` does,
when the machine has one that is writable and roomy enough; otherwise ``None`` and the caller stays on
disk. Worth it for what is written heavily and never read after the test: server data directories,
archives of thousands of fsynced objects."""

from __future__ import annotations

import os
from pathlib import Path

SHM = Path("/dev/shm")


def ram_base(min_free_bytes: int) -> Path | None:
    """``/dev/shm`` if it is writable and has ``min_free_bytes`` free, else ``None`` (a container's
    default /dev/shm is 64 MB)."""
    try:
        stats = os.statvfs(SHM)
    except OSError:
        return None
    roomy = stats.f_bavail * stats.f_frsize >= min_free_bytes
    return SHM if roomy and os.access(SHM, os.W_OK) else None
