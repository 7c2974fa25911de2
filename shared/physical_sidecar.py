"""The ``mariadb-backup`` sidecar of a physical backup Job, and the agent's end of its pipe.

Why a sidecar: ``mariadb-backup`` must be the server's own version (it embeds the server's InnoDB and
refuses, or silently mis-copies, another major version's files), and the agent image carries one
Debian build. Users run whatever server image they chose (mariadb-operator's, Bitnami's, a pinned
patch release), and every one of those images ships ``mariadb-backup`` (its SST method needs it). So
the Job runs a second container from the server pod's exact image, with the node's data PVC mounted
read-only; that container runs ``mariadb-backup --backup --stream=mbstream`` into a FIFO on an
emptyDir shared with the agent, and the agent compresses, encrypts, hashes and uploads exactly as for
a local ``mariadb-backup``. Copying the binary into the agent instead would need the server image's
shared libraries and loader as well; carrying every server version in the agent image cannot keep up.

The protocol, all in ``STREAM_DIR`` (an emptyDir mounted in both containers, group-shared through the
pod's ``fsGroup``):

1. The agent creates the FIFO ``backup.mbstream`` (0660), opens its read end, then writes ``request``
   (atomically): extra ``mariadb-backup`` options, one a line, today ``--incremental-lsn=N`` (the agent
   alone knows the parent backup: it reads the bucket) and ``--parallel=N``. The sidecar accepts only
   those; anything else is refused.
2. The sidecar waits for ``request`` (or ``abort``, written by an agent that fails before asking),
   builds a 0600 option file from the Secret file mounted in it (the password is never on argv or in
   an environment), checks the node is a Synced Galera member, and streams into the FIFO with
   ``--extra-lsndir=info`` (``xtrabackup_checkpoints``, ``xtrabackup_info``: LSNs, binlog position).
3. When ``mariadb-backup`` exits, the sidecar writes its exit code to ``exit-code``. The agent treats
   the stream as complete only when it has read to EOF *and* ``exit-code`` says 0: a sidecar killed
   mid-stream also gives EOF.

For the agent's pipeline, which runs a program and reads its stdout, ``sidecar_argv(dir, options)``
is a drop-in for the ``mariadb-backup --backup --stream=mbstream`` command: it runs this module, which
copies the sidecar's stream to stdout and exits 0 only when the sidecar's mariadb-backup did. In the
Job, ``PHYSICAL_STREAM_DIR`` is set exactly when that is the way to run it; the LSN and binlog files
``--extra-lsndir`` would have held are then in ``<dir>/info``.
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from shared.errors import BackupFailedError

# Mount path of the shared emptyDir in both containers; the agent learns it as PHYSICAL_STREAM_DIR.
STREAM_DIR = "/run/mariadb-ha-backup"
STREAM_DIR_ENV = "PHYSICAL_STREAM_DIR"
FIFO_NAME = "backup.mbstream"
REQUEST_NAME = "request"
ABORT_NAME = "abort"
EXIT_CODE_NAME = "exit-code"
INFO_DIR_NAME = "info"
# Where the Secret's password key is mounted in the sidecar (a projected file, never an env var).
PASSWORD_FILE = "/run/secrets/mariadb-ha-backup/password"  # noqa: S105  # a path, not a password
# The sidecar gives up on an agent that never asks (a crash before the request, without `abort`):
# 15 minutes covers an agent waiting out a slow bucket listing with retries.
REQUEST_TIMEOUT_SECONDS = 900
# After EOF on the FIFO, mariadb-backup has already written everything; its exit takes milliseconds.
# A minute covers a node under heavy load; past that the sidecar is presumed gone.
_EXIT_CODE_WAIT_SECONDS = 60.0
_ALLOWED_OPTIONS = ("--incremental-lsn=", "--parallel=")
# Copy size for the command-line bridge: large enough that the pipe, not Python, sets the pace.
_COPY_BYTES = 1 << 20

# POSIX sh: it runs under dash (Debian/Ubuntu-based server images) and bash (Bitnami) alike.
SIDECAR_SCRIPT = r"""set -u
d="${STREAM_DIR:?}"
finish() {
  echo "$1" > "$d/exit-code.tmp" && mv -f "$d/exit-code.tmp" "$d/exit-code"
  exit "$1"
}
fail() { echo "mariadb-backup sidecar: $*" >&2; finish 1; }

waited=0
while [ ! -e "$d/request" ]; do
  if [ -e "$d/abort" ]; then echo "mariadb-backup sidecar: the agent stopped before asking for a backup" >&2; exit 0; fi
  [ "$waited" -ge "${REQUEST_TIMEOUT_SECONDS:-900}" ] && fail "no request from the agent after ${waited}s"
  sleep 1
  waited=$((waited + 1))
done

# This image's own tools: newer images name them mariadb-*, older ones mariabackup and mysql.
backup=$(command -v mariadb-backup || command -v mariabackup) || fail "this image has no mariadb-backup"
client=$(command -v mariadb || command -v mysql) || fail "this image has no mariadb client"

# The password goes into a 0600 option file through shell builtins only: never argv, never the environment.
umask 077
cnf="${TMPDIR:-/tmp}/mariadb-backup.cnf"
pw=$(cat "${PASSWORD_FILE:?}") || fail "cannot read the password file $PASSWORD_FILE"
case "$pw" in *'
'*) fail "the password contains a line break, which an option file cannot hold" ;; esac
esc=$(printf '%s' "$pw" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
printf '[client]\nhost=%s\nport=%s\nuser=%s\npassword="%s"\n' \
  "$MARIADB_HOST" "${MARIADB_PORT:-3306}" "${MARIADB_USER:-root}" "$esc" > "$cnf" || fail "cannot write $cnf"
unset pw esc
umask 022

# The dispatcher chose a Ready pod; a Galera node that is a donor or joiner right now is refused here.
out=$("$client" --defaults-file="$cnf" -N -B -e "SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'") \
  || fail "cannot query $MARIADB_HOST:${MARIADB_PORT:-3306}"
state=$(printf '%s' "$out" | cut -f2)
case "$state" in ""|Synced) ;; *) fail "node $MARIADB_HOST is $state, not Synced: not backing it up" ;; esac

set --
while IFS= read -r arg || [ -n "$arg" ]; do
  case "$arg" in
    --incremental-lsn=[0-9]*|--parallel=[0-9]*) set -- "$@" "$arg" ;;
    "") ;;
    *) fail "refusing request option $arg" ;;
  esac
done < "$d/request"

mkdir -p "$d/info"
"$backup" --defaults-file="$cnf" --backup --stream=mbstream --target-dir="${TMPDIR:-/tmp}/target" \
  --extra-lsndir="$d/info" --galera-info "$@" > "$d/backup.mbstream"
rc=$?
rm -f "$cnf"
finish "$rc"
"""


class SidecarStreamError(BackupFailedError):
    """The sidecar failed, vanished, or ended the stream without a clean exit of mariadb-backup."""


def request_options(options: Sequence[str]) -> list[str]:
    """``options`` checked against what the sidecar accepts (a mistake here must fail in the agent)."""
    for option in options:
        value = option.partition("=")[2]
        if not option.startswith(_ALLOWED_OPTIONS) or not value.isdigit():
            raise ValueError(f"the mariadb-backup sidecar does not accept {option!r}")
    return list(options)


@contextmanager
def sidecar_stream(directory: Path, *, options: Sequence[str] = (),
                   start_timeout: float = REQUEST_TIMEOUT_SECONDS) -> Iterator[BinaryIO]:
    """Ask the sidecar for a backup and yield the mbstream as a readable binary file.

    On a normal exit of the ``with`` block the caller must have read to EOF; then the sidecar's exit
    code is checked and anything but 0 raises ``SidecarStreamError``. On an exception the read end is
    closed first, so ``mariadb-backup`` gets EPIPE and the sidecar ends instead of blocking.
    The LSN and binlog info files are in ``directory / INFO_DIR_NAME`` afterwards.
    """
    fifo = directory / FIFO_NAME
    os.mkfifo(fifo)
    os.chmod(fifo, 0o660)  # the sidecar runs as the server's uid; the pod's fsGroup is the shared group
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # does not wait for a writer; keeps the pipe alive
    stream = os.fdopen(fd, "rb", buffering=0)
    try:
        _write_atomically(directory / REQUEST_NAME, "".join(f"{o}\n" for o in request_options(options)))
        _wait_for_writer(fd, directory=directory, timeout=start_timeout)
        os.set_blocking(fd, True)
        yield stream
    except BaseException:
        stream.close()
        raise
    stream.close()
    code = _exit_code(directory, timeout=_EXIT_CODE_WAIT_SECONDS)
    if code != 0:
        raise SidecarStreamError(f"mariadb-backup in the sidecar container exited with {code}; "
                                 "its log (container mariadb-backup) says why")


def abort(directory: Path) -> None:
    """Tell a waiting sidecar that no request will come (the agent failed before asking)."""
    if not (directory / REQUEST_NAME).exists():
        _write_atomically(directory / ABORT_NAME, "")


def _wait_for_writer(fd: int, *, directory: Path, timeout: float) -> None:
    """Until the first bytes arrive. A FIFO opened non-blocking reports no hang-up before a writer has
    ever opened it (Linux ``pipe_poll``), so polling cannot mistake "not started" for "finished"."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    deadline = time.monotonic() + timeout
    while not poller.poll(1000):
        if (directory / EXIT_CODE_NAME).exists():
            code = _exit_code(directory, timeout=0)
            raise SidecarStreamError(f"the mariadb-backup sidecar exited with {code} before streaming; "
                                     "its log (container mariadb-backup) says why")
        if time.monotonic() > deadline:
            raise SidecarStreamError(f"the mariadb-backup sidecar did not start streaming within {timeout:.0f}s")


def _exit_code(directory: Path, *, timeout: float) -> int | None:
    path = directory / EXIT_CODE_NAME
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.chmod(0o644)
    partial.rename(path)


def sidecar_argv(directory: Path, options: Sequence[str] = ()) -> list[str]:
    """A command whose stdout is the sidecar's mbstream and whose exit code is its mariadb-backup's."""
    return [sys.executable, "-m", "shared.physical_sidecar", str(directory), *request_options(options)]


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m shared.physical_sidecar STREAM_DIR [--incremental-lsn=N] [--parallel=N]",
              file=sys.stderr)
        return 2
    try:
        with sidecar_stream(Path(argv[0]), options=argv[1:]) as stream:
            while chunk := stream.read(_COPY_BYTES):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
    except (SidecarStreamError, ValueError) as exc:
        print(f"mariadb-backup sidecar: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
