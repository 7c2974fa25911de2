"""``mariadb`` client sessions fed concurrently, each acknowledging what it has executed.

A parallel restore needs to know when a statement has *run*, not only when it was written to a pipe:
a table's rows may start on other sessions only once its ``CREATE TABLE`` is done. So every piece of
SQL sent to a session is followed by ``SELECT <ticket>;``, and a thread reads the client's output
(``--batch --skip-column-names --unbuffered``: one line per ticket, nothing else, because a dump's
statements return no result sets). Writes go through a per-session thread, so one busy session
never stalls the others. The password reaches each client only through the defaults file.
"""

from __future__ import annotations

import collections
import contextlib
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.mariadb_client import AccessDeniedError, ClientError, PipedClient

# Output flags the ticket protocol relies on: plain lines, no headers, flushed after each statement.
TICKET_FLAGS = ("--batch", "--skip-column-names", "--unbuffered")
_TICKET_PREFIX = b"mariadb-ha-backup-ticket-"


@dataclass(frozen=True)
class Piece:
    ticket: int
    size: int
    label: str  # what it loads, for the error message ("table `shop`.`orders`")


class ClientSession:
    """One ``mariadb`` process; ``send`` queues SQL, ``outstanding`` is what it has not confirmed yet."""

    def __init__(self, argv: Sequence[str], *, stderr_path: Path, changed: threading.Condition) -> None:
        self.stderr_path = stderr_path
        self.current_database: str | None = None
        self._changed = changed  # notified on every acknowledgement and when the client exits
        self._unconfirmed: collections.deque[Piece] = collections.deque()
        self._outbox: collections.deque[bytes | None] = collections.deque()
        self._outbox_ready = threading.Condition()
        self.outstanding = 0
        self.confirmed = 0  # the last ticket the client answered
        self.ended = False
        self._client = PipedClient([*argv, *TICKET_FLAGS], stderr_path=stderr_path, stdout=subprocess.PIPE)
        self._process = self._client.process
        self._writer = threading.Thread(target=self._write_loop, name="session-writer", daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name="session-reader", daemon=True)
        self._writer.start()
        self._reader.start()

    def send(self, sql: bytes, *, ticket: int, label: str) -> None:
        """Queue ``sql`` (complete statements, delimiter ``;`` at the end) and its ticket."""
        with self._changed:
            self._unconfirmed.append(Piece(ticket, len(sql), label))
            self.outstanding += len(sql)
        with self._outbox_ready:
            self._outbox.append(sql + b"\nSELECT '%s%d';\n" % (_TICKET_PREFIX, ticket))
            self._outbox_ready.notify()

    def close_input(self) -> None:
        with self._outbox_ready:
            self._outbox.append(None)
            self._outbox_ready.notify()

    def first_unconfirmed(self) -> str | None:
        with self._changed:
            return self._unconfirmed[0].label if self._unconfirmed else None

    def wait(self) -> int:
        self._writer.join()
        code = self._process.wait()
        self._reader.join()
        return code

    def stop(self) -> None:
        """Terminate the client now (another session failed); idempotent."""
        self.close_input()
        self._client.stop()

    def failure(self) -> ClientError | AccessDeniedError:
        """The client's own error, from its stderr."""
        return self._client.failure()

    def _write_loop(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            while (data := self._next_outgoing()) is not None:
                stdin.write(data)
                stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # the client exited: its exit code and stderr say why
        finally:
            with contextlib.suppress(BrokenPipeError, ValueError):
                stdin.close()

    def _next_outgoing(self) -> bytes | None:
        with self._outbox_ready:
            while not self._outbox:
                self._outbox_ready.wait()
            return self._outbox.popleft()

    def _read_loop(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        for line in stdout:
            if not line.startswith(_TICKET_PREFIX):
                continue  # not ours (a dump's statements print nothing, but a hand-edited one might)
            with self._changed:
                self.confirmed = int(line[len(_TICKET_PREFIX):])
                while self._unconfirmed and self._unconfirmed[0].ticket <= self.confirmed:
                    self.outstanding -= self._unconfirmed.popleft().size
                self._changed.notify_all()
        self._process.wait()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    @property
    def failed(self) -> bool:
        return self.ended and self._process.returncode != 0
