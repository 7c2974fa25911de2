"""The ``mariadb-backup`` sidecar of a physical backup Job, and the agent's end of it.

Why a sidecar: ``mariadb-backup`` must be the server's own version (it embeds the server's InnoDB and
refuses, or silently mis-copies, another major version's files), and the agent image carries one
Debian build. Users run whatever server image they chose (mariadb-operator's, Bitnami's, a pinned
patch release), and every one of those images ships ``mariadb-backup`` (its SST method needs it). So
the Job runs a native sidecar from the server pod's exact image, with the node's data PVC mounted
read-only; it runs ``mariadb-backup --backup --stream=mbstream`` into a FIFO on an emptyDir shared with
the agent, and the agent compresses, encrypts, hashes and uploads exactly as for a local
``mariadb-backup``. Copying the binary into the agent instead would need the server image's shared
libraries and loader as well; carrying every server version in the agent image cannot keep up.

The agent needs no change for it: in the Job its command is ``python -m shared.physical_sidecar
--exec-agent backup``, which puts a ``mariadb-backup`` shim first on ``PATH`` and execs the agent. The
shim answers ``--version`` with the sidecar's (the server's) version and turns ``--backup`` into a call
to the sidecar: same stdout (the mbstream), same exit code, and the ``--extra-lsndir`` files copied
where the agent asked for them.

The protocol, in ``STREAM_DIR`` (an emptyDir in both containers, group-shared through the pod's
``fsGroup``): at start the sidecar writes ``version`` (or ``sidecar-error`` if it cannot work: no tool,
no password). Each backup is a directory ``call.*`` that the agent makes (0770) with the FIFO
``stream`` (0660), opens its read end, then writes ``request``: extra options, one a line, only
``--incremental-lsn=N`` and ``--parallel=N``. The sidecar checks the node is a Synced Galera member and
streams into the FIFO with ``--galera-info --extra-lsndir=<call>/info``, then writes ``exit-code``. A
stream is complete only when the agent read it to EOF *and* ``exit-code`` says 0: a sidecar killed
mid-stream also gives EOF. The sidecar serves calls until the kubelet stops it after the agent exits,
so a retry of the copy inside one pod gets a fresh call.
"""

from __future__ import annotations

import os
import select
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from shared.errors import BackupFailedError

# Mount path of the shared emptyDir in both containers; the agent learns it as PHYSICAL_STREAM_DIR.
STREAM_DIR = "/run/mariadb-ha-backup"
STREAM_DIR_ENV = "PHYSICAL_STREAM_DIR"
VERSION_NAME = "version"
ERROR_NAME = "sidecar-error"
FIFO_NAME = "stream"
REQUEST_NAME = "request"
EXIT_CODE_NAME = "exit-code"
INFO_DIR_NAME = "info"
# Where the Secret's password key is mounted in the sidecar (a projected file, never an env var).
PASSWORD_FILE = "/run/secrets/mariadb-ha-backup/password"  # noqa: S105  # a path, not a password
# How long the agent waits for the sidecar to start streaming (or to report why not): pulling a large
# server image onto the node and a busy server's BACKUP STAGE wait both fit in 15 minutes.
START_TIMEOUT_SECONDS = 900
# After EOF on the FIFO, mariadb-backup has already written everything; its exit takes milliseconds.
# A minute covers a node under heavy load; past that the sidecar is presumed gone.
_EXIT_CODE_WAIT_SECONDS = 60.0
_ALLOWED_OPTIONS = ("--incremental-lsn=", "--parallel=")
# Copy size for the shim: large enough that the pipe, not Python, sets the pace.
_COPY_BYTES = 1 << 20
# Where --exec-agent puts the shim, under the temp dir: in the Job /tmp is an emptyDir (the root is read-only).
SHIM_DIR_NAME = "mariadb-ha-backup-bin"

# POSIX sh: it runs under dash (Debian/Ubuntu-based server images) and bash (Bitnami) alike.
SIDECAR_SCRIPT = r"""set -u
d="${STREAM_DIR:?}"
die() { echo "mariadb-backup sidecar: $*" > "$d/sidecar-error"; echo "mariadb-backup sidecar: $*" >&2; exit 1; }

# This image's own tools: newer images name them mariadb-*, older ones mariabackup and mysql.
backup=$(command -v mariadb-backup || command -v mariabackup) || die "this image has no mariadb-backup"
client=$(command -v mariadb || command -v mysql) || die "this image has no mariadb client"
"$backup" --version > "$d/version.tmp" 2>&1 && mv -f "$d/version.tmp" "$d/version"

# The password goes into a 0600 option file through shell builtins only: never argv, never the environment.
umask 077
cnf="${TMPDIR:-/tmp}/mariadb-backup.cnf"
pw=$(cat "${PASSWORD_FILE:?}") || die "cannot read the password file $PASSWORD_FILE"
case "$pw" in *'
'*) die "the password contains a line break, which an option file cannot hold" ;; esac
esc=$(printf '%s' "$pw" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')
printf '[client]\nhost=%s\nport=%s\nuser=%s\npassword="%s"\n' \
  "$MARIADB_HOST" "${MARIADB_PORT:-3306}" "${MARIADB_USER:-root}" "$esc" > "$cnf" || die "cannot write $cnf"
unset pw esc
umask 002

serve() {
  call=$1
  # The dispatcher chose a Ready pod; a Galera node that is a donor or joiner right now is refused here.
  out=$("$client" --defaults-file="$cnf" -N -B -e "SHOW GLOBAL STATUS LIKE 'wsrep_local_state_comment'") \
    || { echo "mariadb-backup sidecar: cannot query $MARIADB_HOST:${MARIADB_PORT:-3306}" >&2; return 1; }
  state=$(printf '%s' "$out" | cut -f2)
  case "$state" in ""|Synced) ;; *)
    echo "mariadb-backup sidecar: node $MARIADB_HOST is $state, not Synced: not backing it up" >&2; return 1 ;;
  esac
  set --
  while IFS= read -r arg || [ -n "$arg" ]; do
    case "$arg" in
      --incremental-lsn=[0-9]*|--parallel=[0-9]*) set -- "$@" "$arg" ;;
      "") ;;
      *) echo "mariadb-backup sidecar: refusing request option $arg" >&2; return 2 ;;
    esac
  done < "$call/request"
  mkdir -p "$call/info"
  "$backup" --defaults-file="$cnf" --backup --stream=mbstream --target-dir="${TMPDIR:-/tmp}/target-${call##*/}" \
    --extra-lsndir="$call/info" --galera-info "$@" > "$call/stream"
}

# Until the kubelet stops this native sidecar, after the agent has exited.
while :; do
  for call in "$d"/call.*; do
    [ -f "$call/request" ] && [ ! -e "$call/taken" ] || continue
    : > "$call/taken"
    serve "$call"
    rc=$?
    echo "$rc" > "$call/exit-code.tmp" && mv -f "$call/exit-code.tmp" "$call/exit-code"
  done
  sleep 1
done
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
def sidecar_stream(directory: Path, *, options: Sequence[str] = (), info_into: Path | None = None,
                   start_timeout: float = START_TIMEOUT_SECONDS) -> Iterator[BinaryIO]:
    """Ask the sidecar for a backup and yield the mbstream as a readable binary file.

    On a normal exit of the ``with`` block the caller must have read to EOF; then the sidecar's exit
    code is checked and anything but 0 raises ``SidecarStreamError``; ``info_into`` receives the
    ``--extra-lsndir`` files. On an exception the read end is closed first, so ``mariadb-backup``
    gets EPIPE and the call ends instead of blocking.
    """
    request = request_options(options)
    call = Path(tempfile.mkdtemp(prefix="call.", dir=directory))
    try:
        call.chmod(0o770)  # the sidecar runs as the server's uid; the pod's fsGroup is the shared group
        os.mkfifo(call / FIFO_NAME, 0o660)
        os.chmod(call / FIFO_NAME, 0o660)
        fd = os.open(call / FIFO_NAME, os.O_RDONLY | os.O_NONBLOCK)  # no writer needed yet; keeps the pipe
        stream = os.fdopen(fd, "rb", buffering=0)
        try:
            _write_atomically(call / REQUEST_NAME, "".join(f"{o}\n" for o in request))
            _wait_for_writer(fd, call=call, timeout=start_timeout)
            os.set_blocking(fd, True)
            yield stream
        except BaseException:
            stream.close()
            raise
        stream.close()
        code = _exit_code(call, timeout=_EXIT_CODE_WAIT_SECONDS)
        if code != 0:
            raise SidecarStreamError(f"mariadb-backup in the sidecar container exited with {code}; "
                                     "its log (container mariadb-backup) says why")
        if info_into is not None:
            info_into.mkdir(parents=True, exist_ok=True)
            for path in (call / INFO_DIR_NAME).iterdir():
                shutil.copyfile(path, info_into / path.name)
    finally:
        shutil.rmtree(call, ignore_errors=True)


def sidecar_version(directory: Path, *, timeout: float = START_TIMEOUT_SECONDS) -> str:
    """What the sidecar's ``mariadb-backup --version`` printed (the server image's own tool)."""
    deadline = time.monotonic() + timeout
    while not (directory / VERSION_NAME).exists():
        _raise_if_broken(directory)
        if time.monotonic() > deadline:
            raise SidecarStreamError(f"the mariadb-backup sidecar did not start within {timeout:.0f}s")
        time.sleep(0.2)
    return (directory / VERSION_NAME).read_text()


def _wait_for_writer(fd: int, *, call: Path, timeout: float) -> None:
    """Until the first bytes arrive. A FIFO opened non-blocking reports no hang-up before a writer has
    ever opened it (Linux ``pipe_poll``), so polling cannot mistake "not started" for "finished"."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    deadline = time.monotonic() + timeout
    while not poller.poll(1000):
        _raise_if_broken(call.parent)
        if (call / EXIT_CODE_NAME).exists():
            code = _exit_code(call, timeout=0)
            raise SidecarStreamError(f"the mariadb-backup sidecar ended the call with {code} before streaming; "
                                     "its log (container mariadb-backup) says why")
        if time.monotonic() > deadline:
            raise SidecarStreamError(f"the mariadb-backup sidecar did not start streaming within {timeout:.0f}s")


def _raise_if_broken(directory: Path) -> None:
    if (directory / ERROR_NAME).exists():
        raise SidecarStreamError((directory / ERROR_NAME).read_text().strip()[:300])


def _exit_code(call: Path, *, timeout: float) -> int | None:
    path = call / EXIT_CODE_NAME
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


# --- The agent's side in the Job: `python -m shared.physical_sidecar --exec-agent backup` -----------------


def install_shim(directory: Path) -> Path:
    """A ``mariadb-backup`` in ``directory`` that is this module's ``--as-mariadb-backup``."""
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "mariadb-backup"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m shared.physical_sidecar --as-mariadb-backup "$@"\n')
    shim.chmod(0o755)
    return shim


def as_mariadb_backup(argv: Sequence[str], *, directory: Path) -> int:
    """Behave as ``mariadb-backup ARGV`` would for the agent: ``--version``, or a streamed ``--backup``."""
    if list(argv) == ["--version"]:
        sys.stderr.write(sidecar_version(directory))
        return 0
    if "--backup" not in argv:
        print(f"mariadb-backup (sidecar shim): only --version and --backup run here, not {' '.join(argv)[:200]}",
              file=sys.stderr)
        return 2
    # The sidecar has its own connection, password file, --galera-info and target; these select the copy.
    options = [a for a in argv if a.startswith(_ALLOWED_OPTIONS)]
    lsn_dir = next((Path(a.split("=", 1)[1]) for a in argv if a.startswith("--extra-lsndir=")), None)
    with sidecar_stream(directory, options=options, info_into=lsn_dir) as stream:
        while chunk := stream.read(_COPY_BYTES):
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    return 0


def main(argv: Sequence[str]) -> int:
    directory = Path(os.environ.get(STREAM_DIR_ENV, STREAM_DIR))
    if argv[:1] == ["--exec-agent"]:
        shim_dir = install_shim(Path(tempfile.gettempdir()) / SHIM_DIR_NAME).parent
        os.environ["PATH"] = f"{shim_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        os.execvp("mariadb-ha-backup", ["mariadb-ha-backup", *argv[1:]])  # noqa: S606  # our own CLI
    if argv[:1] == ["--as-mariadb-backup"]:
        try:
            return as_mariadb_backup(argv[1:], directory=directory)
        except (SidecarStreamError, ValueError) as exc:
            print(f"mariadb-backup (sidecar): {exc}", file=sys.stderr)
            return 1
    print("usage: python -m shared.physical_sidecar --exec-agent ARGS... | --as-mariadb-backup ARGS...",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
