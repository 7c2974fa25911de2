"""Running ``mariadb-dump`` (and the ``mariadb`` client) safely.

The password is written to a 0600 ``--defaults-extra-file`` inside the run's private 0700 temp dir:
never on argv (visible in /proc/*/cmdline to every user), never in a child's environment (visible in
/proc/*/environ), never in a log line. Failures are classified from the client's error codes so the
caller retries only what a retry can fix (a lost node, a failover), never bad credentials.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from shared.errors import BackupFailedError, BadInputError
from shared.processes import stop_process

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

# Client error codes that mean "the server went away or is not reachable/ready yet": a retry through
# the Service may land on a healthy node. 1047/1053: a Galera node not ready / shutting down;
# 1927: connection killed; 2002/2003: cannot connect; 2005: unknown host (DNS during failover);
# 2006/2013: server gone / lost connection mid-dump.
_CONNECTION_CODES = {1047, 1053, 1927, 2002, 2003, 2005, 2006, 2013}
_ACCESS_DENIED_CODES = {1044, 1045, 1698}
# "ERROR 1045 (28000)", "Got error: 2013: ...", and mariadb-dump's "Couldn't execute '...': Lost
# connection to server during query (2013)" (the code last, in parentheses, when a query dies).
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

_ERROR_CODE = re.compile(r"(?:ERROR|[Ee]rror:?|Got error:)\s*\(?(\d{4})|\((\d{4})\)$", re.MULTILINE)


class DumpError(BackupFailedError):
    """mariadb-dump (or the client) failed for a reason a retry will not fix."""


class DumpConnectionError(DumpError):
    """The server was unreachable or the connection was lost: safe to retry the whole dump."""


class AccessDeniedError(BadInputError):
    """The server refused the credentials (exit 2: retrying a wrong password cannot help)."""


def enlarge_pipe(fd: int, size: int = PIPE_BYTES) -> None:
    """Best effort: a smaller pipe is only slower, so a refusal (non-Linux, a lower limit) is ignored."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)


def write_defaults_file(directory: Path, *, host: str, port: int, user: str, password: str) -> Path:
    """Write a [client] option file readable only by us and return its path."""
    path = directory / "client.cnf"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(
            "[client]\n"
            f"host={_option_value(host)}\n"
            f"port={port}\n"
            f"user={_option_value(user)}\n"
            f"password={_option_value(password)}\n"
            # utf8mb4 end to end: a latin1 connection would mangle 4-byte characters in the dump.
            "default-character-set=utf8mb4\n"
        )
    return path


def _option_value(value: str) -> str:
    """Quote a value for a MariaDB option file; the reader understands these escapes inside quotes."""
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return f'"{escaped}"'


# Variables a client would read a password from; a child must never inherit them (/proc/*/environ).
_SECRET_ENV = ("MARIADB_PASSWORD", "MYSQL_PWD", "MARIADB_PWD")


def child_env() -> dict[str, str]:
    """Our environment minus anything that could carry the password."""
    return {k: v for k, v in os.environ.items() if k not in _SECRET_ENV}


def dump_argv(defaults_file: Path, *extra_flags: str) -> list[str]:
    # --defaults-extra-file must come first; it adds to (and overrides) the system option files.
    argv = ["mariadb-dump", f"--defaults-extra-file={defaults_file}", *DUMP_FLAGS, *extra_flags]
    stdbuf = shutil.which("stdbuf")
    return [stdbuf, f"-o{DUMP_STDIO_BUFFER}", *argv] if stdbuf else argv


def client_argv(defaults_file: Path, *args: str) -> list[str]:
    return ["mariadb", f"--defaults-extra-file={defaults_file}", *args]


def classify_failure(stderr: str, *, what: str) -> DumpError | AccessDeniedError:
    """Turn a client's stderr into the right error; the text never contains the password."""
    codes = {int(prefixed or trailing) for prefixed, trailing in _ERROR_CODE.findall(stderr)}
    detail = " ".join(stderr.strip().splitlines()[-2:])[:500] or "no error output"
    if codes & _ACCESS_DENIED_CODES:
        return AccessDeniedError(f"{what}: the server refused the credentials ({detail})")
    if codes & _CONNECTION_CODES:
        return DumpConnectionError(f"{what}: connection failed ({detail})")
    return DumpError(f"{what} failed ({detail})")


def run_client_query(defaults_file: Path, sql: str, *, timeout: float = 60.0) -> list[list[str]]:
    """Run SQL with the ``mariadb`` client; return rows of tab-separated columns."""
    argv = client_argv(defaults_file, "--batch", "--skip-column-names", "--connect-timeout=10")
    try:
        done = subprocess.run(
            argv, input=sql.encode(), capture_output=True, timeout=timeout, check=False, env=child_env()
        )
    except subprocess.TimeoutExpired:
        raise DumpConnectionError(f"query timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        raise classify_failure(done.stderr.decode(errors="replace"), what="mariadb query")
    return [line.split("\t") for line in done.stdout.decode(errors="replace").splitlines()]


@dataclass
class DumpProcess:
    """A running ``mariadb-dump``: read ``stdout`` to EOF, then ``finish()`` raises if it failed.

    stderr goes to a file in the run dir (not a pipe) so a chatty failure can never deadlock the
    reader. Leaving the ``with`` block early terminates the process.
    """

    argv: Sequence[str]
    stderr_path: Path
    process: subprocess.Popen[bytes] | None = None

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
            raise classify_failure(stderr or f"exit code {code}", what="mariadb-dump")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is None:
            return
        stop_process(self.process, grace_seconds=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
