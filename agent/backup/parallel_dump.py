"""A consistent parallel dump: several ``mariadb-dump`` sessions on one snapshot, stitched into one file.

``mariadb-dump`` formats every row in one thread; on a big server that thread is the backup's limit.
Here worker processes dump the data and one more (the skeleton, ``--no-data``) writes everything else.
``mariadb-dump`` cannot join another session's snapshot, so they are made to open theirs at the same
instant instead: a control session stops commits (``agent.backup.commit_block``), every process starts
and opens its ``START TRANSACTION WITH CONSISTENT SNAPSHOT``, then commits go on. No commit happened
between the snapshots, so they all see the same data: what one ``--single-transaction`` dump at that
instant would hold.

Two kinds of workers (planned in ``agent.backup.dump_sessions``). A **large table** (``split_bytes`` or
more by the server's estimate) with a single-column integer primary key is **split**: ``threads``
sessions each dump the rows of every such table whose key falls in their share (``--where "ABS((`id` DIV
1024) MOD n) = i"``: blocks of 1024 keys dealt out in turn; one ``--where`` serves every table whose key
has that name, so a group is one set of sessions per key name). They all move through the same tables at
the same time, and the stitcher takes a batch of INSERTs from each in turn: the only way the sessions
really run together when the output must come out table by table and nothing may pile up. The other
tables go whole to **table workers** (largest first to the least loaded). Tables that are not split come
out byte for byte as one ``mariadb-dump`` writes them; a split table's INSERT statements are cut and
ordered differently (its rows are the same: proven by restoring both,
tests/integration/test_parallel_dump.py).

How we know a process has opened its snapshot: ``mariadb-dump`` writes nothing to its output before
``START TRANSACTION`` (its ~1 KiB header waits in its 4 KiB stdio buffer, flushed only once the first
data follows or a table is complete; checked with strace),
so the first byte from a session, or its exit, means its snapshot is open. With a binary log
this is also proven afterwards: every process writes its snapshot's binlog position (``--master-data=2``),
and all must equal the skeleton's, or the backup fails.

No temp disk: each session writes into a pipe, read into a bounded buffer in memory
(``agent.backup.bounded_part``, ``PARTS_MEMORY_BYTES`` shared by all sessions); a session that is ahead
of the stitcher blocks on its write. The stitcher (``agent.backup.stitching``) writes the single
``all-databases-dump.sql`` stream into a pipe that the rest of the pipeline reads exactly like a
``mariadb-dump``'s stdout. A session that blocks longer than the server's ``net_write_timeout`` is
dropped by the server; that attempt is then done again as the single dump (``PartHeldTooLongError``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from agent.backup.bounded_part import BoundedPart
from agent.backup.commit_block import (
    LOCK_WAIT_SECONDS,
    CommitBlock,
    CommitBlockTimeoutError,
    CommitBlockUnavailableError,
)
from agent.backup.dump_sessions import SPLIT_BYTES, list_tables, plan_sessions, worker_defaults
from agent.backup.stitching import Placement, TableKey, stitch
from shared.dump import enlarge_pipe
from shared.errors import BackupFailedError
from shared.mariadb_client import ClientConnectionError, child_env, classify_failure
from shared.processes import stop_process
from shared.readers import CHUNK_BYTES

log = logging.getLogger("mariadb_ha_backup.backup")

# Flags that turn the seed's command into a worker (data of its tables only) or the skeleton (no data).
# Workers keep --events: without it mariadb-dump skips mysql.event's rows as well.
WORKER_FLAGS = ("--no-create-info", "--no-create-db", "--skip-triggers", "--skip-routines")
SKELETON_FLAGS = ("--no-data",)
# Commits stay blocked until every process has shown it opened its snapshot (its first output). A process
# that shows nothing in this time -- it cannot connect (max_connections, a node going away), or it waits
# on a table locked by an application before its first 4 KiB -- must not stall writers longer: the block
# is released and the attempt is done as the seed's single dump (its first bytes take ~10-800 ms here,
# on 2 cores shared with six other test suites: see docs/PERFORMANCE.md).
SNAPSHOT_WAIT_SECONDS = 2.0
_POLL_SECONDS = 0.002  # a worker opens its snapshot within milliseconds: poll finely while commits wait
_WATCH_SECONDS = 0.5  # how often the running sessions are checked for a failure
# All sessions' buffers together (agent.backup.bounded_part): what the parallel dump may hold in memory
# ahead of the stitcher. Each session gets an equal share, at least 1 MiB (a pipe's worth).
# 16 MiB: at 64 MiB the 0.5 GB bench's process tree peaked at 240-262 MB, above the 250 MB; the
# stitcher takes ~1 MiB batches in turn, so a few MiB per session keep every session busy.
PARTS_MEMORY_BYTES = 16 << 20
_PART_FLOOR_BYTES = 1 << 20
_POSITION = re.compile(rb"^-- CHANGE MASTER TO [^\n]*$", re.MULTILINE)


class ParallelUnavailableError(BackupFailedError):
    """The parallel dump cannot be done here and now, but the seed's single dump can: the run falls back."""


class BlockUnavailableError(ParallelUnavailableError):
    """The commit block was held off (a table an application locked, a long commit)."""


class SnapshotWaitError(ParallelUnavailableError):
    """Not every session showed its snapshot open in time; commits were not held up any longer."""


class SnapshotMismatchError(ClientConnectionError):
    """The sessions' binlog positions differ: they reached different nodes (a Galera Service spreads
    connections) or a commit slipped between their snapshots. Retried: the next attempt may line up."""


@dataclass(frozen=True)
class ParallelPlan:
    """How to run a parallel dump: the single dump's argv for a defaults file, plus extra flags."""

    argv: Callable[[Path], list[str]]
    defaults_file: Path
    threads: int
    extra_flags: tuple[str, ...] = ()
    counted: Callable[[dict[str, int]], None] = field(default=lambda rows: None)  # gets the rows per table
    split_bytes: int = SPLIT_BYTES
    parts_memory_bytes: int = PARTS_MEMORY_BYTES


class PartHeldTooLongError(ParallelUnavailableError):
    """A session failed after waiting on the stitcher about as long as the server keeps a silent client."""


@dataclass
class _Process:
    name: str
    process: subprocess.Popen[bytes]
    stderr: Path
    part: BoundedPart

    def started_snapshot(self) -> bool:
        return self.part.started.is_set() or self.process.poll() is not None

    def failure(self, *, held_limit: float | None = None) -> Exception | None:
        code = self.process.poll()
        if code in (None, 0):
            return None
        text = self.stderr.read_text(errors="replace")
        if held_limit is not None and self.part.longest_hold >= held_limit:
            return PartHeldTooLongError(
                f"mariadb-dump ({self.name}) failed after waiting {self.part.longest_hold:.0f} s for the stitcher "
                f"(the server drops a client it cannot write to for net_write_timeout): "
                f"{text.strip()[-200:] or f'exit code {code}'}")
        return classify_failure(text or f"exit code {code}", what=f"mariadb-dump ({self.name})")

    def follow(self, *, held_limit: float | None) -> Iterator[bytes]:
        """The output in order, to the end once the process exited; raises if it failed."""
        yield from self.part.chunks()
        self.process.wait()
        if (error := self.failure(held_limit=held_limit)) is not None:
            raise error


class ParallelDump:
    """Like ``shared.dump.DumpProcess``: read ``stdout`` to EOF, then ``finish()`` raises if anything failed."""

    def __init__(self, plan: ParallelPlan, run_dir: Path) -> None:
        self._plan = plan
        self._dir = run_dir / "parallel"
        self._processes: list[_Process] = []
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._source: BinaryIO | None = None
        self._held_limit: float | None = None
        self._failed: Exception | None = None  # the first session that failed, seen by _watch
        self.rows: dict[str, int] | None = None
        self.block_seconds: float | None = None
        self.part_limit = 0  # bytes each session may hold in memory ahead of the stitcher
        self.split_tables = 0

    @property
    def stdout(self) -> BinaryIO:
        assert self._source is not None
        return self._source

    @property
    def longest_hold_seconds(self) -> float:
        """The longest any session waited on the stitcher with its buffer full."""
        return max((p.part.longest_hold for p in self._processes), default=0.0)

    @property
    def peak_part_bytes(self) -> int:
        """The most all sessions' buffers held at once is at most this sum (each part's own peak)."""
        return sum(p.part.peak_bytes for p in self._processes)

    def __enter__(self) -> ParallelDump:
        self._dir.mkdir(mode=0o700, exist_ok=True)
        try:
            placement = self._start_in_one_snapshot()
        except BaseException:
            self._stop()
            self._remove_files()  # the workers' option files hold the password: never left behind
            raise
        read_fd, write_fd = os.pipe()
        enlarge_pipe(write_fd)
        self._source = open(read_fd, "rb", buffering=CHUNK_BYTES)  # closed in __exit__
        self._thread = threading.Thread(target=self._stitch, args=(placement, write_fd), name="stitch", daemon=True)
        self._thread.start()
        threading.Thread(target=self._watch, name="parallel dump watch", daemon=True).start()
        return self

    def _watch(self) -> None:
        """A session that fails is noticed now, not when the stitcher reaches its part (maybe hours later,
        behind a large table): the others are stopped, which ends the stitch with this session's error."""
        assert self._thread is not None
        while self._thread.is_alive():
            for process in self._processes:
                if (error := process.failure(held_limit=self._held_limit)) is not None:
                    self._failed = self._failed or error
                    for other in self._processes:
                        other.process.terminate()
                    return
            time.sleep(_WATCH_SECONDS)

    def _start_in_one_snapshot(self) -> dict[TableKey, Placement]:
        plan = self._plan
        with CommitBlock(plan.defaults_file, run_dir=self._dir) as control:
            tables = list_tables(control)  # before the block: information_schema can be slow on many tables
            sessions, placement = plan_sessions(tables, plan.threads, split_bytes=plan.split_bytes)
            self.split_tables = sum(1 for p in placement.values() if len(p) > 1)
            self.part_limit = max(_PART_FLOOR_BYTES, plan.parts_memory_bytes // (len(sessions) + 1))
            (timeout,), *_ = control.query("SELECT @@GLOBAL.net_write_timeout")
            self._held_limit = int(timeout) / 2  # a failure after half of it counts as held too long
            try:
                control.block()
            except CommitBlockTimeoutError as exc:
                raise BlockUnavailableError(f"commits could not be blocked within {LOCK_WAIT_SECONDS} s "
                                            f"({exc})") from exc
            except CommitBlockUnavailableError as exc:
                raise BlockUnavailableError(f"commits could not be blocked ({exc})") from exc
            self._spawn("skeleton", plan.defaults_file, SKELETON_FLAGS)
            for session in sessions:
                slug = session.name.replace(" ", "-")
                defaults = worker_defaults(plan.defaults_file, self._dir / f"{slug}.cnf", session)
                self._spawn(session.name, defaults, (*WORKER_FLAGS, *(("--skip-quick",) if session.buffered else ())))
            self._wait_for_snapshots()
            self.block_seconds = control.release()
        self._check_one_position()
        log.info("parallel dump: %d sessions, %d tables split, %d bytes buffered per session at most",
                 len(self._processes), self.split_tables, self.part_limit,
                 extra={"event": "parallel_dump", "sessions": len(self._processes),
                        "split_tables": self.split_tables, "part_limit_bytes": self.part_limit})
        return placement

    def _spawn(self, name: str, defaults: Path, flags: Sequence[str]) -> None:
        stderr = self._dir / f"{name.replace(' ', '-')}.err"
        argv = [*_unbuffered(self._plan.argv(defaults)), *self._plan.extra_flags, *flags]
        with open(stderr, "wb") as err:
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=child_env())
        assert process.stdout is not None
        enlarge_pipe(process.stdout.fileno())
        limit = self.part_limit or _PART_FLOOR_BYTES
        self._processes.append(_Process(name, process, stderr, BoundedPart(process.stdout, limit=limit, name=name)))

    def _wait_for_snapshots(self) -> None:
        deadline = time.monotonic() + SNAPSHOT_WAIT_SECONDS
        while not all(p.started_snapshot() for p in self._processes):
            if time.monotonic() > deadline:
                raise SnapshotWaitError(f"the dump sessions did not all open their snapshots within "
                                        f"{SNAPSHOT_WAIT_SECONDS:.0f} s (a table locked, a connection limit?)")
            time.sleep(_POLL_SECONDS)
        for process in self._processes:
            if (error := process.failure()) is not None:
                raise error

    def _check_one_position(self) -> None:
        """With ``--master-data``, every session wrote its snapshot's binlog position: all must agree."""
        if not any(flag.startswith("--master-data") for flag in self._plan.extra_flags):
            return
        positions = {p.name: _position(p.part.head) for p in self._processes}
        if len(set(positions.values())) != 1:
            raise SnapshotMismatchError(f"the dump sessions did not share one snapshot: {positions}")

    def _stitch(self, placement: dict[TableKey, Placement], write_fd: int) -> None:
        skeleton, *workers = self._processes
        held = self._held_limit
        try:
            with open(write_fd, "wb", buffering=CHUNK_BYTES) as sink:
                self.rows = stitch(skeleton.follow(held_limit=held), placement,
                                   [w.follow(held_limit=held) for w in workers], write=sink.write)
            self._plan.counted(self.rows)
        except BaseException as exc:  # reported by finish(); closing the pipe (above) ends the reader
            self._error = exc

    def finish(self) -> None:
        assert self._thread is not None
        self._thread.join()
        if self._failed is not None:
            raise self._failed
        for process in self._processes:
            if (error := process.failure(held_limit=self._held_limit)) is not None:
                raise error
        if self._error is not None:
            raise self._error

    def _stop(self) -> None:
        for process in self._processes:
            stop_process(process.process, grace_seconds=10)
        for process in self._processes:
            process.part.close()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop()
        if self._source is not None:
            self._source.close()  # a stitcher still writing gets EPIPE and ends
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._remove_files()

    def _remove_files(self) -> None:
        for path in self._dir.iterdir():
            with contextlib.suppress(OSError):
                path.unlink()


def _unbuffered(argv: list[str]) -> list[str]:
    """Without ``stdbuf -o1M`` (shared/dump.py): a session's first bytes are the sign its snapshot is open,
    and commits wait for them. With a 1 MiB stdio buffer they come when its first table is complete (3 s
    measured on a 26 MB table); with the default 4 KiB, within milliseconds."""
    return argv[2:] if argv and Path(argv[0]).name == "stdbuf" else argv


def _position(head: bytes) -> bytes | None:
    """The ``-- CHANGE MASTER TO`` line near the start of one session's output (None: not written yet)."""
    found = _POSITION.search(head)
    return found.group(0) if found else None
