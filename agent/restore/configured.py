"""``restore [ID | --latest | --at TIME]`` from the run's configuration: which backup, the target's
credentials, the decryption identity, the private run directory; then ``restore_backup``.

Everything that can refuse without touching the target (an unknown backup, a missing identity) is
decided before the run directory is made; ``restore_backup`` refuses the rest before its first write.
"""

from __future__ import annotations

from datetime import datetime

from agent.common.accounts import load_accounts_settings
from agent.common.bucket import open_bucket
from agent.common.catalog import scan_backups, select_backup
from agent.common.credentials import resolve_password
from agent.common.decryption import identities_for
from agent.common.progress import byte_progress
from agent.common.run_dir import private_run_dir
from agent.common.signals import signals_raise_terminated
from agent.restore.restoring import RestoreRequest, RestoreResult, restore_backup
from shared.config import ConfigValues, load_destination, load_restore_confirmed, load_retry, load_source, load_tmp_dir
from shared.encryption import load_decryption_settings
from shared.errors import BadInputError
from shared.logs import register_secret
from shared.manifest import PHYSICAL
from shared.mariadb_client import write_defaults_file


def restore_configured(config: ConfigValues, *, backup_id: str | None, latest: bool, at: datetime | None,
                       database: str | None, verify_first: bool, confirmed: bool,
                       sessions: int | None) -> RestoreResult:
    """Restore the backup chosen by ``backup_id``, ``latest`` or ``at`` into the configured target."""
    accounts = load_accounts_settings(config)
    source = load_source(config)
    decryption = load_decryption_settings(config)
    password = resolve_password(source)
    register_secret(password)
    bucket = open_bucket(load_destination(config), load_retry(config))
    entry = select_backup(scan_backups(bucket.storage, prefix=bucket.prefix), backup_id=backup_id, latest=latest,
                          at=at)
    assert entry.manifest is not None  # select_backup returns complete backups only
    if entry.manifest.method == PHYSICAL:
        raise BadInputError(f"backup {entry.backup_id} is a physical backup: restore it with --datadir DIR "
                            "(then start mariadbd on DIR), not into a running server")
    identities = identities_for(entry.manifest, decryption)  # exit 2 here, before any download, if missing
    request = RestoreRequest(database=database, verify_first=verify_first,
                             confirmed=confirmed or load_restore_confirmed(config), accounts=accounts.mode,
                             **({"sessions": sessions} if sessions else {}))
    with signals_raise_terminated(), private_run_dir(load_tmp_dir(config)) as run_dir, \
            byte_progress("restore") as progress:
        defaults = write_defaults_file(run_dir, host=source.host, port=source.port, user=source.user,
                                       password=password)
        return restore_backup(bucket.storage, entry.manifest, defaults_file=defaults, request=request,
                              run_dir=run_dir, progress=progress, identities=identities)


def restore_summary(r: RestoreResult, *, target: str) -> str:
    what = f"database {r.database}" if r.database else "all databases"
    verified = "verified first, " if r.verified_first else ""
    lines = [
        f"restored {what} from backup {r.backup_id} into {target}",
        f"  {verified}SHA1 {r.sha1} checked on the {r.stored_bytes:,} bytes downloaded; "
        f"{r.loaded_bytes:,} bytes of dump read",
    ]
    if r.accounts_created:
        lines.append(f"  accounts created: {', '.join(r.accounts_created)}")
    return "\n".join(lines + [f"  note: {note}" for note in r.notes])
