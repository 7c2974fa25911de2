"""The option table: every setting's environment name, CLI flag, help text and section, in one place.

The CLI flags (``agent.commands.options``), the merge of environment and flags (``ConfigValues``) and
the variables a dispatched Job receives (``shared.k8s.job_settings``) are all derived from ``OPTIONS``,
so the three can never drift.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

DEFAULT_LOCAL_DIR = "./backups"
# Set to 1 to let `restore` load into a server that already holds user databases (same as --yes).
RESTORE_YES_ENV = "MARIADB_HA_RESTORE_YES"


@dataclass(frozen=True)
class Option:
    env: str
    flag: str | None  # None: environment only (a secret on argv is visible in /proc/*/cmdline)
    help: str
    section: str  # the loader that reads it: destination, source, format, retry, retention, run, restore,
    #               reporting (shared/reporting), status, binlog
    to_job: bool = False  # the dispatcher passes it on to the backup Job's environment


OPTIONS: tuple[Option, ...] = (
    Option("CLOUD_PROVIDER", "--provider", "where backups go: aws | gcp | azure | local", "destination", True),
    Option("S3_BUCKET", "--s3-bucket", "S3 bucket (provider aws)", "destination", True),
    Option("AWS_REGION", "--aws-region", "S3 region (provider aws)", "destination", True),
    Option("GCS_BUCKET", "--gcs-bucket", "GCS bucket (provider gcp)", "destination", True),
    Option("AZURE_STORAGE_CONTAINER", "--azure-container", "Blob container (provider azure)", "destination", True),
    Option("AZURE_STORAGE_ACCOUNT", "--azure-account", "storage account name (provider azure)", "destination", True),
    Option("LOCAL_BACKUP_DIR", "--local-dir",
           f"directory used as the bucket (provider local, default {DEFAULT_LOCAL_DIR})", "destination"),
    Option("BACKUP_URL", "--url", "full destination, overrides the provider settings: s3:// gs:// azblob:// file://",
           "destination", True),
    Option("BACKUP_PREFIX", "--prefix", "key prefix (default mariadb-ha-backup/<namespace>/<service>)",
           "destination", True),
    Option("BACKUP_FORMAT", "--format", "tar.gz (default) | sql.gz | sql.zst", "format", True),
    Option("BACKUP_DUMP_THREADS", "--dump-threads",
           "mariadb-dump sessions sharing one snapshot (default: the CPU count, at most 8; 1: the seed's single "
           "dump, e.g. on a Galera cluster that must never see its commits paused for milliseconds)", "run", True),
    Option("CELL_DEFAULT_NAMESPACE", "--namespace", "namespace of the MariaDB Service and its Secret", "source"),
    Option("MARIADB_HA_SERVICE_NAME", "--service", "MariaDB Service name (the host to dump)", "source"),
    Option("MARIADB_HA_SECRET_NAME", "--secret", "Secret holding key root-password", "source"),
    Option("MARIADB_HOST", "--host", "host override (default: the service name)", "source"),
    Option("MARIADB_PORT", "--port", "port (default 3306)", "source"),
    Option("MARIADB_USER", "--user", "user (default root)", "source"),
    Option("MARIADB_PASSWORD", None, "the password (environment only: never a flag)", "source"),
    Option("MARIADB_PASSWORD_FILE", "--password-file", "file holding the password (instead of the Secret)", "source"),
    Option("BACKUP_KEEP_LAST", "--keep-last", "retention: keep this many newest backups", "retention", True),
    Option("BACKUP_MAX_AGE_DAYS", "--max-age-days", "retention: delete backups older than this", "retention", True),
    Option("BACKUP_TMPDIR", "--tmp-dir", "where the run's private spool directory is made (default: system temp)",
           "run"),
    Option("BACKUP_TMPDIR_BYTES", "--tmp-dir-bytes",
           "bytes the temp dir may hold (the Job sets its spool emptyDir's sizeLimit); a parallel dump that could "
           "need more runs as one session", "run"),
    Option("BACKUP_RETRY_SECONDS", "--retry-seconds",
           "total time budget for retrying the database connection, the dump and every storage call (default 600)",
           "retry", True),
    Option("BACKUP_RETRY_ATTEMPTS", "--retry-attempts",
           "attempts for the database connection, the dump and every storage call (default 5)", "retry", True),
    Option(RESTORE_YES_ENV, None, "1: restore even into a server that has user databases", "restore"),
    Option("MARIADB_HA_RESTORE_ACCOUNTS", "--accounts",
           "restore (default): create the backup's users and roles the target lacks, with their grants; "
           "keep: leave the target's accounts alone", "restore"),
    # Reporting after every backup run (shared/reporting: its own loaders; never fails a backup).
    Option("BACKUP_METRICS_PUSHGATEWAY", "--metrics-pushgateway", "push run metrics to this Pushgateway URL",
           "reporting", True),
    # Not passed to Jobs: a textfile only helps where node_exporter reads it (a laptop, a VM, a hostPath).
    Option("BACKUP_METRICS_TEXTFILE", "--metrics-textfile", "write run metrics to this textfile (.prom)",
           "reporting"),
    Option("BACKUP_NOTIFY_URL", "--notify-url", "POST a JSON summary here on success, to URL/fail on failure",
           "reporting", True),
    Option("BACKUP_MAX_AGE", "--max-age", "status: stale past this (90s, 30m, 26h, 7d; default 26h)", "status"),
    Option("BINLOG_UPLOAD_SECONDS", "--binlog-upload-seconds",
           "archive-binlogs --follow: a commit is in the bucket within this many seconds (default 10)", "binlog"),
    Option("BINLOG_SERVER_ID", "--binlog-server-id",
           "archive-binlogs: replication server id (default: derived from the prefix plus a random part)", "binlog"),
    Option("BINLOG_SOURCES", "--binlog-sources",
           "archive-binlogs: nodes to follow, host[:port],... (default: the host; Galera: list every node)", "binlog"),
    # Loaded by shared.encryption (load_encryption_settings / load_decryption_settings) and
    # shared.storage.object_lock (load_lock_settings). Recipients are public keys; an identity is never
    # passed to a backup Job (the backup needs none).
    Option("BACKUP_ENCRYPT_RECIPIENTS", "--encrypt-recipients",
           "encrypt artifacts to these age public keys (age1..., comma-separated)", "encryption", True),
    Option("BACKUP_ENCRYPT_RECIPIENTS_FILE", "--encrypt-recipients-file",
           "file of age public keys, one a line (as age -R)", "encryption"),
    Option("BACKUP_DECRYPT_IDENTITY_FILE", "--identity-file",
           "age identity file to read encrypted backups (verify, restore, drill)", "decryption"),
    Option("BACKUP_DECRYPT_IDENTITY_SECRET", "--identity-secret",
           "Secret (in CELL_DEFAULT_NAMESPACE) whose key age-identity holds the age identity", "decryption"),
    Option("BACKUP_LOCK_DAYS", "--lock-days",
           "object lock: retain every object of a backup until its start + DAYS", "lock", True),
    Option("BACKUP_LOCK_MODE", "--lock-mode", "object lock mode: GOVERNANCE (default) | COMPLIANCE", "lock", True),
)


@dataclass(frozen=True)
class ConfigValues(Mapping[str, str]):
    """The settings as given: environment values overridden by CLI flags, keyed by environment name.

    Built once per command (``merge``); every section loader reads from it and nothing else. Unset
    and empty values are absent, except for environment-only options, where an empty value is a
    value (an empty ``MARIADB_PASSWORD`` is a valid password).
    """

    given: Mapping[str, str]

    @classmethod
    def merge(cls, env: Mapping[str, str], flags: Mapping[str, str | None] | None = None) -> ConfigValues:
        given = {o.env: v for o in OPTIONS if (v := env.get(o.env)) is not None and (v or o.flag is None)}
        given.update({name: v for name, v in (flags or {}).items() if v})
        return cls(given)

    def __getitem__(self, name: str) -> str:
        return self.given[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.given)

    def __len__(self) -> int:
        return len(self.given)
