"""Run one command and measure what the issue asks for: wall time, peak RSS, peak temp-disk bytes.

* Wall time: monotonic clock from spawn to exit.
* Peak RSS of the whole process tree: a sampler thread sums ``VmRSS`` of the command and every
  descendant (found through ``/proc/<pid>/task/<tid>/children``, a few small reads per sample, so
  sampling costs ~nothing on 2 busy cores) every ``SAMPLE_S``. Shared library pages are counted once
  per process, so the sum slightly over-states; that errs on the safe side for a memory target.
  The kernel's own ``ru_maxrss`` (the largest single process) is recorded beside it, but it includes
  the RSS of the forked parent before ``exec``, so the sampled tree sum is the figure reported.
* CPU seconds: ``ru_utime + ru_stime`` of the command and its descendants, from ``wait4``.
* Temp disk: the command gets a fresh directory as ``TMPDIR`` (and ``BACKUP_TMPDIR``); the sampler
  records the largest total size of the files in it.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# 20 samples a second: a 0.5 GB backup takes seconds, so the peak is seen many times over.
SAMPLE_S = 0.05


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_tree_rss: int  # bytes, sampled sum over the process tree
    max_process_rss: int  # bytes, kernel ru_maxrss of the largest single process
    cpu_seconds: float  # user + system of the command and every descendant it waited for
    peak_temp_bytes: int
    returncode: int
    stdout: str
    stderr: str


def run_measured(argv: Sequence[str], *, env: Mapping[str, str], temp_dir: Path,
                 stdin_path: Path | None = None) -> Measurement:
    temp_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = temp_dir.with_suffix(".out"), temp_dir.with_suffix(".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err, \
            open(stdin_path or os.devnull, "rb") as stdin:
        start = time.monotonic()
        process = subprocess.Popen(argv, env=dict(env), stdin=stdin, stdout=out, stderr=err)
        sampler = _Sampler(process.pid, temp_dir)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
    return Measurement(seconds=seconds, peak_tree_rss=sampler.peak_rss, max_process_rss=usage.ru_maxrss * 1024,
                       cpu_seconds=usage.ru_utime + usage.ru_stime,
                       peak_temp_bytes=sampler.peak_temp, returncode=process.returncode,
                       stdout=out_path.read_text(errors="replace"), stderr=err_path.read_text(errors="replace"))


class _Sampler(threading.Thread):
    def __init__(self, pid: int, temp_dir: Path) -> None:
        super().__init__(name="sampler", daemon=True)
        self._pid = pid
        self._temp_dir = temp_dir
        self._stop_event = threading.Event()
        self.peak_rss = 0
        self.peak_temp = 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_rss = max(self.peak_rss, sum(_rss(pid) for pid in _tree(self._pid)))
            self.peak_temp = max(self.peak_temp, _dir_bytes(self._temp_dir))
            self._stop_event.wait(SAMPLE_S)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo.extend(int(child) for child in f.read().split())
        except OSError:
            continue  # exited between two reads
    return pids


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                stat = os.lstat(os.path.join(root, name))
                # Blocks really used: a parallel dump's parts are given back to the filesystem as they are read.
                total += min(stat.st_size, stat.st_blocks * 512)
            except OSError:
                continue  # removed while we walked
    return total
