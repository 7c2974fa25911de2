"""What is in the bucket, for a person or a script: ``status`` (how fresh the newest complete backup is,
how far the archive can restore) and ``list`` (every backup and the restorable ranges). The window
is ``agent.pitr``'s, the one ``restore --until`` plans in."""

from agent.status.checking import StatusCheck, check_status
from agent.status.listing import Listing, list_backups

__all__ = ["Listing", "StatusCheck", "check_status", "list_backups"]
