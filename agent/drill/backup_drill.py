"""``verify --restore-test``: prove a backup restores, by restoring it.

A SHA1 proves the bytes are the ones written; it cannot prove the dump loads, nor that what loads is
what was backed up. The drill starts a private, throwaway ``mariadbd`` (``agent.drill.throwaway_server``:
loopback only, own temp dir, removed afterwards), restores the backup into it with the same code as
``restore`` (accounts included, so definers exist), then checks, against the manifest:

- every database, table (plain, system-versioned), sequence, view, routine, trigger and event, by name;
- rows per table against the counts taken from the dump stream at backup time (``Evidence``), with
  every row version (``FOR SYSTEM_TIME ALL``) for system-versioned tables when history was dumped;
- every view runs (``SELECT ... LIMIT 0``) and every view, routine, trigger and event has its definer.

Cost: one ``COUNT(*)`` per table on the throwaway server (a scan of each restored table), nothing on
the source. What it does not check is listed in ``DrillReport.not_checked`` and printed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent.common.accounts import account_grants, accounts_file, create_accounts, give_grants, missing_definers
from agent.common.kept_grants import missing_object_grants, settle_role_admins
from agent.drill.servers import drill_server
from agent.restore.restoring import load_dump
from shared.errors import BackupFailedError
from shared.manifest import Inventory, Manifest
from shared.mariadb_client import ClientError, run_client_query
from shared.server_info import read_inventory
from shared.storage import Storage

log = logging.getLogger("mariadb_ha_backup.drill")

KINDS = ("databases", "tables", "views", "routines", "triggers", "events", "sequences")
NOT_CHECKED = (
    "column values (rows are counted, not checksummed: a CHECKSUM TABLE at backup time would read every "
    "table a second time)",
    "sequence next values and cycle counts",
    "what routines, triggers and events do (only that they exist and their definer exists)",
    "grants of accounts that already existed on the drill server (root)",
)


class DrillFailedError(BackupFailedError):
    """The restored server does not hold what the manifest says the backup holds. Carries what the
    restore itself measured (it finished; the checks after it failed), for the drill's record."""

    def __init__(self, message: str, *, restore_seconds: float | None = None, loaded_bytes: int | None = None) -> None:
        super().__init__(message)
        self.restore_seconds = restore_seconds
        self.loaded_bytes = loaded_bytes


@dataclass(frozen=True)
class DrillReport:
    backup_id: str
    checked: dict[str, int]  # kind -> number of objects found as listed in the manifest
    loaded_bytes: int
    seconds: float
    not_checked: list[str] = field(default_factory=list)
    # The restore alone (accounts + dump load), without starting a server or running the checks: the
    # recovery time an operator would face, and what bytes per second are measured against.
    restore_seconds: float = 0.0


def run_drill(storage: Storage, manifest: Manifest, *, run_dir: Path, identities: Sequence[Any] = ()) -> DrillReport:
    """Start a throwaway ``mariadbd`` here and drill ``manifest``'s backup into it."""
    clock = time.monotonic()
    log.info("restore drill of %s: starting a throwaway server", manifest.id,
             extra={"event": "drill-start", "backup_id": manifest.id})
    with drill_server(None, run_dir=run_dir) as server:
        report = drill_into(storage, manifest, defaults_file=server.defaults_file, run_dir=run_dir,
                            identities=identities)
    return replace(report, seconds=round(time.monotonic() - clock, 2))


def drill_into(storage: Storage, manifest: Manifest, *, defaults_file: Path, run_dir: Path,
               identities: Sequence[Any] = ()) -> DrillReport:
    """Restore ``manifest``'s backup into the empty server ``defaults_file`` reaches, then check it;
    ``DrillFailedError`` names every difference. The caller owns the server (a local throwaway one, or
    the drill Job's second container)."""
    clock = time.monotonic()
    defaults = defaults_file
    accounts_sql, account_notes = accounts_file(storage, manifest, mode="restore", identities=identities)
    created = create_accounts(defaults, accounts_sql) if accounts_sql else []
    early = give_grants(defaults, account_grants(accounts_sql, created)) if accounts_sql else []
    early += settle_role_admins(defaults, accounts_sql, created=created) if accounts_sql else []
    read = load_dump(storage, manifest, defaults_file=defaults, database=None, run_dir=run_dir,
                     identities=identities)
    late = give_grants(defaults, [g for g, _ in early])
    account_notes += [f"grant not given: {g} ({e})" for g, e in late]
    restore_seconds = round(time.monotonic() - clock, 2)
    restored = read_inventory(defaults)
    differences = compare_inventories(expected=manifest.inventory, found=restored)
    differences += compare_rows(defaults, manifest, restored_tables=restored.tables)
    differences += [f"cannot run: {problem}" for problem in broken_views(defaults, restored.views)]
    differences += [f"definer missing: {m}" for m in missing_definers(defaults, list(restored.databases))]
    if accounts_sql:  # a restore that loses grants (routines' grants go with the dropped routine) fails
        differences += [f"grant missing after restore: {g}"
                        for g in missing_object_grants(defaults, accounts_sql, databases=None,
                                                       not_given=[g for g, _ in late])]
    if differences:
        raise DrillFailedError(f"restore drill of {manifest.id} failed: " + "; ".join(differences),
                               restore_seconds=restore_seconds, loaded_bytes=read.raw_bytes)
    checked = {k: len(getattr(manifest.inventory, k)) for k in KINDS}
    if manifest.evidence is not None:
        checked["row counts"] = len(manifest.evidence.rows)
    return DrillReport(backup_id=manifest.id, checked=checked, loaded_bytes=read.raw_bytes,
                       seconds=round(time.monotonic() - clock, 2), restore_seconds=restore_seconds,
                       not_checked=[*NOT_CHECKED, *_unrecorded(manifest), *account_notes])


def _unrecorded(manifest: Manifest) -> list[str]:
    if manifest.evidence is None:
        return ["row counts (this backup recorded none)"]
    if not manifest.evidence.history_dumped:
        return ["history rows of system-versioned tables (this backup did not dump history)"]
    return []


def compare_inventories(*, expected: Inventory, found: Inventory) -> list[str]:
    """Each kind's missing and unexpected names, e.g. ``tables missing after restore: shop.orders``."""
    differences = []
    for kind in KINDS:
        want, got = set(getattr(expected, kind)), set(getattr(found, kind))
        if missing := sorted(want - got):
            differences.append(f"{kind} missing after restore: {', '.join(missing)}")
        if extra := sorted(got - want):
            differences.append(f"{kind} not in the manifest: {', '.join(extra)}")
    return differences


def _quoted(qualified: str) -> str:
    schema, _, table = qualified.partition(".")
    return f"`{schema.replace('`', '``')}`.`{table.replace('`', '``')}`"


def restored_rows(defaults_file: Path, tables: list[str], *, versioned: set[str]) -> dict[str, int]:
    """Rows per table; every row version of system-versioned tables."""
    if not tables:
        return {}
    selects = [
        f"SELECT {i}, COUNT(*) FROM {_quoted(t)}{' FOR SYSTEM_TIME ALL' if t in versioned else ''}"  # noqa: S608
        for i, t in enumerate(tables)
    ]
    rows = run_client_query(defaults_file, " UNION ALL ".join(selects), timeout=3600)
    return {tables[int(i)]: int(n) for i, n in rows}


def compare_rows(defaults_file: Path, manifest: Manifest, *, restored_tables: list[str]) -> list[str]:
    """Tables whose restored row count differs from the count in the backup (missing tables are
    reported by the inventory comparison)."""
    if manifest.evidence is None:
        return []
    expected = manifest.evidence.rows
    versioned = set() if not manifest.evidence.history_dumped else _versioned_tables(defaults_file)
    present = [t for t in expected if t in set(restored_tables)]
    found = restored_rows(defaults_file, present, versioned=versioned)
    return [
        f"{table}: {found.get(table)} rows after restore, the backup holds {count}"
        for table, count in expected.items()
        if table in found and found[table] != count
    ]


def _versioned_tables(defaults_file: Path) -> set[str]:
    rows = run_client_query(
        defaults_file,
        "SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables "
        "WHERE table_type = 'SYSTEM VERSIONED'",
    )
    return {r[0] for r in rows}


def broken_views(defaults_file: Path, views: list[str]) -> list[str]:
    """Views whose SELECT fails (a missing definer, table or function); one query each."""
    problems = []
    for view in views:
        try:
            run_client_query(defaults_file, f"SELECT * FROM {_quoted(view)} LIMIT 0")  # noqa: S608
        except ClientError as exc:
            problems.append(f"view {view} ({exc})")
    return problems
