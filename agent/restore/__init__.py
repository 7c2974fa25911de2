"""Loading a logical backup into a server: stream, check, select (``--database``), load over
parallel client sessions, check the target before and after. ``restore_configured`` is the
``restore`` command's flow; ``restore_backup`` the load itself (``restore --until`` and the drills use it)."""

from agent.restore.configured import restore_configured
from agent.restore.restoring import RestoreRequest, RestoreResult, restore_backup

__all__ = ["RestoreRequest", "RestoreResult", "restore_backup", "restore_configured"]
