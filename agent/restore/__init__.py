"""Loading a logical backup into a server: stream, check, select (``--database``), load over
parallel client sessions, check the target before and after. ``restore_configured`` is the
``restore`` command's flow; ``restore_backup`` the load itself (``restore --until`` and the drills use it).
A physical backup is made into a data directory instead: ``restore_datadir_configured`` (``--datadir``'s
flow) and ``restore_datadir`` (unpack and prepare a chain; the physical drill uses it)."""

from agent.restore.configured import restore_configured, restore_summary
from agent.restore.datadir import datadir_summary, restore_datadir_configured
from agent.restore.physical import DatadirRestoreResult, check_datadir_target, check_owner, restore_datadir
from agent.restore.restoring import RestoreRequest, RestoreResult, restore_backup

__all__ = ["DatadirRestoreResult", "RestoreRequest", "RestoreResult", "check_datadir_target", "check_owner",
           "datadir_summary", "restore_backup", "restore_configured", "restore_datadir", "restore_datadir_configured",
           "restore_summary"]
