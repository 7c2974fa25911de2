"""Grants a load takes away, given back; grants of the backup a restore could not give, named.

Why: the dump drops and recreates every routine, and with ``automatic_sp_privileges`` (the default)
the server deletes the routine's grants from ``mysql.procs_priv`` as it drops it. Accounts the target
already has are left alone by design (agent/common/accounts.py), so on a re-restore (``--yes`` into a
server that has the backup's accounts: refreshing staging, re-running a failed restore) their routine
grants were silently gone. So the grants of every existing account are read before the load and the
ones the load removed are given back after it; and every object-level grant the backup holds that
is still missing afterwards is reported (the drill fails on it).

Roles: ``CREATE ROLE`` makes the account running it the role's admin (``WITH ADMIN OPTION``), which
would move a role's admin from the source's account (``root@localhost``) to the restoring one
(``root@127.0.0.1``). For each role the restore creates, the backup's ``GRANT role TO x WITH ADMIN
OPTION`` lines are given, and the restoring account's own membership is revoked when it was not one of
the source's admins.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from agent.common.accounts import account_blocks, give_grants, list_accounts, without_password
from shared.mariadb_client import ClientError, run_client_query

_ADMIN_GRANT = re.compile(r"^GRANT (`(?:[^`]|``)+`) TO (.+) WITH ADMIN OPTION$")
# An object-level grant (a database, table, column, routine): not global (*.*), not a role, not a proxy.
_OBJECT_GRANT = re.compile(r"^GRANT .+ ON (?!\*\.\*)(?:PROCEDURE |FUNCTION |PACKAGE (?:BODY )?)?`")


def grants_of_existing(defaults_file: Path) -> dict[str, set[str]]:
    """Every existing account's grants (SHOW GRANTS, passwords stripped), by account."""
    return {a.sql_name: _grants(defaults_file, a.sql_name) for a in list_accounts(defaults_file)}


def _grants(defaults_file: Path, account: str) -> set[str]:
    try:
        rows = run_client_query(defaults_file, f"SHOW GRANTS FOR {account}")
    except ClientError:
        return set()  # an account the server cannot describe (1133 under skip_name_resolve): nothing to keep
    return {without_password(r[0]) for r in rows}


def give_back_lost(defaults_file: Path, before: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Give back the grants the load removed from accounts that existed before it; (grant, error) failures."""
    lost = [f"{g};" for account, grants in before.items() for g in sorted(grants - _grants(defaults_file, account))]
    return give_grants(defaults_file, lost)


def missing_object_grants(defaults_file: Path, sql: bytes, *, databases: list[str] | None,
                          not_given: Collection[str] = ()) -> list[str]:
    """The backup's object-level grants (on ``databases``, or all) that the server does not hold now,
    leaving out ``not_given`` (grants the restore tried and reported: e.g. on a table that no longer exists)."""
    missing = []
    skip = {g.removesuffix(";") for g in not_given}
    for account, statements in account_blocks(sql).items():
        wanted = [s.removesuffix(";") for s in statements if _OBJECT_GRANT.match(s) and _on(s, databases)]
        if wanted:
            have = _grants(defaults_file, account)
            missing += [f"{grant} (account {account})" for grant in wanted if grant not in have and grant not in skip]
    return missing


def _on(grant: str, databases: list[str] | None) -> bool:
    if databases is None:
        return True
    return any(f" `{d.replace('`', '``')}`." in grant for d in databases)


def settle_role_admins(defaults_file: Path, sql: bytes, *, created: list[str]) -> list[tuple[str, str]]:
    """The source's role admins for each role this restore created, and not the restoring account."""
    created_roles = {name.strip("'") for name in created if "@" not in name}
    admins: dict[str, list[str]] = {}
    for statements in account_blocks(sql).values():
        for statement in statements:
            found = _ADMIN_GRANT.match(statement.removesuffix(";"))
            role = found.group(1)[1:-1].replace("``", "`") if found else None
            if found and role in created_roles:
                admins.setdefault(found.group(1), []).append(found.group(2))
    if not admins:
        return []
    ((me,),) = run_client_query(defaults_file, "SELECT CONCAT(QUOTE(SUBSTRING_INDEX(CURRENT_USER(), '@', 1)), '@', "
                                               "QUOTE(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)))")
    grants = [f"GRANT {role} TO {grantee} WITH ADMIN OPTION;"
              for role, grantees in admins.items() for grantee in grantees]
    failed = give_grants(defaults_file, grants)
    mine = {_plain(me)}
    revokes = [f"REVOKE {role} FROM {me};" for role, grantees in admins.items()
               if not mine & {_plain(g) for g in grantees}]
    return failed + give_grants(defaults_file, revokes)


def _plain(account: str) -> str:
    """``'root'@'localhost'`` and ```root`@`localhost``` compare equal."""
    return account.replace("`", "").replace("'", "")
