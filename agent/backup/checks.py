"""What the backup knows will not come back exactly as it was: said at backup time, in the output and
the manifest's ``warnings``, instead of discovered after a restore.

- **FLOAT columns**: mariadb-dump writes FLOAT values as the server prints them, with 6 significant
  digits (16777216 → ``16777200``, 1.2345677614212036 → ``1.23457``); it has no option to print
  more (``--hex-blob`` covers binary strings only), so the restored values and ``CHECKSUM TABLE``
  differ. DOUBLE and DECIMAL round-trip exactly. The columns are named so they can be changed to
  DOUBLE, or accepted.
- **Rows violating a CHECK constraint** (added with ``check_constraint_checks=0``): a plain load fails
  with 4025. The restore loads them as they are (it runs with ``check_constraint_checks=0``); the
  warning names table, constraint and count. Cost: one ``SELECT COUNT(*)`` scan per constraint.
- **History** of system-versioned tables when this mariadb-dump cannot dump it (``--dump-history``).
- **Sequences**: the dump keeps each sequence's definition and next value (``SETVAL``) but not its
  cycle count, and values the source had cached but not handed out are skipped after a restore.
- **Large rows**: a source ``max_allowed_packet`` above the client default (16 MiB) is recorded; the
  restore raises the target's limit to it for its duration.
"""

from __future__ import annotations

from pathlib import Path

from shared.dump import dump_supports_history
from shared.mariadb_client import ClientError, run_client_query

_USER_SCHEMAS = "NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')"
_CLIENT_PACKET_DEFAULT = 16 << 20
# A table locked by an application must not hold the backup up for long: its check is skipped (and said).
_LOCK_WAIT_S = 10


def _listing(names: list[str], limit: int = 20) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _tables_of_type(table_type: str) -> str:
    return ("SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables "  # noqa: S608  # constants only
            f"WHERE table_type = '{table_type}' AND table_schema {_USER_SCHEMAS} ORDER BY 1")


# Warnings that name objects: what the warning says, then the query listing the objects (first column).
_FLOAT_COLUMNS = (
    "FLOAT columns lose precision in the dump (6 significant digits; no mariadb-dump option prints more): ",
    "SELECT CONCAT(table_schema, '.', table_name, '.', column_name) FROM information_schema.columns "  # noqa: S608  # constant schema names only
    f"WHERE data_type = 'float' AND table_schema {_USER_SCHEMAS} ORDER BY 1",
)
_HISTORY_TABLES = ("this mariadb-dump cannot dump history (--dump-history): only current rows of ",
                   _tables_of_type("SYSTEM VERSIONED"))
_SEQUENCES = ("sequences come back with their definition and next value but not their cycle count, and values "
              "cached on the source are skipped: ", _tables_of_type("SEQUENCE"))


def _named_warning(defaults_file: Path, warning: tuple[str, str]) -> list[str]:
    """One warning naming what the query lists, or none when it lists nothing."""
    prefix, sql = warning
    names = [row[0] for row in run_client_query(defaults_file, sql)]
    return [prefix + _listing(names)] if names else []


def check_violations(defaults_file: Path) -> list[str]:
    rows = run_client_query(
        defaults_file,
        "SELECT constraint_schema, table_name, constraint_name, check_clause FROM information_schema.check_constraints "  # noqa: S608  # constant schema names only
        f"WHERE constraint_schema {_USER_SCHEMAS} ORDER BY 1, 2, 3",
    )
    warnings = []
    for schema, table, name, clause in rows:
        qualified = f"`{schema.replace('`', '``')}`.`{table.replace('`', '``')}`"
        try:
            # The server's own CHECK expression on a quoted name: nothing from outside the server.
            ((count,),) = run_client_query(
                defaults_file,
                f"SET STATEMENT lock_wait_timeout = {_LOCK_WAIT_S} FOR "  # noqa: S608
                f"SELECT COUNT(*) FROM {qualified} WHERE NOT ({clause})",
            )
        except ClientError as exc:
            warnings.append(f"{schema}.{table}: CHECK {name} could not be checked for violating rows ({exc})")
            continue
        if int(count):
            warnings.append(
                f"{schema}.{table}: {count} row(s) violate CHECK {name}; a plain load fails with error 4025, "
                "restore loads them as they are (check_constraint_checks=0)"
            )
    return warnings


def packet_note(max_allowed_packet: int | None) -> list[str]:
    if max_allowed_packet is None or max_allowed_packet <= _CLIENT_PACKET_DEFAULT:
        return []
    return [
        f"rows may be up to {max_allowed_packet} bytes (the source's max_allowed_packet): restore raises the "
        "target's limit to that for its duration"
    ]


def backup_warnings(defaults_file: Path, *, max_allowed_packet: int | None) -> list[str]:
    return [
        *_named_warning(defaults_file, _FLOAT_COLUMNS),
        *check_violations(defaults_file),
        *([] if dump_supports_history() else _named_warning(defaults_file, _HISTORY_TABLES)),
        *_named_warning(defaults_file, _SEQUENCES),
        *packet_note(max_allowed_packet),
    ]
