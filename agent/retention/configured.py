"""``prune`` from the run's configuration: the keep policy (flags or ``BACKUP_KEEP_LAST`` /
``BACKUP_MAX_AGE_DAYS``), the bucket, then ``prune``; what it prints for a person; and the same policy
applied after a successful backup."""

from __future__ import annotations

from agent.common.bucket import open_bucket
from agent.retention.backups import Removal, apply_retention, prune
from shared.config import ConfigValues, Settings, load_destination, load_keep_policy, load_retry


def prune_configured(config: ConfigValues, *, dry_run: bool) -> list[Removal]:
    policy = load_keep_policy(config)
    bucket = open_bucket(load_destination(config), load_retry(config))
    return prune(bucket.storage, prefix=bucket.prefix, keep_last=policy.keep_last, max_age_days=policy.max_age_days,
                 dry_run=dry_run)


def retain_after_backup(settings: Settings) -> list[str]:
    """The ids a successful backup's own retention pass deleted: only when a policy is configured, its
    storage calls retried like ``prune``'s."""
    if not settings.keep.configured:
        return []
    return apply_retention(open_bucket(settings.destination, settings.retry).storage,
                           prefix=settings.destination.prefix, keep_last=settings.keep.keep_last,
                           max_age_days=settings.keep.max_age_days)


def prune_summary(removals: list[Removal], *, dry_run: bool) -> str:
    if not removals:
        return "nothing to delete"
    verb = "would delete" if dry_run else "deleted"
    return "\n".join(
        f"kept {r.backup_id} ({r.state}, {r.reason}): object lock retains it until {r.retained_until}"
        if r.retained_until else f"{verb} {r.backup_id} ({r.state}, {r.reason}, {len(r.keys)} object(s))"
        for r in removals)
