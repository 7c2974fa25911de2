"""``status``: how fresh the newest complete backup is, and how far the archive can restore (the window
is ``agent.pitr``'s, the one ``restore --until`` plans in)."""

from agent.status.freshness import DEFAULT_MAX_AGE, OK, assess, parse_duration
from agent.status.report import pitr_text, status_json, status_text

__all__ = ["DEFAULT_MAX_AGE", "OK", "assess", "parse_duration", "pitr_text", "status_json", "status_text"]
