"""The agent's small shared pieces: the bucket and its catalog of backups, credentials, accounts,
the dump-file parser, the private run directory, signals and progress, and the drill records
(``drill.json``) the drill writes and ``list``/``status`` read. Every capability package
may use them; they use none of the capability packages."""

from agent.common.accounts import load_accounts_settings
from agent.common.bucket import Bucket, open_bucket
from agent.common.catalog import BackupEntry, scan_backups, select_backup
from agent.common.chains import BrokenChainError, chain_of, complete_by_id
from agent.common.credentials import resolve_password
from agent.common.decryption import configured_identities, identities_for
from agent.common.drill_record import latest_drills
from agent.common.progress import byte_progress
from agent.common.run_dir import private_run_dir
from agent.common.signals import signals_raise_terminated, signals_set

__all__ = ["BackupEntry", "BrokenChainError", "Bucket", "byte_progress", "chain_of", "complete_by_id",
           "configured_identities", "identities_for", "latest_drills", "load_accounts_settings", "open_bucket",
           "private_run_dir", "resolve_password", "scan_backups", "select_backup", "signals_raise_terminated",
           "signals_set"]
