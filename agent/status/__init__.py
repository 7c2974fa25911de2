"""``status``: how fresh the newest complete backup is, and how far the archive can restore (the window
is ``agent.pitr``'s, the one ``restore --until`` plans in). ``check_status`` is the command's flow."""

from agent.status.checking import StatusCheck, check_status

__all__ = ["StatusCheck", "check_status"]
