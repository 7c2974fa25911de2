"""``status``: how fresh the newest complete backup is, and how far the archive can restore (the window
is ``agent.pitr``'s, the one ``restore --until`` plans in), and when a restore drill last passed.
``check_status`` is the command's flow."""

from agent.status.checking import StatusCheck, check_status
from agent.status.drill_freshness import drill_cell

__all__ = ["StatusCheck", "check_status", "drill_cell"]
