"""What a restore does to the target around loading the dump: packet limit, undo, accounts, leftovers.

- **Packet limit.** A row may be as large as the *source's* ``max_allowed_packet`` (mariadb-dump fails
  otherwise), and a target with a smaller limit refuses it with 1153 part-way through. The limit is a
  server setting the session cannot raise, so the restore raises the global value for its duration
  (new connections read it) and puts the old value back afterwards; without the privilege it stops
  before loading anything and says which value to set.
- **Undo for ``--database``.** A one-database restore into a target that did not have the database
  drops it again if the load fails: nothing half-made (tables, placeholder views that return wrong
  rows) is left. If the database existed (``--yes``), nothing can undo the overwrite: the error says so.
- **Cross-database references.** Objects naming another database (a view or foreign key into it)
  are reported by name; if the load failed they are the likely cause.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from agent.restore.selection import Selection
from shared.mariadb_client import ClientError, run_client_query

log = logging.getLogger("mariadb_ha_backup.restore")


class PacketLimitError(ClientError):
    """The target's max_allowed_packet is below the source's and the restore may not raise it."""


def _quote_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@contextlib.contextmanager
def packet_limit(defaults_file: Path, *, needed: int | None) -> Iterator[None]:
    """Run the block with the target's global max_allowed_packet at least ``needed`` bytes."""
    ((current,),) = run_client_query(defaults_file, "SELECT @@global.max_allowed_packet")
    if needed is None or int(current) >= needed:
        yield
        return
    try:
        run_client_query(defaults_file, f"SET GLOBAL max_allowed_packet = {int(needed)}")
    except ClientError as exc:
        raise PacketLimitError(
            f"the target's max_allowed_packet is {current} bytes, the source's was {needed}: rows that large "
            f"would fail with error 1153; set it (SET GLOBAL max_allowed_packet = {needed}) and retry ({exc})"
        ) from None
    log.info("raised the target's max_allowed_packet from %s to %s for the restore", current, needed)
    try:
        yield
    finally:
        with contextlib.suppress(ClientError):
            run_client_query(defaults_file, f"SET GLOBAL max_allowed_packet = {int(current)}")


def undo_failed_database(defaults_file: Path, *, database: str | None, existed: bool) -> str:
    """After a failed load: drop ``database`` if this restore created it. Returns what is left, in words."""
    if database is None:
        return "the target may be partially restored"
    if existed:
        return f"database {database} existed before and is now partially restored"
    try:
        run_client_query(defaults_file, f"DROP DATABASE IF EXISTS {_quote_name(database)}")
    except ClientError as exc:
        return f"database {database} is partially restored and could not be dropped again ({exc})"
    return f"database {database} was not on the target before: it was dropped again, nothing is left"


def reference_notes(selection: Selection) -> list[str]:
    """One line per other database that objects of the restored database name."""
    return [
        f"objects of {selection.database} refer to database {other}: {', '.join(sorted(objects))}"
        for other, objects in sorted(selection.references.items())
    ]
