"""What is in the bucket, for a person or a script: ``status`` (how fresh the newest complete backup is,
how far the archive can restore, when a restore drill last passed) and ``list`` (every backup, its
newest drill, and the restorable ranges). The window is ``agent.pitr``'s, the one ``restore --until``
plans in."""

from agent.status.checking import StatusCheck, check_status
from agent.status.drill_freshness import drill_cell
from agent.status.listing import Listing, list_backups

__all__ = ["Listing", "StatusCheck", "check_status", "drill_cell", "list_backups"]
