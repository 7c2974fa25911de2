"""A backup run: claim an id, dump (with row evidence and fidelity checks), compress, [encrypt],
hash and upload the artifact, write the manifest last, report metrics. ``run`` is the flow,
``pipeline`` the streaming producers and upload, ``fidelity``/``checks``/``evidence`` what the
manifest says about the dump, ``reporting`` the metrics and notifications."""

from agent.backup.physical import run_physical_backup
from agent.backup.reporting import reported_run, reporting_settings_from
from agent.backup.run import BackupResult, backup_summary, run_backup

__all__ = ["BackupResult", "backup_summary", "reported_run", "reporting_settings_from", "run_backup",
           "run_physical_backup"]
