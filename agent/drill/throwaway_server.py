"""A private, throwaway ``mariadbd`` on loopback: for the restore drill, the demo and the tests.

It never reads /etc/mysql (``--no-defaults``), listens on 127.0.0.1 and a socket inside its own
temporary directory, and removes that directory when stopped. Root may log in over the socket
without a password; ``set_root_password`` secures TCP logins (the same path a cluster uses).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from shared.errors import BackupFailedError, BadInputError
from shared.mariadb_client import run_sql
from shared.processes import stop_process

# InnoDB defaults size the buffer pool and redo log for production; a throwaway server needs little.
_REDO_LOG_ARG = "--innodb-log-file-size=48M"
_SMALL_SERVER_ARGS = ("--innodb-buffer-pool-size=64M", _REDO_LOG_ARG, "--skip-name-resolve")
_READY_TIMEOUT_S = 60.0


class ServerBinariesMissingError(BadInputError):
    """mariadbd / mariadb-install-db are not installed on this machine."""


class ServerStartError(BackupFailedError):
    """The throwaway server did not come up; the message carries the tail of its error log."""


class ThrowawayServer:
    def __init__(self, *, base_dir: Path | None = None, extra_args: tuple[str, ...] = (),
                 datadir: Path | None = None) -> None:
        self.base_dir = base_dir
        self.extra_args = extra_args
        self.datadir = datadir  # an existing data directory to start on (a restored copy); None: a fresh one
        self.dir: Path | None = None
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.host = "127.0.0.1"

    @property
    def socket_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "mysqld.sock"

    def start(self) -> ThrowawayServer:
        install_db, mariadbd = _find_binaries()
        self.dir = Path(tempfile.mkdtemp(prefix="mariadb-throwaway-", dir=self.base_dir))
        data = self.datadir or self.dir / "data"
        # A private tmpdir: install-db's bootstrap names its temporary tables after pid and thread, and
        # several bootstraps sharing /tmp at once were seen deleting each other's files (exit 1).
        tmpdir = self.dir / "tmp"
        tmpdir.mkdir()
        user_args = ["--user=root"] if os.geteuid() == 0 else []
        if self.datadir is None:  # a fresh, empty server
            self.install_data_dir(install_db, data, tmpdir)
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                mariadbd,
                "--no-defaults",
                *user_args,
                f"--datadir={data}",
                f"--tmpdir={tmpdir}",
                "--bind-address=127.0.0.1",
                f"--port={self.port}",
                f"--socket={self.socket_path}",
                f"--pid-file={self.dir / 'mysqld.pid'}",
                f"--log-error={self.dir / 'err.log'}",
                *_SMALL_SERVER_ARGS,
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def install_data_dir(self, install_db: str, data: Path, tmpdir: Path) -> None:
        """A fresh system schema in ``data``; the tests override this to copy one prepared install."""
        subprocess.run(
            [install_db, *install_db_args(data=data, tmpdir=tmpdir)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def client_argv(self, *args: str) -> list[str]:
        """``mariadb`` as root over the private socket (no password, nothing secret on argv)."""
        return [
            "mariadb",
            "--no-defaults",
            "-uroot",
            f"--socket={self.socket_path}",
            "--default-character-set=utf8mb4",
            *args,
        ]

    def execute(self, sql: str, *, database: str | None = None) -> str:
        """The client's batch output (tab-separated lines), as the test servers' ``execute`` gives it."""
        rows = run_sql(self.client_argv(), sql, database=database, timeout=3600, what="SQL on the throwaway server")
        return "".join("\t".join(row) + "\n" for row in rows)

    def set_root_password(self, password: str) -> None:
        """Require ``password`` for root over TCP; root over the private socket stays password-less."""
        quoted = password.replace("\\", "\\\\").replace("'", "\\'")
        statements = [f"ALTER USER IF EXISTS 'root'@'{h}' IDENTIFIED BY '{quoted}';" for h in ("127.0.0.1", "::1")]
        self.execute("\n".join(statements))

    def stop(self) -> None:
        if self.process is not None:
            # mariadbd flushes InnoDB on SIGTERM; give it time before killing.
            stop_process(self.process, grace_seconds=30)
        self.process = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def kill(self) -> None:
        """Simulate a crash (SIGKILL), leaving the data directory for ``stop`` to remove."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> ThrowawayServer:
        return self.start() if self.process is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                break
            probe = subprocess.run(self.client_argv("-e", "SELECT 1"), capture_output=True, check=False)
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        tail = self._error_log_tail()
        self.stop()
        raise ServerStartError(f"throwaway mariadbd did not start: {tail}")

    def _error_log_tail(self) -> str:
        assert self.dir is not None
        with contextlib.suppress(OSError):
            return " | ".join((self.dir / "err.log").read_text(errors="replace").strip().splitlines()[-3:])
        return "no error log"


def install_db_args(*, data: Path, tmpdir: Path) -> list[str]:
    """``mariadb-install-db``'s arguments for a throwaway server (root without password over the socket)."""
    user_args = ["--user=root"] if os.geteuid() == 0 else []
    return [
        "--no-defaults",
        *user_args,
        f"--datadir={data}",
        f"--tmpdir={tmpdir}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        # The redo log at the size the server then starts with: installed at the 96 MB default, every
        # start would rewrite it at 48 MB, and every copy of the install would carry the 96 MB.
        _REDO_LOG_ARG,
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _find_binaries() -> tuple[str, str]:
    found = [
        shutil.which(n) or shutil.which(n, path="/usr/sbin:/usr/local/sbin") for n in ("mariadb-install-db", "mariadbd")
    ]
    if not all(found):
        raise ServerBinariesMissingError(
            "a throwaway MariaDB server needs mariadbd and mariadb-install-db (Debian: apt-get install mariadb-server)"
        )
    return found[0], found[1]  # type: ignore[return-value]  # both checked non-None above
