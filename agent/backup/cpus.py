"""How many CPUs this process may really use: the default number of parallel dump sessions.

``os.cpu_count()`` is the node's count; a Kubernetes Job runs in a cgroup with a CPU quota
(``resources.limits.cpu``) and maybe an affinity mask, and sessions beyond those only queue.
"""

from __future__ import annotations

import os
from pathlib import Path

_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"
# More default sessions were not measured: the sessions, the compressor and often the server share the cores.
MAX_DEFAULT_THREADS = 4


def usable_cpus(cpu_max: Path = _CPU_MAX) -> int:
    """CPUs in the affinity mask, capped by the cgroup quota (rounded down: 1.5 CPUs is 1)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            count = min(count, int(quota) // int(period))
    except (OSError, ValueError):
        pass  # no cgroup v2 file, or one we cannot read: the mask alone
    return max(1, count)


def default_dump_threads(cpu_max: Path = _CPU_MAX) -> int:
    """1 (the single dump) up to 2 usable CPUs; else one session per CPU beyond the first, at most
    ``MAX_DEFAULT_THREADS``.

    Measured on 2 cores (docs/PERFORMANCE.md "Parallel dump"): 2 sessions were not faster than 1 (paired
    repetitions: median 0.95x at 0.5 GB, 0.98x at 2 GB; 1.14x, slower, with the final split size) and
    cost ~1 CPU-s and ~60 MB more per 0.5 GB: the compressor, the stitcher and the server fill both
    cores. One core stays for the compressor and the upload; the sessions get the others (mydumper's 2
    uncompressed sessions, with nothing else to run, took ~0.5x one mariadb-dump here).
    """
    cpus = usable_cpus(cpu_max)
    return 1 if cpus <= 2 else min(MAX_DEFAULT_THREADS, cpus - 1)
