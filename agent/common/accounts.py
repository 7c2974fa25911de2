"""Users and roles, dumped as SQL at backup time and restored whole, or not at all.

Why not the grant tables: the seed's dump leaves out ``mysql.global_priv`` (loading raw grant tables
breaks Galera and overwrites the target's users), and so must every other privilege table be left
out at restore (``agent.restore.selection``): they would grant to accounts that do not exist. Instead
the backup asks the server for each account's ``SHOW CREATE USER`` / ``CREATE ROLE`` and ``SHOW
GRANTS`` and stores them as ``accounts.sql`` next to the artifact (listed in the manifest with its
SHA1; the artifact's single tar member is unchanged). ``mariadb-dump --system=users`` was tried
first: it stops the whole dump on any account ``SHOW CREATE USER`` cannot find (e.g. ``root@<host>``
under ``--skip-name-resolve``), which would fail backups for a reason unrelated to the data.

The file is plain SQL a person can also run by hand: ``CREATE USER IF NOT EXISTS`` / ``CREATE ROLE IF
NOT EXISTS`` first, then the grants, then default roles. Restore modes (``--accounts``):

- ``restore`` (default): every account of the backup that the target lacks is created with its
  password hash, options and grants. Accounts the target already has are left exactly as they are
  (password and grants), so a restore can never lock out the account running it. Why the default: on
  a fresh server (the disaster case) views, routines and triggers whose DEFINER is a missing user
  fail with 1449 and the applications cannot log in.
- ``keep``: no account is created or changed; the restore reports the definers it leaves missing.

The file holds password hashes: when the backup is encrypted it is stored age-encrypted to the same
recipients (``accounts.sql.age``); otherwise it has the same access as the dump.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import ConfigError
from shared.encryption import AGE_SUFFIX
from shared.encryption.streams import decrypt_bytes
from shared.errors import VerifyFailedError
from shared.manifest import Manifest
from shared.mariadb_client import ClientError, run_client_query
from shared.storage import Storage

ACCOUNTS_NAME = "accounts.sql"
ACCOUNTS_ENV = "MARIADB_HA_RESTORE_ACCOUNTS"
MODES = ("restore", "keep")
_SYSTEM_ACCOUNTS = {("mariadb.sys", "localhost")}
_BLOCK = "-- account: "
_IDENTIFIED = re.compile(r" IDENTIFIED (?:BY PASSWORD '[^']*'|VIA .*?)(?= WITH |$)")
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "0": "\0", "\\": "\\"}


@dataclass(frozen=True)
class AccountsSettings:
    mode: str = "restore"


def load_accounts_settings(values: Mapping[str, str]) -> AccountsSettings:
    mode = values.get(ACCOUNTS_ENV, "restore")
    if mode not in MODES:
        raise ConfigError(f"{ACCOUNTS_ENV}/--accounts must be one of {', '.join(MODES)}, not {mode!r}")
    return AccountsSettings(mode=mode)


@dataclass(frozen=True)
class Account:
    user: str
    host: str
    is_role: bool

    @property
    def sql_name(self) -> str:
        return _quote(self.user) if self.is_role else f"{_quote(self.user)}@{_quote(self.host)}"


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _unescape(field: str) -> str:
    """Undo the client's --batch escaping (\\n, \\t, \\0, \\\\) of one output field."""
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), field)


def list_accounts(defaults_file: Path) -> list[Account]:
    rows = run_client_query(defaults_file, "SELECT is_role, user, host FROM mysql.user ORDER BY is_role DESC, 2, 3")
    accounts = [Account(_unescape(r[1]), _unescape(r[2]), r[0] == "Y") for r in rows]
    return [a for a in accounts if (a.user, a.host) not in _SYSTEM_ACCOUNTS]


def dump_accounts(defaults_file: Path) -> tuple[bytes, list[str], list[str]]:
    """``accounts.sql`` for every account and role of the server, the accounts' names, and the accounts
    the server would not describe (e.g. ``root@<hostname>`` under ``skip_name_resolve``: error 1133)."""
    creates, grants, names, skipped = [], [], [], []
    for account in list_accounts(defaults_file):
        try:
            created, granted = _account_statements(defaults_file, account)
        except ClientError as exc:
            skipped.append(_why_skipped(account, exc))
            continue
        names.append(account.sql_name)
        creates.append(f"{_BLOCK}{account.sql_name}\n{created};\n")
        grants.append(f"{_BLOCK}{account.sql_name}\n" + "".join(f"{g};\n" for g in granted))
    text = "-- accounts of the backed-up server (mariadb-ha-backup)\n" + "".join(creates) + "".join(grants)
    return text.encode(), names, skipped


def _why_skipped(account: Account, exc: Exception) -> str:
    """What is lost with an account the server will not describe, and why, in one line."""
    if "1133" in str(exc):
        # mariadb-install-db creates root@<hostname>; under skip_name_resolve (the usual setting) the
        # server cannot look such an account up, and no connection can ever match its host either.
        return (f"{account.sql_name}: its host is a name and the server runs with skip_name_resolve, so it cannot "
                "describe the account (SHOW CREATE USER: error 1133) and nobody can log in as it; its password "
                "hash and grants are not in accounts.sql and a restore will not create it")
    return f"{account.sql_name}: its password hash and grants are not in accounts.sql ({exc})"


def _account_statements(defaults_file: Path, account: Account) -> tuple[str, list[str]]:
    if account.is_role:
        created = f"CREATE ROLE IF NOT EXISTS {_quote(account.user)}"
    else:
        (row,) = run_client_query(defaults_file, f"SHOW CREATE USER {account.sql_name}")
        created = _unescape(row[-1]).replace("CREATE USER ", "CREATE USER IF NOT EXISTS ", 1)
    granted = [_unescape(r[0]) for r in run_client_query(defaults_file, f"SHOW GRANTS FOR {account.sql_name}")]
    # The password is already in CREATE USER; GRANT ... IDENTIFIED BY PASSWORD would reset an existing one.
    granted = [without_password(g) for g in granted]
    return created, granted


def without_password(grant: str) -> str:
    """A SHOW GRANTS line without its ``IDENTIFIED BY PASSWORD`` / ``VIA`` part."""
    return _IDENTIFIED.sub("", grant)


def accounts_keys(folder: str) -> tuple[str, ...]:
    """Every key an accounts file of this backup folder may have (plain, or age-encrypted)."""
    return (folder + ACCOUNTS_NAME, folder + ACCOUNTS_NAME + AGE_SUFFIX)


def account_blocks(sql: bytes) -> dict[str, list[str]]:
    """Account name -> its statements (creation first, then grants), in the file's order."""
    blocks: dict[str, list[str]] = {}
    current: list[str] = []
    for line in sql.decode("utf-8", "surrogateescape").splitlines():
        if line.startswith(_BLOCK):
            current = blocks.setdefault(line[len(_BLOCK) :], [])
        elif line.strip() and not line.startswith("--"):
            current.append(line)
    return blocks


def create_accounts(defaults_file: Path, sql: bytes) -> list[str]:
    """Create the backup's accounts the target lacks (before the dump loads: views and routines check
    their DEFINER when created). Accounts that exist are not touched. Returns the names created."""
    existing = {a.sql_name for a in list_accounts(defaults_file)}
    missing = {name: statements for name, statements in account_blocks(sql).items() if name not in existing}
    creates = [s for statements in missing.values() for s in statements if s.startswith("CREATE ")]
    if creates:
        run_client_query(defaults_file, "\n".join(creates))
    return list(missing)


def account_grants(sql: bytes, created: list[str]) -> list[str]:
    blocks = account_blocks(sql)
    return [s for name in created for s in blocks.get(name, []) if not s.startswith("CREATE ")]


def give_grants(defaults_file: Path, grants: list[str]) -> list[tuple[str, str]]:
    """Run each grant; returns the (grant, error) pairs that failed.

    Called twice around the dump's load: before it, so that definers hold their privileges when their
    views and routines are created; after it, again for the grants on tables and routines that did not
    exist yet. One client call when all succeed, one per statement otherwise.
    """
    if not grants:
        return []
    try:
        run_client_query(defaults_file, "\n".join(grants))
        return []
    except ClientError:
        pass
    failed = []
    for grant in grants:
        try:
            run_client_query(defaults_file, grant)
        except ClientError as exc:
            failed.append((grant, str(exc)))
    return failed


def accounts_file(
    storage: Storage, manifest: Manifest, *, mode: str, identities: Sequence[Any] = ()
) -> tuple[bytes | None, list[str]]:
    """The backup's ``accounts.sql`` if ``mode`` is restore (SHA1 checked, decrypted if need be), and notes."""
    if mode == "keep":
        return None, []
    if manifest.accounts is None:
        return None, ["this backup has no accounts.sql (taken before accounts were backed up): none restored"]
    with storage.open_read(manifest.accounts.key) as stream:
        stored = stream.read()
    if hashlib.sha1(stored, usedforsecurity=False).hexdigest() != manifest.accounts.sha1:
        raise VerifyFailedError(f"{manifest.accounts.key}: SHA1 differs from the manifest; accounts not restored")
    if not manifest.accounts.encrypted:
        return stored, []
    return decrypt_bytes(stored, identities, what=manifest.accounts.key), []


def missing_definers(defaults_file: Path, databases: list[str] | None = None) -> list[str]:
    """Views, routines, triggers and events whose DEFINER account does not exist (they fail with 1449)."""
    where = "" if databases is None else " AND schema_name IN (" + ",".join(_quote(d) for d in databases) + ")"
    sql = (
        "SELECT CONCAT(kind, ' ', schema_name, '.', object_name, ' (definer ', definer, ')') FROM ("  # noqa: S608  # names quoted
        "SELECT 'view' kind, table_schema schema_name, table_name object_name, definer FROM information_schema.views "
        "UNION ALL SELECT 'routine', routine_schema, routine_name, definer FROM information_schema.routines "
        "UNION ALL SELECT 'trigger', trigger_schema, trigger_name, definer FROM information_schema.triggers "
        "UNION ALL SELECT 'event', event_schema, event_name, definer FROM information_schema.events) o "
        "WHERE schema_name NOT IN ('mysql','sys','information_schema','performance_schema')"
        f"{where} AND definer NOT IN (SELECT CONCAT(user, '@', host) FROM mysql.user) "
        "AND definer NOT IN (SELECT user FROM mysql.user WHERE is_role = 'Y') ORDER BY 1"
    )
    return [_unescape(r[0]) for r in run_client_query(defaults_file, sql)]
