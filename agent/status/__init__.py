"""``status``: how fresh the newest complete backup is, how far the archive can restore (the window
is ``agent.pitr``'s, the one ``restore --until`` plans in), and when a restore drill last passed."""

from agent.status.drill_freshness import assess_drills, drill_cell, drill_status_json, drill_status_text
from agent.status.freshness import DEFAULT_MAX_AGE, OK, assess, parse_duration
from agent.status.report import pitr_text, status_json, status_text

__all__ = ["DEFAULT_MAX_AGE", "OK", "assess", "assess_drills", "drill_cell", "drill_status_json", "drill_status_text",
           "parse_duration", "pitr_text", "status_json", "status_text"]
