"""Load a dump over several ``mariadb`` sessions at once: one table's rows on all of them, the rest in order.

Loading is the slow half of a restore, and the server applies one session's statements on one
core: two sessions inserting the same table's row batches loaded a 159 MB dump in 0.55-0.63x the
time of one (issue 12). The dump is read once, as the units ``agent.common.dumpfile`` cuts it into, and:

- the header's session settings (character set, time zone, SQL mode, checks off) go to every
  session first, so each one loads exactly as a serial client would;
- row batches go to whichever session has the least unconfirmed SQL, at most ``MAX_UNCONFIRMED``
  bytes each (memory stays bounded: nothing waits anywhere but in these small queues);
- the session statements a dump places around one table's rows (``system_versioning_insert_history``
  for history, autocommit; agent/restore/table_settings.py) run in every session that loads a batch of
  those rows: before its first batch, and the restoring ones once the table's rows are all sent;
- every other unit before the data (``CREATE DATABASE``, a table's DDL, sequences, view
  placeholders, ``DISABLE KEYS``) is a barrier: it runs on one session, in dump order, and nothing
  after it is dispatched until the session has confirmed it (a table exists before its rows arrive);
- what must see all the data is held back (``ENABLE KEYS``, triggers, which would fire on the
  restored rows, routines, the final view definitions) and run on one session in dump order once
  every session has confirmed everything; events come last, because they start firing when created.

Each session is told the database of each unit (``USE``) when it changes. An error in any session
stops all of them and names what was being loaded.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from agent.common.dumpfile import Kind, Unit
from agent.common.dumpfile.parsing import BATCH_BYTES
from agent.restore.sessions import ClientSession
from agent.restore.table_settings import split_session_statements, turns_autocommit_off
from shared.mariadb_client import ClientError

# A session gets another row batch only while it has less than this unconfirmed: one batch running
# and one waiting, so it never idles between batches, and memory is ~2 batches per session.
MAX_UNCONFIRMED = 2 * BATCH_BYTES
_AFTER_DATA = {Kind.DATA_END, Kind.TRIGGER, Kind.ROUTINE, Kind.USE, Kind.VIEW}
_SETS_DATABASE = {Kind.DATABASE, Kind.USE}  # these units carry their own USE
_WHAT = {Kind.ROWS: "rows of table", Kind.DATA_BEGIN: "table", Kind.DATA_END: "table", Kind.USE: "views"}


@dataclass(frozen=True)
class _Barrier:
    session: ClientSession
    ticket: int
    table: tuple[str | None, str | None] | None = None


class SessionFailedError(ClientError):
    """A client session stopped with an error; the message names what it was loading."""


class ParallelLoader:
    def __init__(self, client_argv: Sequence[str], *, sessions: int, run_dir: Path,
                 progress: Callable[[int], None] | None = None) -> None:
        self._changed = threading.Condition()
        self._sessions = [ClientSession(client_argv, stderr_path=run_dir / f"restore-session-{i}.err",
                                        changed=self._changed) for i in range(sessions)]
        self._progress = progress or (lambda n: None)
        self._tickets = itertools.count(1)
        self._barrier: _Barrier | None = None  # the last DDL-like unit, which later units wait for
        self._first_rows: _Barrier | None = None  # the current table's first batch, which its others wait for
        self._after_data: list[Unit] = []
        self._prologue = b""  # the current table's session statements before its rows
        self._commit_each_batch = False
        self._prepared: list[ClientSession] = []  # sessions that ran the current table's prologue
        self._last: list[Unit] = []  # events, then the footer

    def load(self, units: Iterable[Unit]) -> None:
        """Load every unit; raises ``SessionFailedError`` (all sessions stopped) if any session fails."""
        try:
            for unit in units:
                self._dispatch(unit)
            self._wait(lambda: all(s.outstanding == 0 for s in self._sessions))
            for unit in [*self._after_data, *sorted(self._last, key=lambda u: u.kind is Kind.FOOTER)]:
                self._send(self._sessions[0], unit)
            self._finish()
        except BaseException:
            for session in self._sessions:
                session.stop()
            raise

    def _dispatch(self, unit: Unit) -> None:
        if unit.kind is Kind.HEADER:
            for session in self._sessions:
                self._send(session, unit)
        elif unit.kind in (Kind.EVENTS, Kind.FOOTER):
            self._last.append(unit)
        elif unit.kind is Kind.DATA_END:
            self._end_table_settings(unit)
        elif unit.kind in _AFTER_DATA:
            self._after_data.append(unit)
        elif unit.kind is Kind.ROWS:
            self._dispatch_rows(unit)
        else:  # consecutive barriers share a session, which runs them in order
            if unit.kind is Kind.DATA_BEGIN:
                unit = self._begin_table_settings(unit)
            session = self._barrier.session if self._barrier is not None else self._least_busy(need_room=False)
            self._barrier = _Barrier(session, self._send(session, unit))

    def _dispatch_rows(self, unit: Unit) -> None:
        self._wait_for(self._barrier)
        self._barrier = None
        table = (unit.database, unit.name)
        first = self._first_rows is None or self._first_rows.table != table
        if not first:
            self._wait_for(self._first_rows)
            self._first_rows = None
        session = self._least_busy(need_room=True)
        ticket = self._send(session, unit, around=self._table_settings_around(session))
        if first:
            # InnoDB loads the first INSERT into an empty table in bulk under a table lock (unique and
            # foreign key checks are off, as the dump's header sets them): two sessions starting on
            # the same empty table deadlock (seen here: error 1213). So a table's first batch runs
            # alone (other tables' DDL and rows go on meanwhile); then its rows spread.
            self._first_rows = _Barrier(session, ticket, table)

    def _begin_table_settings(self, unit: Unit) -> Unit:
        """Keep the data prologue's session statements for the sessions that will load rows."""
        split = split_session_statements(unit.data)
        self._prologue, self._prepared = split.session, []
        self._commit_each_batch = turns_autocommit_off(split.session)
        self._progress(len(split.session))
        return replace(unit, data=split.table)

    def _table_settings_around(self, session: ClientSession) -> tuple[bytes, bytes]:
        """What to send before and after a batch of the current table's rows on ``session``."""
        before = b""
        if self._prologue and session not in self._prepared:
            before = self._prologue
            self._prepared.append(session)
        return before, (b"COMMIT;\n" if self._commit_each_batch else b"")

    def _end_table_settings(self, unit: Unit) -> None:
        """The epilogue's session statements go to each session that loaded the table's rows, right
        after them; the rest (ENABLE KEYS) waits for all the data, as before."""
        split = split_session_statements(unit.data)
        for session in self._prepared:
            self._send(session, replace(unit, data=b""), around=(split.session, b""))
        self._progress(len(split.session))
        self._prologue, self._prepared, self._commit_each_batch = b"", [], False
        self._after_data.append(replace(unit, data=split.table))

    def _wait_for(self, barrier: _Barrier | None) -> None:
        if barrier is not None:
            self._wait(lambda: barrier.session.confirmed >= barrier.ticket)

    def _send(self, session: ClientSession, unit: Unit, *, around: tuple[bytes, bytes] = (b"", b"")) -> int:
        """Queue ``unit`` (``around`` it: statements that are not the dump's bytes for this unit)."""
        sql = around[0] + unit.data + around[1]
        if unit.kind in _SETS_DATABASE:
            session.current_database = unit.database
        elif unit.database is not None and unit.database != session.current_database:
            sql = b"USE `%s`;\n" % unit.database.replace("`", "``").encode("utf-8", "surrogateescape") + sql
            session.current_database = unit.database
        ticket = next(self._tickets)
        session.send(sql, ticket=ticket, label=describe(unit))
        self._progress(len(unit.data))
        return ticket

    def _least_busy(self, *, need_room: bool) -> ClientSession:
        chosen: list[ClientSession] = []

        def found() -> bool:
            chosen[:] = [min(self._sessions, key=lambda s: s.outstanding)]
            return not need_room or chosen[0].outstanding < MAX_UNCONFIRMED

        self._wait(found)
        return chosen[0]

    def _wait(self, ready: Callable[[], bool]) -> None:
        with self._changed:
            while True:
                self._raise_if_failed()
                if ready():
                    return
                self._changed.wait()

    def _raise_if_failed(self) -> None:
        for session in self._sessions:
            if session.ended:
                raise self._failure(session)

    def _finish(self) -> None:
        for session in self._sessions:
            session.close_input()
        codes = [session.wait() for session in self._sessions]
        for session, code in zip(self._sessions, codes, strict=True):
            if code != 0:
                raise self._failure(session)

    @staticmethod
    def _failure(session: ClientSession) -> SessionFailedError:
        cause = session.failure()
        loading = session.first_unconfirmed() or "the dump"
        return SessionFailedError(f"{cause} while loading {loading} — the target may be partially restored")


def describe(unit: Unit) -> str:
    """``rows of table `shop`.`orders``` and the like, for error messages."""
    what = _WHAT.get(unit.kind, unit.kind.value.replace("_", " "))
    if unit.name is not None and unit.database is not None:
        return f"{what} `{unit.database}`.`{unit.name}`"
    if unit.database is not None:
        return f"{what} of database `{unit.database}`"
    return f"the dump's {what}"
