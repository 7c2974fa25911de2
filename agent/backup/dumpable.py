"""Schema features mariadb-dump refuses, found before the dump so that one of them never fails the backup.

mariadb-dump stops the whole dump (exit 2, no backup at all, every night) on some objects it meets
mid-way. Each is looked for first and the dump is adjusted, so the one consistent snapshot still
holds everything that can be dumped, and a warning (output and manifest) says what was lost:

- **Transaction-precise history** (``ROW START``/``ROW END`` columns of type ``BIGINT UNSIGNED``, which
  hold transaction ids, not times): with ``--dump-history`` mariadb-dump refuses the table ("Cannot use
  --dump-history for table … with transaction-precise history"; mysqldump.c, ``dump_table``). The flag
  applies to the whole dump and one dump is one snapshot, so the backup runs without it: every table's
  current rows are dumped, no table's history (two dumps would be two snapshots, inconsistent).
- **Invalid views** (their table, column, function or definer is gone): ``SHOW FIELDS`` fails with
  1356 and the dump stops ("Couldn't execute 'SHOW FIELDS FROM …'"). They are left out of the dump
  (``--ignore-table``) and out of the manifest's inventory; the warning names them.
- **Tables the server cannot open** (their engine is not loaded: ``Unknown storage engine``, 1286, or
  no engine at all): ``SHOW CREATE TABLE`` fails and the dump stops. Left out the same way; the
  warning names each with the server's reason.

Both checks read ``information_schema.columns`` once (it opens every table's definition; the backup's
FLOAT check does the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from shared.dump import HISTORY_FLAG
from shared.manifest import Inventory
from shared.mariadb_client import run_client_query

_USER_SCHEMAS = "NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')"


@dataclass(frozen=True)
class DumpPlan:
    """How this server's dump differs from the default one, and why."""

    without_flags: tuple[str, ...] = ()
    extra_flags: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()  # objects (``db.name``) not in the dump at all
    warnings: list[str] = field(default_factory=list)

    def apply(self, argv: Sequence[str]) -> list[str]:
        return [a for a in argv if a not in self.without_flags] + list(self.extra_flags)

    def dumps_history(self, argv: Sequence[str]) -> bool:
        return HISTORY_FLAG in self.apply(argv)

    def inventory(self, inventory: Inventory) -> Inventory:
        """What the dump holds: the server's inventory without what was left out."""
        return replace(inventory, views=[v for v in inventory.views if v not in self.left_out],
                       tables=[t for t in inventory.tables if t not in self.left_out])


NO_CHANGES = DumpPlan()


def plan_dump(defaults_file: Path) -> DumpPlan:
    precise = _names(
        defaults_file,
        "SELECT DISTINCT CONCAT(table_schema, '.', table_name) FROM information_schema.columns "  # noqa: S608  # constant schema names only
        f"WHERE generation_expression = 'ROW START' AND data_type = 'bigint' AND table_schema {_USER_SCHEMAS} "
        "ORDER BY 1")
    invalid = _invalid_views(defaults_file)
    unopenable = _unopenable_tables(defaults_file)
    warnings = []
    if precise:
        warnings.append(
            "history of system-versioned tables is not in this backup, only their current rows: mariadb-dump "
            f"cannot dump transaction-precise history ({', '.join(precise)}) and --dump-history applies to the whole "
            "dump, which is one snapshot")
    if invalid:
        warnings.append(f"invalid views left out of the backup (mariadb-dump stops on them with error 1356): "
                        f"{', '.join(name for name, _ in invalid)}")
    if unopenable:
        warnings.append("tables the server cannot open left out of the backup (mariadb-dump stops on them): "
                        + ", ".join(f"{name} ({why})" for name, why in unopenable))
    left_out = [name for name, _ in (*invalid, *unopenable)]
    return DumpPlan(without_flags=(HISTORY_FLAG,) if precise else (),
                    extra_flags=tuple(f"--ignore-table={name}" for name in left_out),
                    left_out=tuple(left_out), warnings=warnings)


def _names(defaults_file: Path, sql: str) -> list[str]:
    return [row[0] for row in run_client_query(defaults_file, sql)]


def _invalid_views(defaults_file: Path) -> list[tuple[str, str]]:
    """A valid view has at least one column; the server lists none for a view it cannot open."""
    rows = run_client_query(
        defaults_file,
        "SELECT CONCAT(v.table_schema, '.', v.table_name), v.table_schema FROM information_schema.views v "  # noqa: S608  # constant schema names only
        "LEFT JOIN information_schema.columns c ON c.table_schema = v.table_schema AND c.table_name = v.table_name "
        f"WHERE v.table_schema {_USER_SCHEMAS} GROUP BY v.table_schema, v.table_name HAVING COUNT(c.column_name) = 0 "
        "ORDER BY 1",
    )
    return [(row[0], row[1]) for row in rows]


def _unopenable_tables(defaults_file: Path) -> list[tuple[str, str]]:
    """Base tables whose engine the server lacks: information_schema gives the open error as the comment."""
    rows = run_client_query(
        defaults_file,
        "SELECT CONCAT(table_schema, '.', table_name), IFNULL(NULLIF(table_comment, ''), 'no engine') "  # noqa: S608  # constant schema names only
        "FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND "
        f"(engine IS NULL OR table_comment LIKE 'Unknown storage engine%') AND table_schema {_USER_SCHEMAS} ORDER BY 1",
    )
    return [(row[0], row[1]) for row in rows]
