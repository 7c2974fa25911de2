"""Running the ``mariadb`` client (and classifying any client's failure) without exposing the password.

The password is written to a 0600 ``--defaults-extra-file`` inside the run's private 0700 temp dir:
never on argv (visible in /proc/*/cmdline to every user), never in a child's environment (visible in
/proc/*/environ), never in a log line. Failures are classified from the client's error codes so the
caller retries only what a retry can fix (a lost node, a failover), never bad credentials.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from shared.errors import BackupFailedError, BadInputError

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


class DumpError(BackupFailedError):
    """mariadb-dump (or the client) failed for a reason a retry will not fix."""


class DumpConnectionError(DumpError):
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
