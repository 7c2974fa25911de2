"""The control session of a parallel dump: commits stopped while the workers open their snapshots.

Several ``mariadb-dump`` processes hold the same data only if no transaction commits between their
``START TRANSACTION WITH CONSISTENT SNAPSHOT`` statements. This session takes the server's commit
block (``BACKUP STAGE BLOCK_COMMIT``, MariaDB 10.4.1+; ``FLUSH TABLES WITH READ LOCK`` where that is
missing), the workers start and open their snapshots, and the block is released -- milliseconds, logged
and kept for the manifest's log line. Reads go on during the block; writers wait, and on Galera the
whole cluster waits (flow control), which is why the block is measured and parallel dumps can be turned
off per cluster (``BACKUP_DUMP_THREADS=1``).

Why ``BACKUP STAGE`` first: ``FLUSH TABLES WITH READ LOCK`` must close every table, so it waits for the
longest running query (a report that reads for an hour) while holding up every writer; ``BLOCK_COMMIT``
waits only for commits in flight. Both wait at most ``lock_wait_timeout`` (set low here), then fail the
attempt, and the backup runs as the seed's single dump.

The session is the ``mariadb`` client reading statements from a pipe (no Python driver needed, the
password stays in the defaults file); each request ends with a ``SELECT`` of a marker so the reply's
end is known. If this process dies, the client's stdin closes, it exits, and the server drops the block.
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path
from types import TracebackType

from shared.errors import BackupFailedError
from shared.mariadb_client import child_env, classify_failure, client_argv
from shared.processes import stop_process

log = logging.getLogger("mariadb_ha_backup.backup")

# Seconds the block may wait (for commits in flight; with FTWRL for running queries; measured: also for a
# table an application holds with LOCK TABLES ... WRITE) before it gives up: writers queue behind a block
# that waits, so waiting long would stall the application. The backup then runs as the single dump.
LOCK_WAIT_SECONDS = 1
_MARKER = "-- reply end --"
_BLOCKS = {
    "backup_stage": ("BACKUP STAGE START", "BACKUP STAGE BLOCK_COMMIT"),
    "ftwrl": ("FLUSH TABLES WITH READ LOCK",),
}
_RELEASES = {"backup_stage": "BACKUP STAGE END", "ftwrl": "UNLOCK TABLES"}


class CommitBlockUnavailableError(BackupFailedError):
    """The block could not be taken; the backup can still be done as the single dump."""


class CommitBlockTimeoutError(CommitBlockUnavailableError):
    """The block could not be taken within ``LOCK_WAIT_SECONDS`` (error 1205)."""


class CommitBlockDeniedError(CommitBlockUnavailableError):
    """The account lacks the privilege for the block (``RELOAD``, error 1227): a least-privilege backup
    account that the single dump serves (it needs only ``SELECT``, ``SHOW VIEW``, ``EVENT`` ...)."""


class CommitBlock:
    """``with CommitBlock(defaults, run_dir=d) as block: ...; block.release()`` -- released at exit anyway."""

    def __init__(self, defaults_file: Path, *, run_dir: Path) -> None:
        self._argv = client_argv(defaults_file, "--batch", "--skip-column-names", "--unbuffered",
                                 "--connect-timeout=10")
        self._stderr_path = run_dir / "control.err"
        self._process: subprocess.Popen[bytes] | None = None
        self._blocked_at: float | None = None
        self.method = ""
        self.held_seconds: float | None = None

    def __enter__(self) -> CommitBlock:
        with open(self._stderr_path, "wb") as err:
            self._process = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=err, env=child_env())
        self.query(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}")
        return self

    def block(self) -> None:
        """Stop commits (``BACKUP STAGE`` where the server has it, else FTWRL)."""
        (version,), *_ = self.query("SELECT @@version")
        self.method = "backup_stage" if _has_backup_stage(version) else "ftwrl"
        for statement in _BLOCKS[self.method]:
            self.query(statement)
        self._blocked_at = time.monotonic()

    def release(self) -> float:
        """Let commits go on; returns (and keeps) how long they were held up, in seconds."""
        if self._blocked_at is not None and self.held_seconds is None:
            self.query(_RELEASES[self.method])
            self.held_seconds = time.monotonic() - self._blocked_at
            log.info("commits were blocked for %.1f ms (%s)", self.held_seconds * 1000, self.method,
                     extra={"event": "commit_block", "held_ms": round(self.held_seconds * 1000, 1),
                            "method": self.method})
        return self.held_seconds or 0.0

    def query(self, sql: str) -> list[list[str]]:
        """Rows of tab-separated columns (values escaped the ``--batch`` way: select ``HEX()`` of names)."""
        process = self._require()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(f"{sql};\nSELECT '{_MARKER}';\n".encode())
            process.stdin.flush()
        except BrokenPipeError:
            raise self._failure() from None
        rows = []
        while (line := process.stdout.readline()) and line.rstrip(b"\n").decode() != _MARKER:
            rows.append(line.rstrip(b"\n").decode(errors="replace").split("\t"))
        if not line:
            raise self._failure()
        return rows

    def _require(self) -> subprocess.Popen[bytes]:
        assert self._process is not None, "use CommitBlock as a context manager"
        return self._process

    def _failure(self) -> Exception:
        process = self._require()
        process.wait(timeout=10)
        stderr = self._stderr_path.read_text(errors="replace")
        error = classify_failure(stderr or f"exit code {process.returncode}", what="the commit block")
        if "1205" in stderr:  # lock wait timeout: something held the block off (a lost connection is retried)
            return CommitBlockTimeoutError(str(error))
        if "1227" in stderr:  # access denied: "you need (at least one of) the RELOAD privilege(s)"
            return CommitBlockDeniedError(str(error))
        return error

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        process = self._process
        if process is None:
            return
        if exc is None and process.poll() is None:
            self.release()
        if process.stdin is not None:
            process.stdin.close()  # the client exits at end of input; the server drops any block with it
        stop_process(process, grace_seconds=5)
        if process.stdout is not None:
            process.stdout.close()


def _has_backup_stage(version: str) -> bool:
    """``BACKUP STAGE`` exists from MariaDB 10.4.1."""
    numbers = version.split("-", 1)[0].split(".")
    try:
        major, minor, patch = (int(n) for n in [*numbers, "0", "0"][:3])
    except ValueError:
        return False
    return (major, minor, patch) >= (10, 4, 1)
