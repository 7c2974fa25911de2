"""Session settings a dump switches on around one table's rows, moved to the sessions that load them.

mariadb-dump wraps a table's INSERTs in session-level statements (client/mysqldump.c, ``dump_table``):

- ``/*M!101100 SET @old_system_versioning_insert_history=@@session.system_versioning_insert_history,
  @@session.system_versioning_insert_history=1 */;`` before, and ``SET
  system_versioning_insert_history=@old_system_versioning_insert_history`` after (``--dump-history``:
  without it the server rejects or rewrites the rows' ROW_START/ROW_END);
- ``SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT, @@AUTOCOMMIT=0;`` before (older clients: ``set autocommit=0;``),
  ``COMMIT;`` and ``SET AUTOCOMMIT=@OLD_AUTOCOMMIT;`` after (``--no-autocommit``).

The rest of a table's data prologue and epilogue (``ALTER TABLE … DISABLE/ENABLE KEYS``, ``LOCK`` /
``UNLOCK TABLES``) is about the table, not the session. A serial client runs all of it in its one
session; a parallel restore spreads the rows over several, so each session that loads a batch must
first run the "before" statements and, once the table's rows are done, the "after" ones. Each of these
statements is one line in the dump (mariadb-dump prints them with one ``fprintf`` each).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A statement that changes only the session: SET (plain or in a /*!NNNNN */ or /*M!NNNNNN */ comment)
# or the COMMIT that ends --no-autocommit's transaction.
_SESSION_STATEMENT = re.compile(rb"^(?:/\*[!M]!?\d*\s*)?(?:SET\s|COMMIT\s*;)", re.IGNORECASE)
_AUTOCOMMIT_OFF = re.compile(rb"AUTOCOMMIT\s*=\s*0", re.IGNORECASE)


@dataclass(frozen=True)
class SplitData:
    session: bytes  # the session statements, in dump order
    table: bytes  # everything else (comments, DISABLE/ENABLE KEYS), in dump order


def split_session_statements(data: bytes) -> SplitData:
    """Separate a data prologue's or epilogue's session statements from the rest, keeping each's order."""
    session: list[bytes] = []
    table: list[bytes] = []
    for line in data.splitlines(keepends=True):
        (session if _SESSION_STATEMENT.match(line) else table).append(line)
    return SplitData(b"".join(session), b"".join(table))


def turns_autocommit_off(prologue: bytes) -> bool:
    """A batch loaded under this prologue must be committed by itself: one session's open transaction
    would otherwise hold the table's bulk-insert lock until the table's end, and the other sessions'
    batches of the same table would wait on it (and time out on a big table)."""
    return bool(_AUTOCOMMIT_OFF.search(prologue))
