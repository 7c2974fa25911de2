"""Cut ``mariadb-dump`` output into typed units, streaming, without changing a byte.

Why a parser: a per-database restore and a parallel restore both need to know where one object's SQL
starts and ends. Cutting on text (``-- Current Database:`` anywhere in the file) is wrong as soon as a
routine body or a string value contains that text; here a marker counts only where a statement may
start.

The grammar relied on, and why it holds for ``mariadb-dump`` (10.x, 11.x):

- **Lines.** The dump is a sequence of lines ending in ``\\n``. Row values never contain a raw newline:
  ``mysql_real_escape_string`` writes ``\\n``, ``\\r``, ``\\0`` and quotes escaped, BLOBs included,
  and ``SHOW CREATE`` escapes comments and defaults the same way. Only routine, trigger and event
  bodies (which are printed as written) keep raw newlines, and they sit inside ``DELIMITER`` blocks.
- **Statements at the top level** end at the first line ending in ``;``: every extended INSERT row
  line ends in ``),`` except the last (``);``), and no DDL line but the last ends in ``;``. So
  "everything through the next ``;\\n``" is a statement, found with one ``bytes.find``.
- **Trivia between statements**: blank lines, ``--`` comment lines and the ``/*M!999999\\-`` sandbox
  line. Only here is a ``-- Current Database: `x` `` line a marker; the same text inside a statement
  (a string value, a routine body) is never looked at.
- **Section titles** (``-- Table structure for table `t` ``, ``-- Dumping data for table `t` ``,
  ``-- Temporary table structure for view``, ``-- Final view structure for view``, ``-- Sequence
  structure for``, ``-- Dumping events/routines for database``, ``-- Current Database:``) are comment
  lines mariadb-dump writes before each object (they are not optional with ``--comments``, the
  default; ``--skip-comments`` dumps are not understood).
- **DELIMITER blocks**: a line ``DELIMITER ;;`` switches the end mark to ``;;`` until a line
  ``DELIMITER ;`` at the start of a statement. Triggers, routines and events are written this way,
  each with ``/*!50003 SET ...*/`` lines before and after that save and restore the session's
  character set and SQL mode; those lines belong to the object's unit.
- **Order** (with ``--all-databases --routines --events``): header session settings; per database:
  ``CREATE DATABASE`` + ``USE``, then per table its DDL, its data (DISABLE KEYS, INSERTs, ENABLE KEYS,
  with ``--dump-history`` the ``system_versioning_insert_history`` switch around them) and its
  triggers; sequences; view placeholders (stand-in views with the right columns, so later views and
  routines compile); events; routines. Then a second pass, per database, ``USE`` and the final view
  definitions. Then the footer restoring the session.

Units are yielded in input order and their ``data`` concatenated is the input, byte for byte.
Memory: one statement (mariadb-dump keeps an extended INSERT under ``net_buffer_length``, 1 MB by
default; a single row is bounded by ``max_allowed_packet``) plus one batch of rows.

Not handled (never written by mariadb-dump with the project's flags): ``--skip-comments`` (no section
titles), CRLF line ends, identifiers containing a newline.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from agent.common.dumpfile.reading import ChunkReader

# A batch of one table's INSERT statements is cut once it reaches this size: a few extended INSERTs,
# enough to keep a session busy without holding much of the table in memory.
BATCH_BYTES = 4 << 20


class DumpSyntaxError(ValueError):
    """The stream is not mariadb-dump output this parser understands (e.g. it was truncated)."""


class Kind(enum.StrEnum):
    HEADER = "header"  # comments and the /*!40101 SET ...*/ session settings every session must replay
    DATABASE = "database"  # -- Current Database marker, CREATE DATABASE, USE (first pass)
    TABLE = "table"  # DROP TABLE IF EXISTS, @saved_cs_client pair, CREATE TABLE
    SEQUENCE = "sequence"  # DROP SEQUENCE, CREATE SEQUENCE, DO SETVAL
    DATA_BEGIN = "data_begin"  # history-insert switch, DISABLE KEYS
    ROWS = "rows"  # a batch of one table's INSERT statements
    DATA_END = "data_end"  # ENABLE KEYS, history-insert switch back
    TRIGGER = "trigger"  # saved session settings, DELIMITER block, restored settings
    VIEW_PLACEHOLDER = "view_placeholder"  # first pass stand-in view with the final columns
    EVENTS = "events"  # all events of one database (they share the saved time zone)
    ROUTINE = "routine"  # one procedure, function or package
    USE = "use"  # -- Current Database marker + USE of the second (final views) pass
    VIEW = "view"  # the final view definition
    FOOTER = "footer"  # session settings restored, "Dump completed"


@dataclass(frozen=True, slots=True)
class Unit:
    """One piece of the dump: ``name`` is the table, view, sequence, trigger or routine name."""

    kind: Kind
    database: str | None
    name: str | None
    data: bytes


_TITLES: tuple[tuple[bytes, Kind], ...] = (
    (b"-- Current Database: ", Kind.DATABASE),
    (b"-- Table structure for table ", Kind.TABLE),
    (b"-- Dumping data for table ", Kind.DATA_BEGIN),
    (b"-- Temporary table structure for view ", Kind.VIEW_PLACEHOLDER),
    (b"-- Temporary view structure for view ", Kind.VIEW_PLACEHOLDER),
    (b"-- Final view structure for view ", Kind.VIEW),
    (b"-- Sequence structure for ", Kind.SEQUENCE),
    (b"-- Dumping events for database ", Kind.EVENTS),
    (b"-- Dumping routines for database ", Kind.ROUTINE),
)
_FOOTER_STARTS = (b"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE", b"/*!40101 SET SQL_MODE=@OLD_SQL_MODE")
_TRIGGER_START = b"/*!50003 SET @saved_cs_client"
_ROUTINE_START = b"/*!50003 SET @saved_sql_mode"
_QUOTED = rb"`((?:[^`]|``)+)`"
_USE = re.compile(rb"USE " + _QUOTED)
_TRIGGER_NAME = re.compile(rb"/\*!50003 TRIGGER\s+(?:" + _QUOTED + rb"|([^\s`(]+))")
_ROUTINE_NAME = re.compile(rb"DROP (?:FUNCTION|PROCEDURE|PACKAGE BODY|PACKAGE) IF EXISTS " + _QUOTED)


def read_units(source: BinaryIO | Iterable[bytes], *, batch_bytes: int = BATCH_BYTES) -> Iterator[Unit]:
    """Yield the dump's units in order; raises ``DumpSyntaxError`` if it ends inside a statement."""
    return _Parser(ChunkReader(source), batch_bytes=batch_bytes).units()


def unquote(quoted: bytes) -> str:
    """```a``b``` (or the inside of it) → ``a`b``; names are UTF-8 (the dump's character set)."""
    inner = quoted[1:-1] if quoted.startswith(b"`") and quoted.endswith(b"`") else quoted
    return inner.replace(b"``", b"`").decode("utf-8", "surrogateescape")


def _title_name(rest: bytes) -> str:
    """The object name after a title: `` `t` `` (tables, views) or ``'db'`` (events, routines)."""
    rest = rest.rstrip(b"\n")
    if rest.startswith(b"'") and rest.endswith(b"'"):
        return rest[1:-1].decode("utf-8", "surrogateescape")
    return unquote(rest)


def _is_trivia(line: bytes) -> bool:
    return line == b"\n" or line.startswith((b"--", b"/*M!999999"))


class _OpenUnit:
    def __init__(self, kind: Kind, database: str | None, name: str | None) -> None:
        self.kind, self.database, self.name = kind, database, name
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, piece: bytes) -> None:
        if piece:
            self.parts.append(piece)
            self.size += len(piece)

    def close(self) -> Unit:
        return Unit(self.kind, self.database, self.name, b"".join(self.parts))


class _Parser:
    def __init__(self, reader: ChunkReader, *, batch_bytes: int) -> None:
        self._reader = reader
        self._batch_bytes = batch_bytes
        self._trivia: list[bytes] = []
        self._section = Kind.HEADER
        self._section_name: str | None = None
        self._fresh = False  # a title was read and no statement followed it yet
        self._database: str | None = None
        self._open = _OpenUnit(Kind.HEADER, None, None)

    def units(self) -> Iterator[Unit]:
        while line := self._reader.peek_line():
            if _is_trivia(line):
                self._trivia.append(self._reader.take(len(line)))
                self._note_title(line)
                continue
            statement = self._delimiter_block() if line.startswith(b"DELIMITER ") else self._statement()
            yield from self._place(statement)
        for piece in self._trivia:
            self._open.add(piece)
        if self._open.size:
            yield self._open.close()

    def _statement(self) -> bytes:
        statement = self._reader.through(b";\n")
        if not statement.rstrip(b"\n").endswith(b";"):
            raise DumpSyntaxError("the dump ends inside a statement (truncated?)")
        return statement

    def _delimiter_block(self) -> bytes:
        """``DELIMITER ;;`` through ``DELIMITER ;``: statements inside end with the custom delimiter."""
        first = self._reader.peek_line()
        parts = [self._reader.take(len(first))]
        delimiter = first[len(b"DELIMITER ") :].strip()
        while True:
            line = self._reader.peek_line()
            if not line:
                raise DumpSyntaxError("the dump ends inside a DELIMITER block (truncated?)")
            if line.startswith(b"DELIMITER ") or line == b"\n":
                parts.append(self._reader.take(len(line)))
                delimiter = line[len(b"DELIMITER ") :].strip() if line != b"\n" else delimiter
                if delimiter == b";":
                    return b"".join(parts)
                continue
            statement = self._reader.through(delimiter + b"\n")
            if not statement.rstrip(b"\n").endswith(delimiter):
                raise DumpSyntaxError("the dump ends inside a DELIMITER block (truncated?)")
            parts.append(statement)

    def _note_title(self, line: bytes) -> None:
        for prefix, kind in _TITLES:
            if line.startswith(prefix):
                self._flush_trivia_before_title()
                self._section, self._fresh = kind, True
                self._section_name = _title_name(line[len(prefix) :])
                if kind is Kind.DATABASE:
                    self._database = self._section_name
                return

    def _flush_trivia_before_title(self) -> None:
        """Comments before a title block (``\n--\n-- Title``) stay with the unit they followed."""
        keep = 1
        while keep < len(self._trivia) and keep < 3 and self._trivia[-keep - 1] in (b"\n", b"--\n"):
            keep += 1
        for piece in self._trivia[:-keep]:
            self._open.add(piece)
        del self._trivia[:-keep]

    def _place(self, statement: bytes) -> Iterator[Unit]:
        """Put ``statement`` (and the trivia before it) into the open unit or a new one."""
        kind, name = self._classify(statement)
        if kind is not None:
            if self._open.size:
                yield self._open.close()
            self._open = _OpenUnit(kind, None if kind in (Kind.HEADER, Kind.FOOTER) else self._database, name)
        for piece in self._trivia:
            self._open.add(piece)
        self._trivia.clear()
        self._open.add(statement)
        if self._open.kind is Kind.ROUTINE and self._open.name is None:
            found = _ROUTINE_NAME.search(statement)
            self._open.name = unquote(found.group(1)) if found else None

    def _classify(self, statement: bytes) -> tuple[Kind | None, str | None]:
        """The kind of a new unit that ``statement`` starts, or ``(None, None)`` to continue the open one."""
        if self._open.kind is Kind.FOOTER:
            return None, None
        if statement.startswith(_FOOTER_STARTS):
            return Kind.FOOTER, None
        fresh, self._fresh = self._fresh, False
        section = self._section
        if section is Kind.DATABASE:
            return self._database_statement(statement, fresh=fresh)
        if section in (Kind.TABLE, Kind.DATA_BEGIN):
            return self._table_statement(statement, fresh=fresh)
        if section is Kind.ROUTINE and (fresh or statement.startswith(_ROUTINE_START)):
            return Kind.ROUTINE, None
        if fresh:
            return section, self._section_name if section not in (Kind.EVENTS, Kind.HEADER) else None
        return None, None

    def _database_statement(self, statement: bytes, *, fresh: bool) -> tuple[Kind | None, str | None]:
        used = _USE.match(statement)
        if used:
            self._database = unquote(used.group(1))
        if not fresh:
            return None, None
        return (Kind.USE if used else Kind.DATABASE), self._database

    def _table_statement(self, statement: bytes, *, fresh: bool) -> tuple[Kind | None, str | None]:
        """Table DDL, then data (begin, row batches, end), then the table's triggers."""
        table = self._section_name
        if statement.startswith(_TRIGGER_START) or (
            statement.startswith(b"DELIMITER ") and self._open.kind is not Kind.TRIGGER
        ):
            found = _TRIGGER_NAME.search(statement)
            return Kind.TRIGGER, _trigger_name(found)
        if self._open.kind is Kind.TRIGGER and not fresh:
            self._fill_trigger_name(statement)
            return None, None
        if self._section is Kind.TABLE:
            return (Kind.TABLE, table) if fresh else (None, None)
        if statement.startswith((b"INSERT ", b"REPLACE ")):
            full = self._open.kind is Kind.ROWS and self._open.size >= self._batch_bytes
            return (Kind.ROWS, table) if full or self._open.kind is not Kind.ROWS else (None, None)
        if fresh:
            return Kind.DATA_BEGIN, table
        if self._open.kind is Kind.ROWS or (self._open.kind is Kind.DATA_BEGIN and b"ENABLE KEYS" in statement):
            return Kind.DATA_END, table
        return None, None

    def _fill_trigger_name(self, statement: bytes) -> None:
        if self._open.name is None:
            self._open.name = _trigger_name(_TRIGGER_NAME.search(statement))


def _trigger_name(found: re.Match[bytes] | None) -> str | None:
    if found is None:
        return None
    quoted, bare = found.group(1), found.group(2)
    return unquote(quoted) if quoted is not None else bare.decode("utf-8", "surrogateescape")
