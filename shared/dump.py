"""Running ``mariadb-dump``: the seed's flags, a large pipe, and a process that is always stopped.

The password reaches it only through the 0600 defaults file (shared/mariadb_client.py); failures are
classified by the same client error codes, so only a lost or unreachable server is retried.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from shared.mariadb_client import ClientConnectionError, child_env, classify_failure
from shared.processes import stop_process

_EX_MYSQLERR = 2  # mariadb-dump's exit code for a failed server call (client/mysqldump.c)

# The seed's flags, unchanged (a contract): a consistent InnoDB snapshot without locking, routines and
# events included, and the account table left out (it would overwrite the target's users on restore).
DUMP_FLAGS: tuple[str, ...] = (
    "--single-transaction",
    "--events",
    "--routines",
    "--all-databases",
    "--skip-add-locks",
    "--ignore-table=mysql.global_priv",
)

# System-versioned tables' history (every row version with its ROW_START/ROW_END) is dumped when the
# client has the option (mariadb-dump 10.11+); without it only current rows are dumped and a restore
# stamps them with the restore time. Checked to work together with --single-transaction. The restore
# side (``system_versioning_insert_history``, in the dump as a /*M!101100 */ comment) needs 10.11+.
HISTORY_FLAG = "--dump-history"
# mariadb-dump's own packet limit (16 MiB by default) is a client setting: below the server's, a row
# the server holds and sends fails the dump with "Lost connection" (2013). 1 GiB is the protocol's
# maximum; the server's max_allowed_packet still bounds what it sends.
CLIENT_PACKET_FLAG = "--max-allowed-packet=1G"


@functools.cache
def dump_supports_history() -> bool:
    try:
        done = subprocess.run(["mariadb-dump", "--help"], capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return HISTORY_FLAG.encode() in done.stdout


def dump_flags() -> tuple[str, ...]:
    """The seed's flags, plus ``--dump-history`` where mariadb-dump has it and the client packet limit."""
    return (*DUMP_FLAGS, *((HISTORY_FLAG,) if dump_supports_history() else ()), CLIENT_PACKET_FLAG)


# Linux pipes hold 64 KiB by default. mariadb-dump writes in small stdio blocks and the reader
# compresses in 1 MiB chunks; with 64 KiB in between, each side keeps stalling the other (16 wake-ups
# per chunk, and the dump waits while a chunk is being compressed). 1 MiB, the largest size an
# unprivileged process may set (/proc/sys/fs/pipe-max-size), measured -7% wall time on a 100 MB
# dump (see docs/PERFORMANCE.md). It costs 1 MiB of kernel memory per pipe.
PIPE_BYTES = 1 << 20
# mariadb-dump writes through stdio, which flushes a pipe every 4 KiB: ~25,000 write calls, and as
# many wake-ups of our reader, per 100 MB. coreutils' ``stdbuf`` (it execs the command in place, so
# the process, its argv and its exit code stay mariadb-dump's) gives it a 1 MiB buffer: ~1,700 writes.
# Measured on a 100 MB dump: -0.07 to -0.10 CPU-s and 4-15% less wall time for every format
# (docs/PERFORMANCE.md). Without stdbuf on PATH the dump runs unchanged.
DUMP_STDIO_BUFFER = "1M"


def enlarge_pipe(fd: int, size: int = PIPE_BYTES) -> None:
    """Best effort: a smaller pipe is only slower, so a refusal (non-Linux, a lower limit) is ignored."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)


def dump_argv(defaults_file: Path) -> list[str]:
    # --defaults-extra-file must come first; it adds to (and overrides) the system option files.
    argv = ["mariadb-dump", f"--defaults-extra-file={defaults_file}", *dump_flags()]
    stdbuf = shutil.which("stdbuf")
    return [stdbuf, f"-o{DUMP_STDIO_BUFFER}", *argv] if stdbuf else argv


@dataclass
class DumpProcess:
    """A running ``mariadb-dump``: read ``stdout`` to EOF, then ``finish()`` raises if it failed.

    stderr goes to a file in the run dir (not a pipe) so a chatty failure can never deadlock the
    reader. Leaving the ``with`` block early terminates the process.
    """

    argv: Sequence[str]
    stderr_path: Path
    process: subprocess.Popen[bytes] | None = None
    what: str = "mariadb-dump"  # the program, as errors name it

    @property
    def stdout(self) -> IO[bytes]:
        assert self.process is not None and self.process.stdout is not None
        return self.process.stdout

    def __enter__(self) -> DumpProcess:
        with open(self.stderr_path, "wb") as err:
            # 1 MiB pipe buffer on our side: fewer, larger reads while the compressor keeps up.
            self.process = subprocess.Popen(
                self.argv, stdout=subprocess.PIPE, stderr=err, bufsize=1 << 20, env=child_env()
            )
        enlarge_pipe(self.stdout.fileno())
        return self

    def finish(self) -> None:
        assert self.process is not None
        code = self.process.wait()
        if code != 0:
            stderr = self.stderr_path.read_text(errors="replace")
            if code == _EX_MYSQLERR and not stderr.strip():
                # Seen when a Galera node is killed under the dump: the server error that mariadb-dump
                # exits with never reached its stderr. A dump is safe to run again, so it is retried.
                raise ClientConnectionError(f"{self.what} exited {code} (a server error) without an error "
                                            "message: taken as a lost connection")
            raise classify_failure(stderr or f"exit code {code}", what=self.what)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is None:
            return
        stop_process(self.process, grace_seconds=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
