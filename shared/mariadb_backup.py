"""Running mariadb-backup: its argv, its version, and the files it leaves in ``--extra-lsndir``.

The password reaches it only through the run's 0600 defaults file (``--defaults-extra-file``, read
for its ``[client]`` group), never argv or the environment. ``--stream=mbstream`` writes the copy to
stdout; ``--extra-lsndir`` (inside the run's private dir) receives ``xtrabackup_checkpoints``, whose
LSNs the manifest records; ``--target-dir`` is required but, when streaming, never written.
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shared.errors import BackupFailedError, BadInputError

BACKUP_BIN = "mariadb-backup"
MBSTREAM_BIN = "mbstream"
CHECKPOINTS_FILE = "xtrabackup_checkpoints"
_VERSION = re.compile(r"based on MariaDB server (\d+\.\d+)(\.\d+)?")
_SERIES = re.compile(r"^(\d+\.\d+)")


class ToolMissingError(BadInputError):
    """mariadb-backup / mbstream are not installed (Debian package mariadb-backup)."""


class VersionMismatchError(BadInputError):
    """mariadb-backup's major version differs from the server's: it must match to copy or prepare."""


@dataclass(frozen=True)
class Checkpoints:
    kind: str  # "full-backuped" | "incremental" | "full-prepared" ... as mariadb-backup writes it
    from_lsn: int
    to_lsn: int
    last_lsn: int


@functools.cache
def tool_version() -> str:
    """``10.11.19`` (the server version mariadb-backup was built from); exit 2 when it is missing."""
    try:
        done = subprocess.run([BACKUP_BIN, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        raise ToolMissingError("physical backups need mariadb-backup and mbstream "
                               "(Debian/Ubuntu: apt-get install mariadb-backup)") from None
    match = _VERSION.search(done.stdout + done.stderr)
    return (match.group(1) + (match.group(2) or "")) if match else "unknown"


def require_series(server_version: str) -> None:
    """mariadb-backup copies and prepares InnoDB files of its own server series only (10.11 ↔ 10.11)."""
    tool, server = _SERIES.match(tool_version()), _SERIES.match(server_version)
    if tool and server and tool.group(1) != server.group(1):
        raise VersionMismatchError(f"mariadb-backup {tool_version()} cannot handle data of MariaDB {server_version}: "
                                   f"use the mariadb-backup of the server's version ({server.group(1)})")


def backup_argv(defaults_file: Path, *, run_dir: Path, copy_threads: int, galera: bool,
                incremental_lsn: int | None = None, datadir: Path | None = None) -> list[str]:
    # --defaults-extra-file must come first; it adds to (and overrides) the system option files.
    return [
        BACKUP_BIN, f"--defaults-extra-file={defaults_file}", *backup_flags(
            copy_threads=copy_threads, galera=galera, incremental_lsn=incremental_lsn),
        f"--target-dir={run_dir / 'target'}", f"--extra-lsndir={lsn_dir(run_dir)}",
        *([f"--datadir={datadir}"] if datadir is not None else []),
    ]


def backup_flags(*, copy_threads: int, galera: bool, incremental_lsn: int | None) -> list[str]:
    """The flags the manifest records (no paths, never the password)."""
    return ["--backup", "--stream=mbstream", f"--parallel={copy_threads}",
            *(["--galera-info"] if galera else []),
            *([f"--incremental-lsn={incremental_lsn}"] if incremental_lsn is not None else [])]


def lsn_dir(run_dir: Path) -> Path:
    return run_dir / "lsn"


def read_checkpoints(directory: Path) -> Checkpoints:
    try:
        text = (directory / CHECKPOINTS_FILE).read_text()
    except OSError as exc:
        raise BackupFailedError(f"mariadb-backup left no {CHECKPOINTS_FILE}: {exc.strerror}") from None
    fields = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    try:
        return Checkpoints(kind=fields["backup_type"], from_lsn=int(fields["from_lsn"]),
                           to_lsn=int(fields["to_lsn"]), last_lsn=int(fields["last_lsn"]))
    except (KeyError, ValueError):
        raise BackupFailedError(f"{CHECKPOINTS_FILE} is not what mariadb-backup writes: {text[:200]!r}") from None
