"""Keep-last / max-age pruning of backups, and of the binlog segments no kept backup needs."""

from agent.retention.backups import Removal, apply_retention, prune

__all__ = ["Removal", "apply_retention", "prune"]
