"""The option table: every setting's environment name, CLI flag, help text, section and the commands
that read it, in one place.

The CLI flags (``agent.commands.options``: each command shows only the flags it reads), the merge of
environment and flags (``ConfigValues``), the variables a dispatched Job receives
(``shared.k8s.job_settings``) and docs/CONFIGURATION.md (``scripts/config-reference``) are all derived
from ``OPTIONS``, so they can never drift. Environment variables stay global: one env file serves
every command, and a command ignores the variables it does not read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

DEFAULT_LOCAL_DIR = "./backups"
# Set to 1 to let `restore` load into a server that already holds user databases (same as --yes).
RESTORE_YES_ENV = "MARIADB_HA_RESTORE_YES"


# The commands that take configuration (``dispatch`` reads only its own environment: shared.k8s).
BACKUP, LIST, VERIFY, RESTORE, PRUNE, STATUS, ARCHIVE, DRILL = (
    "backup", "list", "verify", "restore", "prune", "status", "archive-binlogs", "drill")
COMMANDS = (BACKUP, LIST, VERIFY, RESTORE, PRUNE, STATUS, ARCHIVE, DRILL)
_BUCKET = COMMANDS  # every one opens the bucket (destination, retries)
_SERVER = (BACKUP, RESTORE, ARCHIVE)  # the ones that connect to MariaDB
_WRITERS = (BACKUP, ARCHIVE)  # the ones that write artifacts: encryption, metrics
_READERS = (VERIFY, RESTORE, DRILL)  # the ones that read artifacts' content: decryption
_REPORTERS = (*_WRITERS, DRILL)  # the ones that publish metrics after a run (the drill: its own gauges)


@dataclass(frozen=True)
class Option:
    env: str
    flag: str | None  # None: environment only (a secret on argv is visible in /proc/*/cmdline)
    help: str
    section: str  # the loader that reads it: destination, source, format, method, retry, retention, run,
    #               restore, reporting (shared/reporting), status, binlog, encryption, decryption, lock, drill
    commands: tuple[str, ...]  # the commands that read it; only they show (and accept) its flag
    to_job: bool = False  # the dispatcher passes it on to the backup Job's environment
    details: str = ""  # more than --help has room for; docs/CONFIGURATION.md shows it after ``help``


OPTIONS: tuple[Option, ...] = (
    Option("CLOUD_PROVIDER", "--provider", "where backups go: aws | gcp | azure | local", "destination", _BUCKET, True),
    Option("S3_BUCKET", "--s3-bucket", "S3 bucket (provider aws)", "destination", _BUCKET, True),
    Option("AWS_REGION", "--aws-region", "S3 region (provider aws)", "destination", _BUCKET, True),
    Option("GCS_BUCKET", "--gcs-bucket", "GCS bucket (provider gcp)", "destination", _BUCKET, True),
    Option("AZURE_STORAGE_CONTAINER", "--azure-container", "Blob container (provider azure)", "destination", _BUCKET,
           True),
    Option("AZURE_STORAGE_ACCOUNT", "--azure-account", "storage account name (provider azure)", "destination",
           _BUCKET, True,
           details="Or `AZURE_STORAGE_CONNECTION_STRING` (the SDK's own variable)."),
    Option("LOCAL_BACKUP_DIR", "--local-dir",
           f"directory used as the bucket (provider local, default {DEFAULT_LOCAL_DIR})", "destination", _BUCKET,
           details="The directory must exist."),
    Option("BACKUP_URL", "--url", "full destination, overrides the provider settings: s3:// gs:// azblob:// file://",
           "destination", _BUCKET, True,
           details=("`s3://bucket/prefix?region=..&endpoint=..`, `gs://bucket/prefix`, "
                    "`azblob://container/prefix`, `file:///path`.")),
    Option("BACKUP_PREFIX", "--prefix", "key prefix (default mariadb-ha-backup/<namespace>/<service>)",
           "destination", _BUCKET, True,
           details="Default: the `BACKUP_URL` path if any, else `mariadb-ha-backup/<namespace>/<service>`."),
    Option("BACKUP_FORMAT", "--format", "tar.gz (default) | sql.gz | sql.zst (logical backups)", "format", (BACKUP,),
           True, details="`tar.gz` is the seed's; `sql.gz` and `sql.zst` stream with no temp disk."),
    Option("BACKUP_DUMP_THREADS", "--dump-threads",
           "mariadb-dump sessions sharing one snapshot (default: 1 up to 2 usable CPUs, else CPUs - 1, at "
           "most 4; 1 on Galera)",
           "run", (BACKUP,), True,
           details=("Usable CPUs: the affinity mask capped by the cgroup CPU quota (a Job's `limits.cpu`, rounded "
                    "down); on 2 cores 2 sessions were not measured faster than 1. With more than one, commits on "
                    "the server pause for milliseconds while the sessions "
                    "open their snapshots (logged as `commit_block`); large tables are split among the sessions by "
                    "key; the file is the same single `all-databases-dump.sql`. No temp disk: the sessions' output "
                    "waits in 16 MiB of memory. `1` is the seed's single dump. On Galera only when set, and only "
                    "with a binary log; "
                    "per cluster as `\"dump_threads\"` in `DISPATCH_TARGETS`. See docs/PERFORMANCE.md.")),
    Option("BACKUP_METHOD", "--method",
           "logical (default): mariadb-dump SQL | physical: mariadb-backup copy of the data directory", "method",
           (BACKUP,), True),
    Option("BACKUP_FULL_EVERY", "--full-every",
           "physical: a full backup when the newest full is older than this (26h, 7d), an incremental otherwise "
           "(default: always full)", "method", (BACKUP,), True),
    Option("BACKUP_COPY_THREADS", "--copy-threads",
           "physical: files mariadb-backup copies at once (its --parallel; default 2)", "method", (BACKUP,), True),
    Option("MARIADB_DATADIR", "--source-datadir",
           "physical: the server's data directory as mounted where the agent runs (default: its @@datadir)",
           "method", (BACKUP,)),
    # Namespace and service also name the default prefix, so every command reads them.
    Option("CELL_DEFAULT_NAMESPACE", "--namespace", "namespace of the MariaDB Service and its Secret", "source",
           _BUCKET,
           details="Every command reads it: it names the default prefix."),
    Option("MARIADB_HA_SERVICE_NAME", "--service", "MariaDB Service name (the host to dump)", "source", _BUCKET,
           details="Every command reads it: it names the default prefix. The backup connects to it on port 3306."),
    Option("MARIADB_HA_SECRET_NAME", "--secret", "Secret holding the root password", "source", _SERVER),
    Option("MARIADB_HA_SECRET_KEY", "--secret-key",
           "key of the password in that Secret (default root-password; Bitnami: mariadb-root-password)", "source",
           _SERVER, details="`DISPATCH_TARGETS` entries may carry their own `secret_key`; the dispatcher passes it "
                            "to the Job when it is not the default."),
    Option("MARIADB_HOST", "--host", "host override (default: the service name)", "source", _SERVER),
    Option("MARIADB_PORT", "--port", "port (default 3306)", "source", _SERVER),
    Option("MARIADB_USER", "--user", "user (default root)", "source", _SERVER),
    Option("MARIADB_PASSWORD", None, "the password (environment only: never a flag)", "source", _SERVER,
           details=("Deliberately no flag: argv is visible to every user in `/proc`. Setting it together with "
                    "`MARIADB_PASSWORD_FILE` is refused (exit 2, one line naming both).")),
    Option("MARIADB_PASSWORD_FILE", "--password-file", "file holding the password (instead of the Secret)", "source",
           _SERVER),
    Option("BACKUP_KEEP_LAST", "--keep-last", "retention: keep this many newest backups", "retention",
           (BACKUP, PRUNE), True,
           details="Applied after a successful backup, and by `prune`."),
    Option("BACKUP_MAX_AGE_DAYS", "--max-age-days", "retention: delete backups older than this", "retention",
           (BACKUP, PRUNE), True,
           details="Applied after a successful backup, and by `prune` (whose own `--max-age DAYS` sets it too)."),
    Option("BACKUP_TMPDIR", "--tmp-dir", "where the run's private spool directory is made (default: system temp)",
           "run", (BACKUP, VERIFY, RESTORE, ARCHIVE, DRILL),
           details=("The run's private 0700 directory (the client option file) is made here (the Job's "
                    "`emptyDir`); an age-encrypted `tar.gz` spools its compressed dump there. A parallel dump holds "
                    "its sessions' output in memory (bounded), not here.")),
    Option("BACKUP_RETRY_SECONDS", "--retry-seconds",
           "total time budget for retrying the database connection, the dump and every storage call (default 600)",
           "retry", _BUCKET, True,
           details=("Exponential backoff with jitter, on connection-level and transient storage failures only;"
                    " never on bad configuration, bad credentials or not-found.")),
    Option("BACKUP_RETRY_ATTEMPTS", "--retry-attempts",
           "attempts for the database connection, the dump and every storage call (default 5)", "retry", _BUCKET,
           True),
    Option(RESTORE_YES_ENV, None, "1: restore even into a server that has user databases", "restore", (RESTORE,),
           details="The same as `restore --yes`."),
    Option("MARIADB_HA_RESTORE_ACCOUNTS", "--accounts",
           "restore (default): create the backup's users and roles the target lacks, with their grants; "
           "keep: leave the target's accounts alone", "restore", (RESTORE,)),
    # Reporting after every backup run (shared/reporting: its own loaders; never fails a backup). The
    # archiver reports its own metrics (agent/pitr/archiver/metrics.py) to the same places.
    Option("BACKUP_METRICS_PUSHGATEWAY", "--metrics-pushgateway", "push run metrics to this Pushgateway URL",
           "reporting", _REPORTERS, True,
           details=("Gauges: last success, last status, duration, sizes (the archiver: lag, gaps); see "
                    "docs/OPERATIONS.md.")),
    # Not passed to Jobs: a textfile only helps where node_exporter reads it (a laptop, a VM, a hostPath).
    Option("BACKUP_METRICS_TEXTFILE", "--metrics-textfile", "write run metrics to this textfile (.prom)",
           "reporting", _REPORTERS,
           details="For node_exporter's textfile collector (`*.prom`)."),
    Option("BACKUP_NOTIFY_URL", "--notify-url", "POST a JSON summary here on success, to URL/fail on failure",
           "reporting", (BACKUP, DRILL), True,
           details="healthchecks.io style; never fails a backup."),
    Option("BACKUP_MAX_AGE", "--max-age", "status: stale past this (90s, 30m, 26h, 7d; default 26h)", "status",
           (STATUS,)),
    # Restore drills (agent/drill): where the drill restores, and what status and the alerts compare against.
    Option("DRILL_SERVER", "--drill-server",
           "host:port of an empty MariaDB server to restore into (default: start a throwaway mariadbd here)",
           "drill", (DRILL,),
           details=("The drill Job's second container (127.0.0.1:3306); the drill refuses a server that holds user "
                    "databases and sets a random root password before restoring: see docs/DRILLS.md.")),
    Option("DRILL_POINT", None, "1: drill the newest archived second instead of a backup", "drill", (DRILL,),
           details="The same as `drill --point`; the drill Job sets it (chart: `drill.pointInTime`)."),
    Option("DRILL_RECOVERY_TARGET_SECONDS", "--recovery-target-seconds",
           "the target recovery time, published beside the measured one for the alert", "drill", (DRILL,)),
    Option("DRILL_MAX_AGE", "--max-drill-age",
           "exit 1 unless a drill passed within this (90s, 30m, 26h, 8d; default: not checked)", "status", (STATUS,)),
    Option("BINLOG_UPLOAD_SECONDS", "--binlog-upload-seconds",
           "archive-binlogs --follow: a commit is in the bucket within this many seconds (default 10)", "binlog",
           (ARCHIVE,),
           details="1-3600."),
    Option("BINLOG_ROLLUP_RECORDS", "--binlog-rollup-records",
           "archive-binlogs: at most this many index records per rollup; one also closes every hour (default 1000)",
           "binlog", (ARCHIVE,)),
    Option("BINLOG_COMPACT", "--binlog-compact",
           "archive-binlogs: after each rollup, join its segments of one binlog file into one segment, so a "
           "restore reads fewer objects: on | off (default off)", "binlog", (ARCHIVE,)),
    Option("BINLOG_SERVER_ID", "--binlog-server-id",
           "archive-binlogs: replication server id (default: derived from the prefix plus a random part)", "binlog",
           (ARCHIVE,),
           details="Default: 2^31 + a part derived from the prefix + a random part per process."),
    Option("BINLOG_SOURCES", "--binlog-sources",
           "archive-binlogs: nodes to follow, host[:port],... (default: the host; Galera: list every node)", "binlog",
           (ARCHIVE,),
           details="In order of preference."),
    Option("BINLOG_SOURCES_SERVICE", "--binlog-sources-service",
           "archive-binlogs: follow the pods behind this Service (in CELL_DEFAULT_NAMESPACE), read through the "
           "Kubernetes API, instead of a BINLOG_SOURCES list", "binlog", (ARCHIVE,),
           details="Every pod it selects, by ordinal, as `<pod>.<subdomain>.<namespace>.svc`; read when the archiver "
                   "starts. Its Role then needs `get` on that Service and `list` on pods (docs/PITR.md)."),
    # Loaded by shared.encryption (load_encryption_settings / load_decryption_settings) and
    # shared.storage.object_lock (load_lock_settings). Recipients are public keys; an identity is never
    # passed to a backup Job (the backup needs none).
    Option("BACKUP_ENCRYPT_RECIPIENTS", "--encrypt-recipients",
           "encrypt artifacts to these age public keys (age1..., comma-separated)", "encryption", _WRITERS, True,
           details="Artifacts are stored as `<artifact>.age`; see docs/SECURITY.md."),
    Option("BACKUP_ENCRYPT_RECIPIENTS_FILE", "--encrypt-recipients-file",
           "file of age public keys, one a line (as age -R)", "encryption", _WRITERS),
    Option("BACKUP_DECRYPT_IDENTITY_FILE", "--identity-file",
           "age identity file to read encrypted backups (verify, restore, drill)", "decryption", _READERS,
           details=("Without one, `verify` checks what needs no key; `restore` and the drills refuse an "
                    "encrypted backup (exit 2).")),
    Option("BACKUP_DECRYPT_IDENTITY_SECRET", "--identity-secret",
           "Secret (in CELL_DEFAULT_NAMESPACE) whose key age-identity holds the age identity", "decryption",
           _READERS),
    Option("BACKUP_LOCK_DAYS", "--lock-days",
           "object lock: retain every object of a backup until its start + DAYS (archive-binlogs: every "
           "segment, record and rollup until it was written + DAYS)", "lock", (BACKUP, ARCHIVE), True,
           details="Exit 2 if the bucket cannot lock objects; see docs/SECURITY.md."),
    Option("BACKUP_LOCK_MODE", "--lock-mode", "object lock mode: GOVERNANCE (default) | COMPLIANCE", "lock",
           (BACKUP, ARCHIVE), True),
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
