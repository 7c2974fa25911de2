"""Which parts of an all-databases dump a restore loads, chosen on the dump's structure (``agent.common.dumpfile``).

Two choices are made here:

- ``--database NAME`` keeps the header, the units of ``NAME`` (its ``CREATE DATABASE``, tables, data,
  triggers, sequences, view placeholders, events, routines and its final views) and the footer.
  A unit belongs to a database by where mariadb-dump put it, never by text inside it: marker text in
  a routine body or a string value cannot switch databases.
- The raw privilege tables of the ``mysql`` schema (``db``, ``tables_priv``, ``columns_priv``,
  ``procs_priv``, ``proxies_priv``, ``roles_mapping`` and the ``user`` view) are never loaded: the
  seed's dump leaves out ``mysql.global_priv`` (raw grant tables break Galera and would overwrite the
  target's users), so loading the other privilege tables gives grants to accounts that do not exist
  and wipes the target's own grants at the next ``FLUSH PRIVILEGES``. Accounts come back whole from
  the backup's ``accounts.sql`` instead (``agent.common.accounts``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from agent.common.dumpfile import Kind, Unit, read_units

PRIVILEGE_TABLES = frozenset(
    {"db", "tables_priv", "columns_priv", "procs_priv", "proxies_priv", "roles_mapping", "user"}
)
# Units are gathered into writes of about this size for the client's pipe.
_WRITE_BYTES = 1 << 20
_QUALIFIED = re.compile(rb"`((?:[^`]|``)+)`\.`")


@dataclass
class Selection:
    """Iterate ``chunks(dump)``; afterwards ``found`` says if the database was in the dump, ``loaded``
    lists the objects sent, ``references`` the other databases its objects name."""

    database: str | None
    known_databases: frozenset[str] = frozenset()  # the backup's databases: `x`.`y` names only these
    found: bool = False
    loaded: list[tuple[Kind, str | None]] = field(default_factory=list)
    references: dict[str, set[str]] = field(default_factory=dict)  # other database -> objects naming it

    def chunks(self, dump: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
        batch: list[bytes] = []
        size = 0
        for unit in read_units(dump):
            if not self.keeps(unit):
                continue
            batch.append(unit.data)
            size += len(unit.data)
            if size >= _WRITE_BYTES:
                yield b"".join(batch)
                batch, size = [], 0
        if batch:
            yield b"".join(batch)

    def keeps(self, unit: Unit) -> bool:
        """Whether ``unit`` is loaded (and, if so, note it); a parallel loader calls this per unit."""
        if unit.kind in (Kind.HEADER, Kind.FOOTER):
            return True
        if unit.database == "mysql" and unit.name in PRIVILEGE_TABLES and unit.kind is not Kind.DATABASE:
            return False
        if self.database is not None and unit.database != self.database:
            return False
        self.found |= self.database is not None
        if unit.kind is not Kind.ROWS:
            self.loaded.append((unit.kind, unit.name))
            self._note_references(unit)
        return True

    def _note_references(self, unit: Unit) -> None:
        """Other databases named as `db`.`object` in DDL, views, triggers and routines (not in row data)."""
        if self.database is None:
            return
        for quoted in set(_QUALIFIED.findall(unit.data)):
            other = quoted.replace(b"``", b"`").decode("utf-8", "surrogateescape")
            if other != self.database and other in self.known_databases:
                self.references.setdefault(other, set()).add(unit.name or unit.kind.value)
