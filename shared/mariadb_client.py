"""Running the MariaDB clients without exposing the password, and the one error type for their failures.

Every ``mariadb`` child starts here: ``run_sql`` for a query and its rows, ``PipedClient`` for SQL
streamed from our pipe (a restore, a binlog replay, one parallel restore session). Any client's
failure — ``mariadb`` or ``mariadb-dump`` (``shared.dump``) — is a ``ClientError`` (a lost connection:
``ClientConnectionError``, safe to retry; refused credentials: ``AccessDeniedError``, exit 2).

The password is written to a 0600 ``--defaults-extra-file`` inside the run's private 0700 temp dir:
never on argv (visible in /proc/*/cmdline to every user), never in a child's environment (visible in
/proc/*/environ), never in a log line. Failures are classified from the client's error codes so the
caller retries only what a retry can fix (a lost node, a failover), never bad credentials.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType

from shared.errors import BackupFailedError, BadInputError
from shared.processes import stop_process

# Client error codes that mean "the server went away or is not reachable/ready yet": a retry through
# the Service may land on a healthy node. 1047/1053: a Galera node not ready / shutting down;
# 1927: connection killed; 2002/2003: cannot connect; 2005: unknown host (DNS during failover);
# 2006/2013: server gone / lost connection mid-dump.
_CONNECTION_CODES = {1047, 1053, 1927, 2002, 2003, 2005, 2006, 2013}
_ACCESS_DENIED_CODES = {1044, 1045, 1698}
# "ERROR 1045 (28000)", "Got error: 2013: ...", and mariadb-dump's "Couldn't execute '...': Lost
# connection to server during query (2013)" (the code last, in parentheses, when a query dies).
_ERROR_CODE = re.compile(r"(?:ERROR|[Ee]rror:?|Got error:)\s*\(?(\d{4})|\((\d{4})\)$", re.MULTILINE)
# Variables a client would read a password from; a child must never inherit them (/proc/*/environ).
_SECRET_ENV = ("MARIADB_PASSWORD", "MYSQL_PWD", "MARIADB_PWD")


class ClientError(BackupFailedError):
    """A MariaDB client (``mariadb``, ``mariadb-dump``, ``mariadb-binlog``) failed for a reason a retry will not fix."""


class ClientConnectionError(ClientError):
    """The server was unreachable or the connection was lost: safe to retry the whole dump."""


class AccessDeniedError(BadInputError):
    """The server refused the credentials (exit 2: retrying a wrong password cannot help)."""


def write_defaults_file(directory: Path, *, host: str, port: int, user: str, password: str,
                        charset: bool = True) -> Path:
    """Write a [client] option file readable only by us and return its path.

    ``charset=False`` leaves out ``default-character-set``, which ``mariadb-binlog`` rejects as an
    unknown option (it reads raw events and has no connection character set to choose).
    """
    path = directory / ("client.cnf" if charset else "binlog-client.cnf")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(
            "[client]\n"
            f"host={_option_value(host)}\n"
            f"port={port}\n"
            f"user={_option_value(user)}\n"
            f"password={_option_value(password)}\n"
            # utf8mb4 end to end: a latin1 connection would mangle 4-byte characters in the dump.
            + ("default-character-set=utf8mb4\n" if charset else "")
        )
    return path


def _option_value(value: str) -> str:
    """Quote a value for a MariaDB option file; the reader understands these escapes inside quotes."""
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def child_env() -> dict[str, str]:
    """Our environment minus anything that could carry the password."""
    return {k: v for k, v in os.environ.items() if k not in _SECRET_ENV}


def client_argv(defaults_file: Path, *args: str) -> list[str]:
    # --defaults-extra-file must come first; it adds to (and overrides) the system option files.
    return ["mariadb", f"--defaults-extra-file={defaults_file}", *args]


def classify_failure(stderr: str, *, what: str) -> ClientError | AccessDeniedError:
    """Turn a client's stderr into the right error; the text never contains the password."""
    codes = {int(prefixed or trailing) for prefixed, trailing in _ERROR_CODE.findall(stderr)}
    detail = " ".join(stderr.strip().splitlines()[-2:])[:500] or "no error output"
    if codes & _ACCESS_DENIED_CODES:
        return AccessDeniedError(f"{what}: the server refused the credentials ({detail})")
    if codes & _CONNECTION_CODES:
        return ClientConnectionError(f"{what}: connection failed ({detail})")
    return ClientError(f"{what} failed ({detail})")


def run_client_query(defaults_file: Path, sql: str, *, timeout: float = 60.0) -> list[list[str]]:
    """Run SQL with the ``mariadb`` client as the defaults file says; return rows of tab-separated columns."""
    return run_sql(client_argv(defaults_file, "--connect-timeout=10"), sql, timeout=timeout)


def run_sql(argv: Sequence[str], sql: str, *, timeout: float = 60.0, database: str | None = None,
            what: str = "mariadb query") -> list[list[str]]:
    """Run SQL with the client ``argv`` starts (its connection options); rows of tab-separated columns."""
    argv = [*argv, "--batch", "--skip-column-names", *([database] if database else [])]
    try:
        done = subprocess.run(argv, input=sql.encode(), capture_output=True, timeout=timeout, check=False,
                              env=child_env())
    except subprocess.TimeoutExpired:
        raise ClientConnectionError(f"{what} timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        raise classify_failure(done.stderr.decode(errors="replace"), what=what)
    return [line.split("\t") for line in done.stdout.decode(errors="replace").splitlines()]


class PipedClient:
    """A ``mariadb`` client reading SQL from our pipe. stderr goes to a file (a chatty client cannot
    deadlock us); leaving the ``with`` block on an error terminates the client before it reads more.
    ``stdout=subprocess.PIPE`` for a caller that reads the client's answers (the parallel restore's tickets)."""

    def __init__(self, argv: Sequence[str], *, stderr_path: Path, stdout: int = subprocess.DEVNULL,
                 what: str = "mariadb client") -> None:
        self.stderr_path = stderr_path
        self._what = what
        with open(stderr_path, "wb") as err:
            self.process = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=stdout, stderr=err,
                                            env=child_env())

    def __enter__(self) -> PipedClient:
        return self

    def feed(self, chunks: Iterable[bytes], *, progress: Callable[[int], None] | None = None) -> None:
        assert self.process.stdin is not None
        try:
            for chunk in chunks:
                self.process.stdin.write(chunk)
                if progress is not None:
                    progress(len(chunk))
        except BrokenPipeError:
            self.finish()  # the client exited early: report its own error
            raise ClientError(f"{self._what} stopped reading its input") from None

    def finish(self) -> None:
        """Close the input, wait, and raise the client's own error if it failed."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # the exit code and stderr below tell why
                self.process.stdin.close()
        code = self.process.wait()
        if code != 0:
            raise self.failure()

    def failure(self) -> ClientError | AccessDeniedError:
        stderr = self.stderr_path.read_text(errors="replace").strip()
        return classify_failure(stderr or f"exit code {self.process.returncode}", what=self._what)

    def stop(self) -> None:
        """Terminate the client now (idempotent)."""
        stop_process(self.process, grace_seconds=10)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
