"""``status``: how fresh the newest complete backup is, and how far the archive can restore (the window
is ``agent.pitr``'s, the one ``restore --until`` plans in)."""

from agent.status.freshness import DEFAULT_MAX_AGE, OK, assess
from agent.status.report import pitr_text, status_json, status_text
from shared.config.parsing import parse_duration  # status's --max-age, one parser for durations

__all__ = ["DEFAULT_MAX_AGE", "OK", "assess", "parse_duration", "pitr_text", "status_json", "status_text"]
