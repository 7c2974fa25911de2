"""Stitch a parallel dump into the one file a single ``mariadb-dump`` would have written.

Inputs, all written by ``mariadb-dump`` itself inside one shared snapshot (``agent.backup.parallel_dump``):
the **skeleton** (``--no-data``: header, databases, table DDL, triggers, sequences, views, events,
routines, footer, and the binlog position comments) and one **part** per worker (``--no-create-info``
over its share of the tables: their data sections only). Every byte of the result is mariadb-dump's,
so escaping is exactly its own for every type; the stitcher only decides where each data section goes.

Where a single dump puts a table's data: right after the table's DDL, whose last statement restores
the client character set (``TABLE_DDL_END``), before its triggers and before whatever comment titles
(``-- Dumping events for database``) follow it. Each section is cut from the part from its title through
its last statement (``ENABLE KEYS``, or with ``--dump-history`` the history switch back); the comment
titles that trail it in the part belong to objects the part does not hold and are dropped. Checked byte
for byte against a single mariadb-dump on the hostile fixture (tests/integration/test_parallel_dump.py).

A **split** table's data is in several parts (each session dumped the rows whose key is in its share,
``--where``): its section is the first part's title and ``DISABLE KEYS`` (without the ``-- WHERE:``
comment mariadb-dump adds), then a batch of INSERTs from each part in turn, then the first part's
``ENABLE KEYS``. Taking turns keeps every session of the split moving (each blocks once the stitcher
holds enough of its output); the rows are those of one dump, in other statements and order.

A worker writes its tables in the same order as the skeleton (both are mariadb-dump over the same
databases), so each part is read front to back while it is still being written. A table without a data
section in its part (mariadb-dump writes none for the log tables) gets none here either. Anything left
in a part at the end -- data of a table the skeleton does not know -- fails the stitch: the file would
not be what one dump at that instant holds.

The rows are counted on the way (the drill's evidence, ``agent.backup.evidence``): the units are parsed
here anyway, so the parallel dump needs no second pass over the stream.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from agent.backup.evidence import count_unit
from agent.common.dumpfile import Kind, Unit, read_units
from shared.errors import BackupFailedError

TABLE_DDL_END = b"/*!40101 SET character_set_client = @saved_cs_client */;\n"
_DATA_KINDS = (Kind.DATA_BEGIN, Kind.ROWS, Kind.DATA_END)
# Row batches cut by the parser: a few extended INSERTs, few Python steps per MB, little memory.
_BATCH_BYTES = 1 << 20

_WHERE_COMMENT = re.compile(rb"^-- WHERE:  [^\n]*\n", re.MULTILINE)

TableKey = tuple[str | None, str | None]
Placement = tuple[int, ...]  # the parts holding a table's data: one, or every session of a split


class StitchError(BackupFailedError):
    """The parts do not fit the skeleton (a table appeared or changed during the dump)."""


class _Part:
    """One worker's output, consumed table by table in the skeleton's order."""

    def __init__(self, chunks: Iterable[bytes], *, name: str) -> None:
        self._units = read_units(chunks, batch_bytes=_BATCH_BYTES)
        self._peeked: Unit | None = None
        self.name = name

    def _next_data(self) -> Unit | None:
        while self._peeked is None or self._peeked.kind not in _DATA_KINDS:
            self._peeked = next(self._units, None)
            if self._peeked is None:
                return None
        return self._peeked

    def section(self, key: TableKey) -> Iterator[Unit]:
        """The data section of table ``key``, if it is the next one in this part; else nothing."""
        first = self._next_data()
        if first is None or first.kind is not Kind.DATA_BEGIN or (first.database, first.name) != key:
            return
        held = first
        self._peeked = None
        while (unit := self._next_data()) is not None and unit.kind is not Kind.DATA_BEGIN \
                and (unit.database, unit.name) == key:
            yield held
            held, self._peeked = unit, None
        yield _without_trailing_titles(held)

    def leftover(self) -> Unit | None:
        return self._next_data()


def _without_trailing_titles(unit: Unit) -> Unit:
    """Cut the comment lines after the section's last statement (titles of objects this part lacks)."""
    end = unit.data.rfind(b";\n") + 2
    return Unit(unit.kind, unit.database, unit.name, unit.data[:end]) if end >= 2 else unit


def stitch(skeleton: Iterable[bytes], parts: Mapping[TableKey, Placement], part_chunks: list[Iterable[bytes]],
           *, write: Callable[[bytes], object]) -> dict[str, int]:
    """Write the whole dump through ``write``; returns the rows per table ({"db.table": n}).

    ``parts`` maps each table with data to the indexes of the parts holding it (more than one: split).
    """
    readers = [_Part(chunks, name=f"part {i}") for i, chunks in enumerate(part_chunks)]
    rows: Counter[str] = Counter()
    for unit in read_units(skeleton, batch_bytes=_BATCH_BYTES):
        key = (unit.database, unit.name)
        if unit.kind is not Kind.TABLE or key not in parts:
            write(unit.data)
            continue
        cut = unit.data.rfind(TABLE_DDL_END)
        if cut < 0:
            raise StitchError(f"table {unit.database}.{unit.name}: its DDL does not end as mariadb-dump's does")
        cut += len(TABLE_DDL_END)
        write(unit.data[:cut])
        placed = parts[key]
        sections = [readers[i].section(key) for i in placed]
        for data in (sections[0] if len(sections) == 1 else _taking_turns(sections)):
            count_unit(rows, data)
            write(data.data)
        write(unit.data[cut:])
    for reader in readers:
        if (extra := reader.leftover()) is not None:
            raise StitchError(f"{reader.name} holds data of {extra.database}.{extra.name}, which the skeleton "
                              "does not place (was it created or changed during the dump?)")
    return dict(sorted(rows.items()))


def _taking_turns(sections: Sequence[Iterator[Unit]]) -> Iterator[Unit]:
    """One split table's section from its parts: the first's head, a batch of rows from each in turn, its end."""
    heads = [next(section, None) for section in sections]
    if heads[0] is None or any(h is None for h in heads):
        if any(h is not None for h in heads):
            raise StitchError("a split table's data is missing from some of its parts")
        return
    first = heads[0]
    yield Unit(first.kind, first.database, first.name, _WHERE_COMMENT.sub(b"", first.data, count=1))
    end: Unit | None = None
    active = list(sections)
    while active:
        for section in list(active):
            unit = next(section, None)
            if unit is None:
                active.remove(section)
            elif unit.kind is Kind.DATA_END:
                end = end or unit
                active.remove(section)
            else:
                yield unit
    if end is not None:
        yield end
