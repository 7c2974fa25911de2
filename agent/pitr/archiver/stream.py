"""``mariadb-binlog`` as a supervised replication client, and the tail of the files it writes.

Why this reader rather than a replication-protocol library: ``mariadb-binlog`` is MariaDB's own client,
shipped with the server we already dump with, and it starts by GTID through the server itself
(``--start-position=<GTID state>`` sets ``@slave_connect_state``, the way a replica connects): the server
finds the position in its own files, so failing over to another Galera node, whose files have other
names and offsets, needs no scan on our side, and "that GTID was purged" comes back as a plain error.
``--raw`` keeps the bytes exactly as the server sent them, which a segment needs; the password stays in
the defaults file. (PyPI ``mysql-replication`` decodes rows in Python, exposes no raw event bytes to
copy into a valid binlog file, and would be one more dependency.)

With ``--raw --stop-never`` the child writes one local file per server file, named like it, into our
private directory, and appends each event as it arrives. We read the growing file, parse the complete
events, follow Rotate events to the next file, and delete a file once we are past it: the events are
held in memory until their segment is uploaded, and after a crash the bucket is the only state.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from shared.binlogs.events import (
    FORMAT_DESCRIPTION_EVENT,
    ROTATE_EVENT,
    BinlogFormatError,
    Event,
    has_checksums,
    parse_events,
    rotate_target,
)
from shared.binlogs.layout import BINLOG_MAGIC
from shared.mariadb_client import child_env
from shared.processes import stop_process

log = logging.getLogger("mariadb_ha_backup.archive")

LOG_EVENT_ARTIFICIAL_F = 0x20  # set on events the server makes up for a client (never in its files)
# At most this much is read per call: bounds our memory when the child is far ahead of us (a backlog
# of many files after a restart); the rest is read on the next call.
_READ_BYTES = 64 << 20
_PURGED = re.compile(r"Could not find (GTID state requested|first log file name)", re.IGNORECASE)
_CONNECTION = re.compile(r"Lost connection|Can't connect|gone away|\b(2002|2003|2005|2006|2013|1053|1047)\b")


class StreamError(Exception):
    """The child ended; ``kind`` says what to do next: 'purged', 'connection' or 'failed'."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class StartAt:
    """Where to start: after a GTID state (resume), or at the beginning of a server file (new archive)."""

    gtid_state: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class FileEvent:
    """An event and the server file it belongs to (local files are named like the server's)."""

    file: str
    event: Event

    @property
    def artificial(self) -> bool:
        return bool(self.event.flags & LOG_EVENT_ARTIFICIAL_F) or self.event.next_position == 0

    @property
    def server_start(self) -> int:
        """The event's offset in the server's file (our local file skips what a GTID start skipped)."""
        return self.event.next_position - self.event.size


def dump_argv(defaults_file: Path, *, out_dir: Path, server_id: int, start: StartAt) -> list[str]:
    """The child's command line: nothing secret on it (the password is in ``defaults_file``)."""
    argv = [*_dies_with_us(), "mariadb-binlog", f"--defaults-extra-file={defaults_file}", "--read-from-remote-server",
            "--raw", "--stop-never", f"--stop-never-slave-server-id={server_id}", f"--result-file={out_dir}/"]
    if start.gtid_state is not None:
        # Any file name will do: with a GTID start the server picks the file. Strict mode off: a Galera
        # node's state may list domains in an order the client's strict check does not expect.
        return [*argv, "--skip-gtid-strict-mode", f"--start-position={start.gtid_state}", start.file or "x"]
    assert start.file is not None
    return [*argv, start.file]


def _dies_with_us() -> list[str]:
    """util-linux ``setpriv --pdeathsig KILL`` (it execs the command in place): if the archiver is killed
    (``kill -9``, OOM), its reader goes too instead of streaming on, orphaned, into a dead run's spool.
    Without setpriv on PATH the child runs unwrapped (a container's end still takes it)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


class BinlogStream:
    """The running child plus a reader of its output; leaving the ``with`` block stops the child."""

    def __init__(self, argv: list[str], *, out_dir: Path) -> None:
        self.argv = argv
        self.out_dir = out_dir
        self.process: subprocess.Popen[bytes] | None = None
        self._file: str | None = None
        self._offset = 0
        self._checksum = True

    def __enter__(self) -> BinlogStream:
        self.out_dir.mkdir(mode=0o700, exist_ok=True)
        with open(self.out_dir.parent / "mariadb-binlog.err", "wb") as err:
            self.process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=err, env=child_env())
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.process is not None:
            stop_process(self.process, grace_seconds=5)

    def read(self) -> list[FileEvent]:
        """The complete events written since the last call (possibly across rotations)."""
        found: list[FileEvent] = []
        while self._current_file() is not None:
            batch = self._read_current()
            found.extend(batch)
            rotate = next((e for e in batch if e.event.type_code == ROTATE_EVENT and not e.artificial), None)
            following = rotate_target(rotate.event, checksum=self._checksum)[0] if rotate else self._later_file()
            if following is None:
                break
            if rotate is None:
                # The child closes a file before it opens the next: what it wrote last is there now.
                found.extend(self._read_current())
            self._next_file(following)
        return found

    def _later_file(self) -> str | None:
        """The next file the child has started, if any. The server does not always send the Rotate
        event that ends a file (files closed before we connected, on a Galera node, came without)."""
        assert self._file is not None
        later = [n for n in os.listdir(self.out_dir) if file_order(n) > file_order(self._file)]
        return min(later, key=file_order) if later else None

    def failure(self) -> StreamError | None:
        """None while the child runs; else why it ended (it never ends by itself with --stop-never)."""
        assert self.process is not None
        code = self.process.poll()
        if code is None:
            return None
        text = (self.out_dir.parent / "mariadb-binlog.err").read_text(errors="replace").strip()
        detail = " ".join(text.splitlines()[-2:])[:500] or f"mariadb-binlog exited with code {code}"
        if _PURGED.search(text):
            return StreamError("purged", detail)
        return StreamError("connection" if _CONNECTION.search(text) else "failed", detail)

    def _current_file(self) -> str | None:
        if self._file is None:
            names = sorted(os.listdir(self.out_dir), key=file_order)
            self._file = names[0] if names else None
        return self._file

    def _read_current(self) -> list[FileEvent]:
        assert self._file is not None
        try:
            with open(self.out_dir / self._file, "rb") as f:
                f.seek(self._offset)
                data = f.read(_READ_BYTES)
        except FileNotFoundError:  # the child has not opened the next file yet
            return []
        if self._offset == 0:
            if len(data) < len(BINLOG_MAGIC):
                return []
            if not data.startswith(BINLOG_MAGIC):
                raise BinlogFormatError(f"{self._file} written by mariadb-binlog has no binlog magic")
            data, self._offset = data[len(BINLOG_MAGIC):], len(BINLOG_MAGIC)
        events = [FileEvent(self._file, e) for e in parse_events(data, offset=self._offset)]
        if events:
            self._offset = events[-1].event.end
        for item in events:
            if item.event.type_code == FORMAT_DESCRIPTION_EVENT:
                self._checksum = has_checksums(item.event)
        return events

    def _next_file(self, name: str) -> None:
        assert self._file is not None
        (self.out_dir / self._file).unlink(missing_ok=True)
        self._file, self._offset = Path(name).name, 0


def file_order(name: str) -> tuple[str, int]:
    """Binlog files of one server sort by their numeric extension (``bin.000010`` after ``bin.000009``)."""
    stem, _, number = name.rpartition(".")
    return (stem, int(number)) if number.isdigit() else (name, -1)
