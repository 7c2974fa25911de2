"""Loading a logical backup into a server: stream, check, select (``--database``), load over
parallel client sessions, check the target before and after."""

from agent.restore.physical import DatadirRestoreResult, check_datadir_target, check_owner, restore_datadir
from agent.restore.restoring import RestoreRequest, RestoreResult, restore_backup

__all__ = ["DatadirRestoreResult", "RestoreRequest", "RestoreResult", "check_datadir_target", "check_owner",
           "restore_backup", "restore_datadir"]
