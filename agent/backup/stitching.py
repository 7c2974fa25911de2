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

A worker writes its tables in the same order as the skeleton (both are mariadb-dump over the same
databases), so each part is read front to back while it is still being written. A table without a data
section in its part (mariadb-dump writes none for the log tables) gets none here either. Anything left
in a part at the end -- data of a table the skeleton does not know -- fails the stitch: the file would
not be what one dump at that instant holds.

The rows are counted on the way (the drill's evidence, ``agent.backup.evidence``): the units are parsed
here anyway, so the parallel dump needs no second pass over the stream.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping

from agent.backup.evidence import count_unit
from agent.common.dumpfile import Kind, Unit, read_units
from shared.errors import BackupFailedError

TABLE_DDL_END = b"/*!40101 SET character_set_client = @saved_cs_client */;\n"
_DATA_KINDS = (Kind.DATA_BEGIN, Kind.ROWS, Kind.DATA_END)
# Row batches cut by the parser: a few extended INSERTs, few Python steps per MB, little memory.
_BATCH_BYTES = 1 << 20

TableKey = tuple[str | None, str | None]


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


def stitch(skeleton: Iterable[bytes], parts: Mapping[TableKey, int], part_chunks: list[Iterable[bytes]],
           *, write: Callable[[bytes], object]) -> dict[str, int]:
    """Write the whole dump through ``write``; returns the rows per table ({"db.table": n}).

    ``parts`` maps each table with data to the index of the part holding it.
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
        for data in readers[parts[key]].section(key):
            count_unit(rows, data)
            write(data.data)
        write(unit.data[cut:])
    for reader in readers:
        if (extra := reader.leftover()) is not None:
            raise StitchError(f"{reader.name} holds data of {extra.database}.{extra.name}, which the skeleton "
                              "does not place (was it created or changed during the dump?)")
    return dict(sorted(rows.items()))
