"""Loading a logical backup into a server: stream, check, select (``--database``), load over
parallel client sessions, check the target before and after."""

from agent.restore.restoring import RestoreRequest, RestoreResult, restore_backup

__all__ = ["RestoreRequest", "RestoreResult", "restore_backup"]
