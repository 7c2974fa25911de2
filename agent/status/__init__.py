"""``status``: how fresh the newest complete backup is, and how far the archive can restore."""

from agent.status.freshness import DEFAULT_MAX_AGE, OK, assess, parse_duration
from agent.status.pitr_window import read_pitr_window
from agent.status.report import pitr_json, pitr_text, status_json, status_text

__all__ = ["DEFAULT_MAX_AGE", "OK", "assess", "parse_duration", "pitr_json", "pitr_text", "read_pitr_window",
           "status_json", "status_text"]
