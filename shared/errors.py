"""Every exit code the tool uses, and the two kinds of failure every entry point must tell apart.

A ``BadInputError`` means retrying cannot help (bad configuration, credentials, a missing Secret or
bucket): exit 2, one line on stderr, nothing written. Kubernetes' podFailurePolicy turns exit 2 into
FailJob so a bad config is not retried by the Job controller either. Everything else that escapes
the retries is a ``BackupFailedError`` (exit 1). Specific errors subclass these where they are raised.
"""

EXIT_OK = 0
EXIT_FAILED = 1  # the run failed (after its retries); status: the newest backup is too old or missing
EXIT_BAD_INPUT = 2  # bad configuration, flags, credentials or input: retrying cannot help
EXIT_ALREADY_RUNNING = 3  # another backup of this target holds the lock
EXIT_GAP = 4  # archive-binlogs (without --follow) recorded a gap in the binlog archive
EXIT_SIGNAL_BASE = 128  # 128+N: stopped by signal N, after cleaning up
EXIT_INTERRUPTED = EXIT_SIGNAL_BASE + 2  # Ctrl-C before the signal handlers were installed (SIGINT = 2)
# Exit codes after which another attempt cannot help: the backup Job's podFailurePolicy ends the Job at once.
NO_RETRY_EXIT_CODES = (EXIT_BAD_INPUT, EXIT_ALREADY_RUNNING)


def signal_exit_code(signum: int) -> int:
    return EXIT_SIGNAL_BASE + signum


class ToolError(Exception):
    """Base of the errors this tool raises on purpose; ``str()`` is safe to show a user."""

    exit_code = EXIT_FAILED


class BadInputError(ToolError):
    exit_code = EXIT_BAD_INPUT


class BackupFailedError(ToolError):
    exit_code = EXIT_FAILED


class VerifyFailedError(BackupFailedError):
    """A stored artifact does not match its records (SHA1, sizes, chain); ``str()`` lists every difference."""


class AlreadyRunningError(ToolError):
    exit_code = EXIT_ALREADY_RUNNING


class TerminatedError(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM/SIGINT arrives.

    It subclasses KeyboardInterrupt on purpose: libraries such as s3transfer treat that as "cancel
    and clean up" (abort the multipart upload), and ``except Exception`` blocks do not swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum
