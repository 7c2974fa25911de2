"""Keep-last / max-age pruning of backups, and of the binlog segments no kept backup needs.
``prune_configured`` is the ``prune`` command's flow; ``apply_retention`` runs after a backup."""

from agent.retention.backups import Removal, apply_retention, prune
from agent.retention.configured import prune_configured, prune_summary, retain_after_backup

__all__ = ["Removal", "apply_retention", "prune", "prune_configured", "prune_summary", "retain_after_backup"]
