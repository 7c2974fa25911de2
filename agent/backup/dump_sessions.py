"""Which sessions a parallel dump runs, and which tables each dumps (``agent.backup.parallel_dump``).

A **large table** (``split_bytes`` or more by the server's estimate) with a single-column integer
primary key is **split**: ``threads`` sessions each dump the rows of every such table whose key falls
in their share (``--where "ABS((`id` DIV 1024) MOD n) = i"``: blocks of 1024 keys dealt out in turn;
one ``--where`` serves every table whose key has that name, so a group is one set of sessions per key
name). The other tables go whole to **table workers**, largest first to the least loaded. Each session
is a ``mariadb-dump`` whose option file lists the tables it leaves out (``ignore-table``: argv would
be too long) and its ``where``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.backup.commit_block import CommitBlock
from agent.backup.stitching import Placement, TableKey

# Tables of this size or more (data + index, the server's estimate) are split among the sessions. Smaller
# ones go whole to table workers, which read each table into memory first (--skip-quick): at 32 MiB that
# took the memory test's process tree from 146 to 241 MB; at 8 MiB a worker holds little.
SPLIT_BYTES = 8 << 20
# Key names whose tables are split (each name is one more set of `threads` sessions); the rest go whole.
MAX_SPLIT_GROUPS = 2
_SPLIT_BLOCK = 1024  # consecutive keys that stay in one session: its INSERTs keep runs of neighbouring rows
_INTEGER_TYPES = ("tinyint", "smallint", "mediumint", "int", "bigint")
# Never assigned: their data is not dumped (information_schema, performance_schema), the accounts table
# the seed leaves out, and sequences (the skeleton writes their state; a worker would write it again).
_NOT_DUMPED = ("information_schema", "performance_schema")


@dataclass(frozen=True)
class Table:
    database: str
    name: str
    size: int
    sequence: bool
    key: str | None = None  # its primary key's column, when that is one integer column (it can be split)
    versioned: bool = False


@dataclass(frozen=True)
class Session:
    name: str
    ignored: list[str]  # db.table names it leaves out
    where: str | None = None
    # --skip-quick: mariadb-dump reads each table whole into its memory before writing it, so while the
    # session waits on the stitcher the server is not left writing to it (net_write_timeout); only for
    # table workers whose tables are all under split_bytes (that much memory at most).
    buffered: bool = False


def list_tables(control: CommitBlock) -> list[Table]:
    excluded = ",".join(f"'{s}'" for s in _NOT_DUMPED)
    rows = control.query(
        "SELECT HEX(table_schema), HEX(table_name), table_type, IFNULL(data_length, 0) + IFNULL(index_length, 0) "  # noqa: S608  # constant names only
        f"FROM information_schema.tables WHERE table_type <> 'VIEW' AND table_schema NOT IN ({excluded})"
    )
    keys = {(bytes.fromhex(db).decode(), bytes.fromhex(name).decode()): bytes.fromhex(column).decode()
            for db, name, column, count, kind in control.query(
                "SELECT HEX(s.table_schema), HEX(s.table_name), HEX(MAX(s.column_name)), COUNT(*), MAX(c.data_type) "  # noqa: S608  # constant names only
                "FROM information_schema.statistics s JOIN information_schema.columns c "
                "ON c.table_schema = s.table_schema AND c.table_name = s.table_name AND c.column_name = s.column_name "
                f"WHERE s.index_name = 'PRIMARY' AND s.table_schema NOT IN ({excluded}, 'mysql') "
                "GROUP BY s.table_schema, s.table_name")
            if count == "1" and kind.lower() in _INTEGER_TYPES}
    tables = []
    for db, name, kind, size in rows:
        key = (bytes.fromhex(db).decode(), bytes.fromhex(name).decode())
        tables.append(Table(*key, int(size), kind == "SEQUENCE", key=keys.get(key),
                             versioned=kind == "SYSTEM VERSIONED"))
    return tables


def plan_sessions(tables: Sequence[Table], threads: int, *,
                  split_bytes: int = SPLIT_BYTES) -> tuple[list[Session], dict[TableKey, Placement]]:
    """The worker sessions and where each table's data is: split among a group's sessions, or whole in one.

    Split: at least ``split_bytes``, an integer single-column key, not system-versioned (its history
    rows are dumped with ``FOR SYSTEM_TIME ALL``, which ``--where`` is not tested with). Groups by key
    name, largest total first, at most ``MAX_SPLIT_GROUPS``; the other tables go whole to table workers.
    """
    data = [t for t in tables if not t.sequence]
    by_key: dict[str, list[Table]] = {}
    for table in data:
        if table.key is not None and table.size >= split_bytes and not table.versioned:
            by_key.setdefault(table.key, []).append(table)
    groups = sorted(by_key.items(), key=lambda item: -sum(t.size for t in item[1]))[:MAX_SPLIT_GROUPS]
    sessions: list[Session] = []
    placement: dict[TableKey, Placement] = {}
    split: set[TableKey] = set()
    everything = [f"{t.database}.{t.name}" for t in tables]
    for column, members in groups:
        keys = {(t.database, t.name) for t in members}
        split |= keys
        first = len(sessions)
        ignored = [name for t, name in zip(tables, everything, strict=True) if (t.database, t.name) not in keys]
        quoted = "`" + column.replace("`", "``") + "`"
        for i in range(threads):
            where = f"ABS(({quoted} DIV {_SPLIT_BLOCK}) MOD {threads}) = {i}"
            sessions.append(Session(f"split {column} {i}", ignored, where))
        placement.update({key: tuple(range(first, first + threads)) for key in keys})
    whole = [t for t in data if (t.database, t.name) not in split]
    shares = assign(whole, min(threads, len(whole)))
    for worker in range(min(threads, len(whole))):
        index = len(sessions)
        ignored = [name for t, name in zip(tables, everything, strict=True)
                   if t.sequence or shares.get((t.database, t.name)) != worker]
        small = all(t.size < split_bytes for t in whole if shares.get((t.database, t.name)) == worker)
        sessions.append(Session(f"worker {worker}", ignored, buffered=small))
        placement.update({key: (index,) for key, w in shares.items() if w == worker})
    return sessions, placement


def assign(tables: Sequence[Table], threads: int) -> dict[TableKey, int]:
    """Largest first, each to the least loaded worker (sizes are the server's estimates)."""
    loads = [0] * threads
    shares: dict[TableKey, int] = {}
    for table in sorted((t for t in tables if not t.sequence), key=lambda t: -t.size):
        worker = loads.index(min(loads))
        shares[(table.database, table.name)] = worker
        loads[worker] += table.size + 1
    return shares


def worker_defaults(defaults_file: Path, path: Path, session: Session) -> Path:
    """The client settings plus this worker's ``ignore-table`` list and ``where`` (a file: argv would be too long)."""
    lines = "".join(f'ignore-table="{_escaped(name)}"\n' for name in session.ignored)
    if session.where is not None:
        lines += f'where="{_escaped(session.where)}"\n'
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(defaults_file.read_text(encoding="utf-8") + "[mariadb-dump]\n" + lines)
    return path


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
