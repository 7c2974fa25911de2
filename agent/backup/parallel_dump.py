"""A consistent parallel dump: several ``mariadb-dump`` sessions on one snapshot, stitched into one file.

``mariadb-dump`` formats every row in one thread; on a big server that thread is the backup's limit.
Here N worker processes each dump the data of a share of the tables, and one more (the skeleton,
``--no-data``) writes everything else. ``mariadb-dump`` cannot join another session's snapshot, so
they are made to open theirs at the same instant instead: a control session stops commits
(``agent.backup.commit_block``), every process starts and opens its ``START TRANSACTION WITH
CONSISTENT SNAPSHOT``, then commits go on. No commit happened between the snapshots, so they all see
the same data: what one ``--single-transaction`` dump at that instant would hold.

How we know a process has opened its snapshot: ``mariadb-dump`` writes nothing to its output before
``START TRANSACTION`` (its ~1 KiB header waits in its 4 KiB stdio buffer, flushed only once the first
data follows or a table is complete; checked with strace),
so the first byte in a part file, or the process's exit, means its snapshot is open. With a binary log
this is also proven afterwards: every process writes its snapshot's binlog position (``--master-data=2``),
and all must equal the skeleton's, or the backup fails.

Each process writes to its own file in the run's private dir; the stitcher (``agent.backup.stitching``)
follows the files as they grow and writes the single ``all-databases-dump.sql`` stream into a pipe that
the rest of the pipeline reads exactly like a ``mariadb-dump``'s stdout. Temp disk: up to the raw
size of the data dumped ahead of the stitcher (at worst the whole raw dump); each file is deleted once
stitched.
"""

from __future__ import annotations

import contextlib
import ctypes
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

from agent.backup.commit_block import LOCK_WAIT_SECONDS, CommitBlock, CommitBlockTimeoutError
from agent.backup.stitching import TableKey, stitch
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
_FOLLOW_SECONDS = 0.01  # the stitcher caught up with a part: wait for its worker to write more
# Parts are given back to the filesystem every 64 MiB read: few system calls, little held twice.
_FREE_EVERY = 64 << 20
_PUNCH_HOLE, _KEEP_SIZE = 0x02, 0x01  # linux/falloc.h
_LIBC = ctypes.CDLL(None, use_errno=True)
_EX_EOF = 5  # mariadb-dump's exit code when writing its output fails ("Got errno 28 on write": ENOSPC)
# The parts may use this share of the temp dir's room; the rest is margin (the estimate is the server's).
_ROOM_SHARE = 0.8
_POSITION = re.compile(rb"^-- CHANGE MASTER TO [^\n]*$", re.MULTILINE)
# Never assigned: their data is not dumped (information_schema, performance_schema), the accounts table
# the seed leaves out, and sequences (the skeleton writes their state; a worker would write it again).
_NOT_DUMPED = ("information_schema", "performance_schema")


class ParallelUnavailableError(BackupFailedError):
    """The parallel dump cannot be done here and now, but the seed's single dump can: the run falls back."""


class PartsSpaceError(ParallelUnavailableError):
    """A session could not write its part (the temp dir filled up)."""


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


@dataclass(frozen=True)
class _Table:
    database: str
    name: str
    size: int
    sequence: bool


def temp_room(directory: Path, *, limit: int | None) -> int:
    """Bytes the parts may take in ``directory``: its free space (and at most ``limit``), with a margin."""
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    return int(min(free, limit if limit is not None else free) * _ROOM_SHARE)


def list_tables(control: CommitBlock) -> list[_Table]:
    excluded = ",".join(f"'{s}'" for s in _NOT_DUMPED)
    rows = control.query(
        "SELECT HEX(table_schema), HEX(table_name), table_type, IFNULL(data_length, 0) + IFNULL(index_length, 0) "  # noqa: S608  # constant names only
        f"FROM information_schema.tables WHERE table_type <> 'VIEW' AND table_schema NOT IN ({excluded})"
    )
    return [_Table(bytes.fromhex(db).decode(), bytes.fromhex(name).decode(), int(size), kind == "SEQUENCE")
            for db, name, kind, size in rows]


def assign(tables: Sequence[_Table], threads: int) -> dict[TableKey, int]:
    """Largest first, each to the least loaded worker (sizes are the server's estimates)."""
    loads = [0] * threads
    shares: dict[TableKey, int] = {}
    for table in sorted((t for t in tables if not t.sequence), key=lambda t: -t.size):
        worker = loads.index(min(loads))
        shares[(table.database, table.name)] = worker
        loads[worker] += table.size + 1
    return shares


def _worker_defaults(defaults_file: Path, path: Path, ignored: list[str]) -> Path:
    """The client settings plus this worker's ``ignore-table`` list (a file: argv would be too long)."""
    lines = "".join(f'ignore-table="{_escaped(name)}"\n' for name in ignored)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(defaults_file.read_text(encoding="utf-8") + "[mariadb-dump]\n" + lines)
    return path


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


@dataclass
class _Process:
    name: str
    output: Path
    process: subprocess.Popen[bytes]
    stderr: Path

    def started_snapshot(self) -> bool:
        return self.output.stat().st_size > 0 or self.process.poll() is not None

    def failure(self) -> Exception | None:
        code = self.process.poll()
        if code in (None, 0):
            return None
        text = self.stderr.read_text(errors="replace")
        if code == _EX_EOF or "errno 28" in text:
            return PartsSpaceError(f"mariadb-dump ({self.name}) could not write its part: the temp dir is full "
                                   f"({text.strip()[-200:] or f'exit code {code}'})")
        return classify_failure(text or f"exit code {code}", what=f"mariadb-dump ({self.name})")

    def follow(self) -> Iterator[bytes]:
        """The output as it grows, to the end once the process exited; raises if it failed. What was read
        is given back to the filesystem as it goes, so the part holds only what is still ahead."""
        freed = 0
        with open(self.output, "rb") as f:
            while True:
                if chunk := f.read(CHUNK_BYTES):
                    yield chunk
                    if f.tell() - freed >= _FREE_EVERY:
                        freed = _punch_hole(f.fileno(), f.tell())
                    continue
                if self.process.poll() is None:
                    time.sleep(_FOLLOW_SECONDS)
                    continue
                while chunk := f.read(CHUNK_BYTES):  # written just before it exited
                    yield chunk
                if (error := self.failure()) is not None:
                    raise error
                break
        self.output.unlink()


class ParallelDump:
    """Like ``shared.dump.DumpProcess``: read ``stdout`` to EOF, then ``finish()`` raises if anything failed."""

    def __init__(self, plan: ParallelPlan, run_dir: Path) -> None:
        self._plan = plan
        self._dir = run_dir / "parallel"
        self._processes: list[_Process] = []
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._source: BinaryIO | None = None
        self.rows: dict[str, int] | None = None
        self.block_seconds: float | None = None

    @property
    def stdout(self) -> BinaryIO:
        assert self._source is not None
        return self._source

    def __enter__(self) -> ParallelDump:
        self._dir.mkdir(mode=0o700, exist_ok=True)
        try:
            shares = self._start_in_one_snapshot()
        except BaseException:
            self._stop()
            self._remove_files()  # the workers' option files hold the password: never left behind
            raise
        read_fd, write_fd = os.pipe()
        enlarge_pipe(write_fd)
        self._source = open(read_fd, "rb", buffering=CHUNK_BYTES)  # closed in __exit__
        self._thread = threading.Thread(target=self._stitch, args=(shares, write_fd), name="stitch", daemon=True)
        self._thread.start()
        return self

    def _start_in_one_snapshot(self) -> dict[TableKey, int]:
        plan = self._plan
        with CommitBlock(plan.defaults_file, run_dir=self._dir) as control:
            tables = list_tables(control)  # before the block: information_schema can be slow on many tables
            shares = assign(tables, plan.threads)
            try:
                control.block()
            except CommitBlockTimeoutError as exc:
                raise BlockUnavailableError(f"commits could not be blocked within {LOCK_WAIT_SECONDS} s "
                                            f"({exc})") from exc
            self._spawn("skeleton", plan.defaults_file, SKELETON_FLAGS)
            for worker in range(plan.threads):
                ignored = [f"{t.database}.{t.name}" for t in tables
                           if t.sequence or shares.get((t.database, t.name)) != worker]
                defaults = _worker_defaults(plan.defaults_file, self._dir / f"worker-{worker}.cnf", ignored)
                self._spawn(f"worker {worker}", defaults, WORKER_FLAGS)
            self._wait_for_snapshots()
            self.block_seconds = control.release()
        self._check_one_position()
        return shares

    def _spawn(self, name: str, defaults: Path, flags: Sequence[str]) -> None:
        slug = name.replace(" ", "-")
        output, stderr = self._dir / f"{slug}.sql", self._dir / f"{slug}.err"
        argv = [*_unbuffered(self._plan.argv(defaults)), *self._plan.extra_flags, *flags]
        with open(output, "wb") as out, open(stderr, "wb") as err:
            process = subprocess.Popen(argv, stdout=out, stderr=err, env=child_env())
        self._processes.append(_Process(name, output, process, stderr))

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
        positions = {p.name: _position(p.output) for p in self._processes}
        if len(set(positions.values())) != 1:
            raise SnapshotMismatchError(f"the dump sessions did not share one snapshot: {positions}")

    def _stitch(self, shares: dict[TableKey, int], write_fd: int) -> None:
        skeleton, *workers = self._processes
        try:
            with open(write_fd, "wb", buffering=CHUNK_BYTES) as sink:
                self.rows = stitch(skeleton.follow(), shares, [w.follow() for w in workers], write=sink.write)
            self._plan.counted(self.rows)
        except BaseException as exc:  # reported by finish(); closing the pipe (above) ends the reader
            self._error = exc

    def finish(self) -> None:
        assert self._thread is not None
        self._thread.join()
        for process in self._processes:
            if (error := process.failure()) is not None:
                raise error
        if self._error is not None:
            raise self._error

    def _stop(self) -> None:
        for process in self._processes:
            stop_process(process.process, grace_seconds=10)

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


def _punch_hole(fd: int, end: int) -> int:
    """Free the blocks of ``[0, end)`` (Linux ``fallocate`` PUNCH_HOLE; the worker keeps appending at its end).
    Best effort: where the filesystem cannot, the part just keeps its size until it is deleted."""
    with contextlib.suppress(OSError, AttributeError):
        if _LIBC.fallocate(fd, _PUNCH_HOLE | _KEEP_SIZE, ctypes.c_long(0), ctypes.c_long(end)) == 0:
            return end
    return end


def _unbuffered(argv: list[str]) -> list[str]:
    """Without ``stdbuf -o1M`` (shared/dump.py): a session's first bytes are the sign its snapshot is open,
    and commits wait for them. With a 1 MiB stdio buffer they come when its first table is complete (3 s
    measured on a 26 MB table); with the default 4 KiB, within milliseconds. Writes to a file are cheap."""
    return argv[2:] if argv and Path(argv[0]).name == "stdbuf" else argv


def _position(path: Path) -> bytes | None:
    """The ``-- CHANGE MASTER TO`` line near the start of one session's output (None: not written yet)."""
    with open(path, "rb") as f:
        head = f.read(64 << 10)
    found = _POSITION.search(head)
    return found.group(0) if found else None
